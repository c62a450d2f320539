package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// shutdownBound is what a SIGTERM'd worker may take to exit: the 15 s
// shutdown grace for in-flight messages plus the connection drain.
const shutdownBound = 25 * time.Second

// TestSIGTERMDuringBacklog: two workers share a backlog of 200 alerts
// behind a slow API; one gets SIGTERM mid-run. It exits 0 within the
// shutdown bound after finishing its in-flight messages (no alert is sent
// to the API twice), the other worker finishes the backlog, and every alert
// has exactly one output event and no dead letter.
func TestSIGTERMDuringBacklog(t *testing.T) {
	s := startNATS(t, natsOptions(-1, t.TempDir()))
	js := connectJS(t, s.ClientURL())
	// 2 workers x 2 slots at 40 ms a call: about 100 alerts a second, so
	// the backlog lasts about 2 s.
	api := startSim(t, sim.Options{Alerts: 200, Latency: 40 * time.Millisecond})
	cfg := workerConfig{NATSURL: s.ClientURL(), Sim: api, Concurrency: 2}.write(t)
	applyConfig(t, cfg)
	ids := api.AlertIDs(200)
	publishBodies(t, js, ids...)

	a := startProc(t, "worker A", "run", "-config", cfg)
	b := startProc(t, "worker B", "run", "-config", cfg)
	waitFor(t, 30*time.Second, "20 output events", func() bool { return streamCount(js, outputStream) >= 20 })
	a.signal(syscall.SIGTERM)
	signalled := time.Now()
	if n := streamCount(js, outputStream); n >= len(ids) {
		t.Fatalf("the backlog was gone (%d events) when SIGTERM was sent; the test proves nothing", n)
	}
	code, ok := a.wait(shutdownBound)
	if !ok {
		t.Fatalf("worker A still running %s after SIGTERM", shutdownBound)
	}
	took := a.exitedAt.Sub(signalled)
	t.Logf("worker A exited %d, %s after SIGTERM", code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("worker A exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(a.stderr.String(), "drained") {
		t.Errorf("worker A did not log its drain:\n%s", lastLines(a.stderr.String(), 10))
	}

	waitSettled(t, js, 60*time.Second, b)
	outs := readStream(t, js, outputStream)
	checkExactlyOnce(t, outs, ids)
	if n := streamCount(js, dlqStream); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
	// Worker A finished what it had started instead of handing it back:
	// no alert was sent to the API twice.
	if n := api.Stats().Requests; n != len(ids) {
		t.Errorf("%d API calls for %d alerts, want one each", n, len(ids))
	}
	// Both workers did part of the work: A was stopped mid-run.
	byWorker := map[string]int{}
	for _, m := range outs {
		var ev struct {
			Enrichment struct {
				Worker string `json:"worker"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("output event: %v", err)
		}
		byWorker[ev.Enrichment.Worker]++
	}
	countOf := func(p *proc) int {
		n := 0
		for w, c := range byWorker {
			if strings.HasSuffix(w, "-"+strconv.Itoa(p.pid())) {
				n += c
			}
		}
		return n
	}
	na, nb := countOf(a), countOf(b)
	t.Logf("events by worker A: %d, by worker B: %d", na, nb)
	if na == 0 || nb == 0 || na+nb != len(ids) {
		t.Errorf("events by worker A %d, by worker B %d (of %d): want both to have worked, and no one else", na, nb, len(ids))
	}
	if b.exited() {
		t.Errorf("worker B exited (code %d) though it was not signalled", b.code)
	}
}
