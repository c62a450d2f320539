package worker

import (
	"context"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// TestQuotaWaitCausesNoRedelivery: ack_wait 2s, a 5/1s budget and 60
// alerts queued: every alert is enriched with exactly 60 API calls and no
// message is ever redelivered, although most wait far longer than
// ack_wait for their turn.
func TestQuotaWaitCausesNoRedelivery(t *testing.T) {
	t.Parallel()
	limits := []config.Limit{{Calls: 5, Window: time.Second}}
	e := newEnv(t, sim.Options{Alerts: 100, Limits: limits})
	e.Cfg.Input.AckWait = 2 * time.Second
	e.Cfg.Quota.Limits = limits
	e.Cfg.Quota.Margin = 250 * time.Millisecond // the delay between grant and call on a loaded machine
	e.startWorkers(2)
	ids := e.Sim.AlertIDs(60)
	for _, id := range ids {
		e.publish([]byte(id))
	}
	outputs, dead := e.waitSettled(60 * time.Second)
	if len(outputs) != 60 || len(dead) != 0 {
		t.Fatalf("got %d outputs and %d dead letters, want 60 and 0", len(outputs), len(dead))
	}
	assertNoDuplicates(t, outputs)
	st := e.Sim.Stats()
	if st.Requests != 60 {
		t.Errorf("simulator saw %d API calls, want exactly 60", st.Requests)
	}
	if n := st.ByStatus[http.StatusTooManyRequests]; n != 0 {
		t.Errorf("simulator answered %d 429s, want 0: the quota let too much through", n)
	}
	ctx := context.Background()
	c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.Delivered.Consumer != info.Delivered.Stream {
		t.Errorf("redeliveries happened: NumRedelivered %d, delivered consumer %d vs stream %d",
			info.NumRedelivered, info.Delivered.Consumer, info.Delivered.Stream)
	}
}

// TestSharedRetryAfterPause: after one 429 with Retry-After: 2, no worker
// of the fleet (three runtimes, each with its own quota client) calls the
// simulator for 2 s. Calls that were already granted when the 429 arrived
// may finish; the test allows those in the first 500 ms (a loaded machine can
// delay a granted call that long).
func TestSharedRetryAfterPause(t *testing.T) {
	t.Parallel()
	var first atomic.Bool
	e := newEnv(t, sim.Options{Alerts: 100, Fault: func(string, int) *sim.Fault {
		if first.CompareAndSwap(false, true) {
			return &sim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}
		}
		return nil
	}})
	e.Cfg.Quota.Limits = []config.Limit{{Calls: 20, Window: time.Second}}
	e.Cfg.Quota.Margin = 0
	e.Cfg.Worker.Concurrency = 4
	e.startWorkers(3)
	ids := e.Sim.AlertIDs(60)
	for _, id := range ids {
		e.publish([]byte(id))
	}
	outputs, dead := e.waitSettled(60 * time.Second)
	if len(outputs) != 60 || len(dead) != 0 {
		t.Fatalf("got %d outputs and %d dead letters, want 60 and 0", len(outputs), len(dead))
	}
	reqs := e.Sim.Requests()
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Time.Before(reqs[j].Time) })
	var at time.Time
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			at = r.Time
		}
	}
	if at.IsZero() {
		t.Fatal("the simulator never answered 429")
	}
	after := 0
	for _, r := range reqs {
		if d := r.Time.Sub(at); d > 500*time.Millisecond && d < 2*time.Second {
			t.Errorf("a call reached the simulator %s after the 429 (Retry-After: 2)", d)
		}
		if r.Time.After(at) {
			after++
		}
	}
	if after == 0 {
		t.Error("no call after the pause: the test proved nothing")
	}
}
