package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunWithoutCredentials: every configuration attribute is optional,
// so `run` with no Defender credentials starts (NATS, resources, /readyz),
// says loudly what is missing, turns each alert into a retries_exhausted
// dead letter naming the cause (replayable once fixed), and drains on
// SIGTERM with exit 0.
func TestRunWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv := startNATS(t, natsOptions(-1, t.TempDir()))
	cfg := writeFile(t, "nocreds.hcl", fmt.Sprintf(`nats { url = %q }
input {
  ack_wait    = "5s"
  max_deliver = 2
}
retry {
  base_delay = "10ms"
  max_delay  = "50ms"
}
http { listen = "" }
`, srv.ClientURL()))
	p := startProc(t, "worker", "run", "-config", cfg)
	js := connectJS(t, srv.ClientURL())
	waitFor(t, 30*time.Second, "the worker to create its resources", func() bool {
		return streamCount(js, "ENRICHER_DLQ") >= 0 && strings.Contains(p.stderr.String(), "consumer bound")
	})
	publishBodies(t, js, "636688558380765161_2136280442")
	waitFor(t, 30*time.Second, "one dead letter", func() bool { return streamCount(js, "ENRICHER_DLQ") == 1 })
	dl := readStream(t, js, "ENRICHER_DLQ")[0]
	if c := dl.Header.Get("Enricher-Error-Class"); c != "retries_exhausted" {
		t.Errorf("class %q, want retries_exhausted", c)
	}
	if r := dl.Header.Get("Enricher-Error"); !strings.Contains(r, "credentials are not configured") || !strings.Contains(r, "client_id") {
		t.Errorf("reason %q does not say which credential is missing", r)
	}
	if n := streamCount(js, "ENRICHED"); n != 0 {
		t.Errorf("%d output events, want 0", n)
	}
	if !strings.Contains(p.stderr.String(), "the Defender API cannot be called") {
		t.Errorf("no start-up error line about the credentials:\n%s", lastLines(p.stderr.String(), 20))
	}
	p.signal(syscall.SIGTERM)
	code, ok := p.wait(30 * time.Second)
	if !ok || code != 0 {
		t.Errorf("exit %d (exited %v), want 0 after SIGTERM", code, ok)
	}
}
