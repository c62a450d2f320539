package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// TestRunAgainstSimulatorWithoutTokenURL: pointed at the simulator with
// base_url alone, `run` takes its tokens from the simulator too (the
// default token URL is on login.microsoftonline.com only for Microsoft
// hosts) and enriches.
func TestRunAgainstSimulatorWithoutTokenURL(t *testing.T) {
	t.Parallel()
	srv := startNATS(t, natsOptions(-1, t.TempDir()))
	api := startSim(t, sim.Options{Alerts: 10})
	cfg := writeFile(t, "sim.hcl", fmt.Sprintf(`nats { url = %q }
defender {
  base_url      = %q
  tenant_id     = "contoso"
  client_id     = %q
  client_secret = %q
}
http { listen = "" }
`, srv.ClientURL(), api.URL, testClientID, testClientSecret))
	startProc(t, "worker", "run", "-config", cfg)
	js := connectJS(t, srv.ClientURL())
	id := api.AlertIDs(1)[0]
	waitFor(t, 30*time.Second, "the input stream", func() bool { return streamCount(js, "ALERTS") >= 0 })
	publishBodies(t, js, id)
	waitFor(t, 30*time.Second, "one output event", func() bool { return streamCount(js, "ENRICHED") == 1 })
	ev := readStream(t, js, "ENRICHED")[0]
	if got := ev.Header.Get("Enricher-Alert-Id"); got != id {
		t.Errorf("event for %q, want %q", got, id)
	}
	if st := api.Stats(); st.TokensIssued == 0 || st.Requests != 1 {
		t.Errorf("simulator issued %d tokens and saw %d API calls, want >0 and 1", st.TokensIssued, st.Requests)
	}
}
