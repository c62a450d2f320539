package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// dlqEntry is one element of `enricher dlq list -format json`.
type dlqEntry struct {
	Sequence    uint64 `json:"sequence"`
	Class       string `json:"class"`
	Reason      string `json:"reason"`
	AlertID     string `json:"alertId"`
	BodyPreview string `json:"bodyPreview"`
}

func dlqListJSON(t *testing.T, cfgPath string) []dlqEntry {
	t.Helper()
	code, out, errOut := runBin(t, 30*time.Second, "dlq", "list", "-config", cfgPath, "-format", "json")
	if code != 0 {
		t.Fatalf("dlq list -format json: exit %d\n%s%s", code, out, errOut)
	}
	var es []dlqEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("dlq list -format json: %v\n%s", err, out)
	}
	return es
}

// TestCLIDLQListInvalidInput: bad inputs published while a worker runs
// become dead letters that `enricher dlq list` shows with class
// invalid_input (text and JSON), while the good input is enriched.
func TestCLIDLQListInvalidInput(t *testing.T) {
	t.Parallel()
	s := startNATS(t, natsOptions(-1, t.TempDir()))
	js := connectJS(t, s.ClientURL())
	api := startSim(t, sim.Options{Alerts: 10})
	cfg := workerConfig{NATSURL: s.ClientURL(), Sim: api}.write(t)
	applyConfig(t, cfg)
	w := startProc(t, "worker", "run", "-config", cfg)

	bad := []string{"a/b", "../x", "%2e%2e", `{"id": 42}`}
	good := api.AlertIDs(1)[0]
	publishBodies(t, js, append(bad, good)...)
	waitSettled(t, js, 60*time.Second, w)
	if n := streamCount(js, outputStream); n != 1 {
		t.Errorf("%d output events, want 1 (the good alert)", n)
	}
	if st := api.Stats(); st.Requests != 1 {
		t.Errorf("%d API calls, want 1: bad inputs must not reach the API", st.Requests)
	}

	code, out, errOut := runBin(t, 30*time.Second, "dlq", "list", "-config", cfg)
	if code != 0 {
		t.Fatalf("dlq list: exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "invalid_input"); n != len(bad) {
		t.Errorf("dlq list shows %d invalid_input rows, want %d:\n%s", n, len(bad), out)
	}
	if !strings.Contains(out, strconv.Itoa(len(bad))+" dead letter(s)") {
		t.Errorf("dlq list does not count %d dead letters:\n%s", len(bad), out)
	}
	es := dlqListJSON(t, cfg)
	if len(es) != len(bad) {
		t.Fatalf("dlq list -format json has %d entries, want %d: %+v", len(es), len(bad), es)
	}
	previews := map[string]bool{}
	for _, e := range es {
		if e.Class != "invalid_input" || e.Reason == "" || e.Sequence == 0 {
			t.Errorf("dead letter %+v, want class invalid_input with a reason and a sequence", e)
		}
		previews[e.BodyPreview] = true
	}
	for _, b := range bad {
		if !previews[b] {
			t.Errorf("no dead letter shows the body %q in bodyPreview: %+v", b, es)
		}
	}
}

// TestCLIDLQReplay: an alert the API rejects (403) becomes an api_rejected
// dead letter; once the fault is gone, `enricher dlq replay -seq N` exits
// 0, the alert ends as an enriched output event and the dead-letter stream
// is empty.
func TestCLIDLQReplay(t *testing.T) {
	t.Parallel()
	s := startNATS(t, natsOptions(-1, t.TempDir()))
	js := connectJS(t, s.ClientURL())
	var fixed atomic.Bool
	api := startSim(t, sim.Options{Alerts: 50, Fault: func(alertID string, _ int) *sim.Fault {
		if !fixed.Load() {
			return &sim.Fault{Status: http.StatusForbidden}
		}
		return nil
	}})
	var alert string
	for _, id := range api.AlertIDs(50) {
		if api.HasUser(id) {
			alert = id
			break
		}
	}
	if alert == "" {
		t.Fatal("no alert with a user in the simulator's data set")
	}
	cfg := workerConfig{NATSURL: s.ClientURL(), Sim: api}.write(t)
	applyConfig(t, cfg)
	w := startProc(t, "worker", "run", "-config", cfg)
	publishBodies(t, js, alert)
	waitSettled(t, js, 60*time.Second, w)

	es := dlqListJSON(t, cfg)
	if len(es) != 1 || es[0].Class != "api_rejected" || es[0].AlertID != alert {
		t.Fatalf("dead letters %+v, want one api_rejected for %s", es, alert)
	}
	if n := streamCount(js, outputStream); n != 0 {
		t.Fatalf("%d output events before the replay, want 0", n)
	}
	if code, out, errOut := runBin(t, 30*time.Second, "dlq", "replay", "-config", cfg, "-seq", "999"); code == 0 {
		t.Errorf("dlq replay of a missing sequence: exit 0, want an error\n%s%s", out, errOut)
	}

	fixed.Store(true)
	seq := strconv.FormatUint(es[0].Sequence, 10)
	if code, out, errOut := runBin(t, 30*time.Second, "dlq", "replay", "-config", cfg, "-seq", seq); code != 0 {
		t.Fatalf("dlq replay -seq %s: exit %d\n%s%s", seq, code, out, errOut)
	}
	waitFor(t, 60*time.Second, "the replayed alert's output event", func() bool { return streamCount(js, outputStream) >= 1 })
	waitSettled(t, js, 60*time.Second, w)
	outs := readStream(t, js, outputStream)
	if len(outs) != 1 || outs[0].Header.Get("Enricher-Alert-Id") != alert || outs[0].Header.Get("Enricher-Status") != "enriched" {
		var got []string
		for _, m := range outs {
			got = append(got, m.Header.Get("Enricher-Alert-Id")+":"+m.Header.Get("Enricher-Status"))
		}
		t.Errorf("output events %v, want one enriched event for %s", got, alert)
	}
	if es := dlqListJSON(t, cfg); len(es) != 0 {
		t.Errorf("dead letters after the replay: %+v, want none", es)
	}
}
