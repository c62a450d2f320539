package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/enrich/sim"
)

// runningWorker is one Runtime started by startRunning, with a way to stop
// it alone and to see whether Run returned.
type runningWorker struct {
	id     string
	rt     *Runtime
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, valid once done is closed
}

// startRunning starts one runtime with the given ID on e.Cfg. It is stopped
// at cleanup if the test has not stopped it.
func startRunning(t *testing.T, e *testEnv, id string) *runningWorker {
	t.Helper()
	w := startRunningNoFatal(t, e, id)
	if w == nil {
		t.FailNow()
	}
	return w
}

// startRunningNoFatal is startRunning for use off the test goroutine: it
// reports a start failure with Errorf and returns nil.
func startRunningNoFatal(t *testing.T, e *testEnv, id string) *runningWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := zerolog.New(e.log).With().Str("worker", id).Logger()
	rt, err := StartRuntime(ctx, RuntimeOptions{Config: e.Cfg, Logger: log, ID: id, ShutdownGrace: 2 * time.Second})
	if err != nil {
		cancel()
		t.Errorf("start worker %s: %v", id, err)
		return nil
	}
	w := &runningWorker{id: id, rt: rt, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(w.done); w.err = rt.Run(ctx) }()
	t.Cleanup(func() { w.stop(t, 30*time.Second) })
	return w
}

// stop cancels the worker and waits for Run to return.
func (w *runningWorker) stop(t *testing.T, bound time.Duration) {
	t.Helper()
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(bound):
		t.Errorf("worker %s did not stop within %s", w.id, bound)
	}
}

// assertRunning fails the test if the worker's Run has already returned.
func (w *runningWorker) assertRunning(t *testing.T) {
	t.Helper()
	select {
	case <-w.done:
		t.Errorf("worker %s stopped by itself (Run returned %v)", w.id, w.err)
	default:
	}
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1 and releases
// them for a server to bind.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// idBodies turns alert IDs into bare-ID message bodies.
func idBodies(ids []string) [][]byte {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = []byte(id)
	}
	return out
}

// streamCount is the number of messages in a stream, or -1 while the
// stream cannot be read (e.g. during an outage).
func (e *testEnv) streamCount(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	return int(s.CachedInfo().State.Msgs)
}

// waitOutputs waits until the output stream holds at least n events.
func (e *testEnv) waitOutputs(n int, timeout time.Duration) {
	e.t.Helper()
	waitFor(e.t, timeout, fmt.Sprintf("at least %d output events", n), func() bool {
		return e.streamCount(e.Cfg.Output.Stream) >= n
	})
}

// assertOnePerInput checks the promise for a run without dead letters:
// exactly one output event per published input sequence, each carrying the
// Nats-Msg-Id derived from that sequence, and none other.
func assertOnePerInput(t *testing.T, stream string, seqs []uint64, outputs, dead []*jetstream.RawStreamMsg) {
	t.Helper()
	if len(dead) != 0 {
		t.Errorf("got %d dead letters, want 0 (first: %s: %s)", len(dead), dead[0].Header.Get(HeaderErrorClass), dead[0].Header.Get(HeaderError))
	}
	if len(outputs) != len(seqs) {
		t.Errorf("got %d output events, want %d", len(outputs), len(seqs))
	}
	want := make(map[string]bool, len(seqs))
	for _, s := range seqs {
		want[fmt.Sprintf("enr-%s-%d", stream, s)] = true
	}
	seen := map[string]bool{}
	for _, m := range outputs {
		id := m.Header.Get(jetstream.MsgIDHeader)
		switch {
		case seen[id]:
			t.Errorf("duplicate output event %s", id)
		case !want[id]:
			t.Errorf("output event %s matches no published input", id)
		}
		seen[id] = true
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("no output event for input %s", id)
		}
	}
}

// eventWorkers counts output events per enrichment.worker.
func eventWorkers(t *testing.T, outputs []*jetstream.RawStreamMsg) map[string]int {
	t.Helper()
	by := map[string]int{}
	for _, m := range outputs {
		var ev struct {
			Enrichment struct {
				Worker string `json:"worker"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("unparsable event %s: %v", m.Data, err)
		}
		by[ev.Enrichment.Worker]++
	}
	return by
}

// TestScaleUpAndDownMidRun: one worker starts on a backlog of 300 alerts,
// two more join mid-run and one of the three is then stopped mid-run.
// Every alert gets exactly one output event, the added workers really
// took a share, and no worker stopped by itself.
func TestScaleUpAndDownMidRun(t *testing.T) {
	t.Parallel()
	const n = 300
	e := newEnv(t, sim.Options{Alerts: n, Latency: 30 * time.Millisecond})
	e.Cfg.Worker.Concurrency = 2
	// A message the server hands to the stopping worker's cancelled fetch
	// is dropped by the client and comes back only after ack_wait (seen in
	// about 1 run of 20 under load): keep that wait short.
	e.Cfg.Input.AckWait = 2 * time.Second
	w1 := startRunning(t, e, "w1")
	seqs := e.publish(idBodies(e.Sim.AlertIDs(n))...)

	e.waitOutputs(40, 20*time.Second)
	w2 := startRunning(t, e, "w2")
	w3 := startRunning(t, e, "w3")
	e.waitOutputs(150, 20*time.Second)
	if got := e.streamCount(e.Cfg.Output.Stream); got >= n {
		t.Fatalf("all %d alerts were done before the scale-down: the test did not stop a worker mid-run", got)
	}
	start := time.Now()
	w2.stop(t, 10*time.Second)
	if w2.err != nil {
		t.Errorf("stopped worker's Run returned %v, want nil", w2.err)
	}
	t.Logf("scale-down: worker stopped in %s", time.Since(start).Round(time.Millisecond))

	outputs, dead := e.waitSettled(30 * time.Second)
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	if r := e.redeliveries(); r > 0 {
		t.Logf("scale: %d redeliveries; worker warnings:\n%s", r, logProblems(e.log.String()))
	}
	w1.assertRunning(t)
	w3.assertRunning(t)
	by := eventWorkers(t, outputs)
	for _, id := range []string{"w1", "w2", "w3"} {
		if by[id] == 0 {
			t.Errorf("worker %s produced no event (by worker: %v)", id, by)
		}
	}
	if s := e.Sim.Stats(); s.Requests != n {
		t.Errorf("simulator saw %d API calls, want %d (one per alert)", s.Requests, n)
	}
}

// redeliveries is how many deliveries of the input consumer were
// redeliveries (for the log: it shows how hard a fault hit).
func (e *testEnv) redeliveries() uint64 {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		e.t.Fatal(err)
	}
	info := c.CachedInfo()
	return info.Delivered.Consumer - info.Delivered.Stream
}

// logProblems picks the warn and error lines out of a JSON log, for a report.
func logProblems(log string) string {
	var out []string
	for _, l := range splitLines(log) {
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, "will retry") || strings.Contains(l, "nak") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
