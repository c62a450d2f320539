package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
)

// TestChaos is the process-level chaos test of issue #5: 3 workers, 400
// alerts, the simulator answering 5% of calls with 503; every 1.5 s one
// random worker is SIGKILLed and replaced, and the NATS server is
// restarted once (same port, same store). At the end the input consumer
// has acknowledged everything, and there are 400 output events, one per
// alert (distinct Nats-Msg-Id and alert IDs), and no dead letter.
//
// A quota of 40 calls a second spreads the work over about 10 s, so that
// the kills and the restart happen while work is in flight (asserted).
func TestChaos(t *testing.T) {
	const (
		alerts   = 400
		every    = 1500 * time.Millisecond
		deadline = 120 * time.Second
	)
	port := freePort(t)
	storeDir := t.TempDir()
	srv := startNATS(t, natsOptions(port, storeDir))
	url := srv.ClientURL()
	js := connectJS(t, url)
	api := startSim(t, sim.Options{Alerts: alerts, FailRate: 0.05, Seed: 5, Latency: 2 * time.Millisecond, LatencyJitter: 8 * time.Millisecond})
	cfg := workerConfig{NATSURL: url, Sim: api, AckWait: "2s", MaxDeliver: 20, Concurrency: 8, Limits: []string{"40/1s"}}.write(t)
	applyConfig(t, cfg)
	ids := api.AlertIDs(alerts)
	publishBodies(t, js, ids...)

	started := 0
	startWorker := func() *proc {
		started++
		return startProc(t, fmt.Sprintf("worker %d", started), "run", "-config", cfg)
	}
	workers := []*proc{startWorker(), startWorker(), startWorker()}
	rng := rand.New(rand.NewPCG(2026, 5))
	tick := time.NewTicker(every)
	defer tick.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	end := time.Now().Add(deadline)
	kills, restarted, outputsAtRestart := 0, false, 0
	for settled := false; !settled; {
		select {
		case <-tick.C:
			i := rng.IntN(len(workers))
			workers[i].kill()
			<-workers[i].done
			kills++
			workers[i] = startWorker()
			if kills == 3 && !restarted {
				outputsAtRestart = streamCount(js, outputStream)
				srv.Shutdown()
				srv.WaitForShutdown()
				srv = startNATS(t, natsOptions(port, storeDir))
				restarted = true
				t.Logf("NATS restarted with %d output events stored", outputsAtRestart)
			}
		case <-poll.C:
			var state string
			settled, state = inputSettled(js)
			if time.Now().After(end) {
				t.Fatalf("not settled after %s (%d kills): %s", deadline, kills, state)
			}
			for _, w := range workers {
				if w.exited() {
					t.Fatalf("%s exited by itself (code %d)", w.name, w.code)
				}
			}
		}
	}
	t.Logf("settled after %d kills; %d worker processes started; simulator: %+v", kills, started, api.Stats().ByStatus)
	if !restarted || outputsAtRestart < 0 || outputsAtRestart >= alerts {
		t.Errorf("NATS restart with %d of %d outputs stored (restarted %v): want a restart mid-run", outputsAtRestart, alerts, restarted)
	}
	if kills < 3 {
		t.Errorf("only %d kills before the work was done; want at least 3", kills)
	}
	if api.Stats().ByStatus[503] == 0 {
		t.Error("the simulator answered no 503: the failures were not exercised")
	}
	checkExactlyOnce(t, readStream(t, js, outputStream), ids)
	if n := streamCount(js, dlqStream); n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}
}

// checkExactlyOnce asserts that outputs hold exactly one event per alert
// of want: as many messages as alerts, distinct Nats-Msg-Id headers,
// distinct Enricher-Alert-Id headers, and the same set of alert IDs.
func checkExactlyOnce(t *testing.T, outputs []*jetstream.RawStreamMsg, want []string) {
	t.Helper()
	if len(outputs) != len(want) {
		t.Errorf("%d output events, want %d", len(outputs), len(want))
	}
	msgIDs := map[string]int{}
	alertIDs := map[string]int{}
	for _, m := range outputs {
		msgIDs[m.Header.Get(jetstream.MsgIDHeader)]++
		alertIDs[m.Header.Get("Enricher-Alert-Id")]++
	}
	for id, n := range msgIDs {
		if n > 1 || id == "" {
			t.Errorf("Nats-Msg-Id %q on %d output events", id, n)
		}
	}
	for id, n := range alertIDs {
		if n > 1 {
			t.Errorf("alert %s has %d output events", id, n)
		}
	}
	for _, id := range want {
		if alertIDs[id] == 0 {
			t.Errorf("alert %s has no output event", id)
		}
	}
}
