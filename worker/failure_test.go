package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich"
	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// countByMsgID fails the test if two stored messages share a Nats-Msg-Id
// or an alert, and returns how many there are.
func assertNoDuplicates(t *testing.T, msgs []*jetstream.RawStreamMsg) {
	t.Helper()
	ids := map[string]bool{}
	alerts := map[string]bool{}
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		if ids[id] {
			t.Errorf("duplicate Nats-Msg-Id %s", id)
		}
		ids[id] = true
		a := m.Header.Get(HeaderAlertID)
		if alerts[a] {
			t.Errorf("two events for alert %s", a)
		}
		alerts[a] = true
	}
}

// TestFlakyAPINothingLostNothingTwice: 30% 503s with random latency, 300
// alerts, 2 workers: 300 events, no dead letter, no duplicate.
func TestFlakyAPINothingLostNothingTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 300, FailRate: 0.3, LatencyJitter: 5 * time.Millisecond, Seed: 7})
	e.Cfg.Retry.Attempts = 3
	e.startWorkers(2)
	ids := e.Sim.AlertIDs(300)
	bodies := make([][]byte, len(ids))
	for i, id := range ids {
		bodies[i] = []byte(id)
	}
	e.publish(bodies...)
	outputs, dead := e.waitSettled(120 * time.Second)
	if len(dead) != 0 {
		t.Errorf("got %d dead letters, want 0 (first: %s)", len(dead), dead[0].Header.Get(HeaderError))
	}
	if len(outputs) != 300 {
		t.Errorf("got %d output events, want 300", len(outputs))
	}
	assertNoDuplicates(t, outputs)
	if e.Sim.Stats().ByStatus[http.StatusServiceUnavailable] == 0 {
		t.Error("the simulator answered no 503: the test did not exercise retries")
	}
}

// TestRetryAfterIsHonoured: after a 429 with Retry-After: 2, the next call
// for that alert reaches the simulator at least 2 s later (by the
// simulator's own request log).
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 10, Fault: func(_ string, call int) *sim.Fault {
		if call == 1 {
			return &sim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}
		}
		return nil
	}})
	e.startWorkers(1)
	id := e.Sim.AlertIDs(1)[0]
	e.publish([]byte(id))
	outputs, _ := e.waitSettled(30 * time.Second)
	if len(outputs) != 1 {
		t.Fatalf("got %d outputs, want 1", len(outputs))
	}
	reqs := e.Sim.Requests()
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("requests = %+v, want a 429 then one more", reqs)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 2*time.Second {
		t.Errorf("second call %s after the 429, want at least 2s", gap)
	}
}

// TestAlwaysFailingAPIDeadLettersEachOnce: an API that always fails makes
// each message exactly one retries_exhausted dead letter after max_deliver
// deliveries.
func TestAlwaysFailingAPIDeadLettersEachOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 20, FailRate: 1})
	e.Cfg.Input.MaxDeliver = 3
	e.Cfg.Retry.Attempts = 2
	e.Cfg.Retry.BaseDelay = time.Millisecond
	e.Cfg.Retry.MaxDelay = 20 * time.Millisecond
	e.startWorkers(2)
	ids := e.Sim.AlertIDs(10)
	for _, id := range ids {
		e.publish([]byte(id))
	}
	outputs, dead := e.waitSettled(60 * time.Second)
	if len(outputs) != 0 {
		t.Errorf("got %d outputs, want 0", len(outputs))
	}
	if len(dead) != len(ids) {
		t.Fatalf("got %d dead letters, want %d", len(dead), len(ids))
	}
	assertNoDuplicates(t, dead)
	for _, d := range dead {
		if c := d.Header.Get(HeaderErrorClass); c != ClassRetriesExhausted {
			t.Errorf("class %q, want retries_exhausted", c)
		}
		if n := d.Header.Get(HeaderDeliveries); n != "3" {
			t.Errorf("%s = %q, want 3", HeaderDeliveries, n)
		}
	}
	// Every delivery made Attempts calls: 10 alerts x 3 deliveries x 2.
	if got := e.Sim.Stats().Requests; got != 10*3*2 {
		t.Errorf("simulator saw %d calls, want 60", got)
	}
}

// TestRejectedAndReplayed: a 403 is an api_rejected dead letter at once;
// replayed after the fault is gone, it ends as an output event.
func TestRejectedAndReplayed(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	e := newEnv(t, sim.Options{Alerts: 10, Fault: func(string, int) *sim.Fault {
		if healed.Load() {
			return nil
		}
		return &sim.Fault{Status: http.StatusForbidden}
	}})
	e.startWorkers(1)
	id := e.Sim.AlertIDs(1)[0]
	e.publish([]byte(id))
	_, dead := e.waitSettled(30 * time.Second)
	if len(dead) != 1 || dead[0].Header.Get(HeaderErrorClass) != ClassAPIRejected {
		t.Fatalf("dead letters = %d, want one api_rejected", len(dead))
	}
	if got := e.Sim.Stats().Requests; got != 1 {
		t.Errorf("a 403 was retried: %d calls", got)
	}
	list, err := ListDeadLetters(context.Background(), e.js, e.Cfg)
	if err != nil || len(list) != 1 || list[0].AlertID != id || list[0].Class != ClassAPIRejected {
		t.Fatalf("ListDeadLetters = %+v, %v", list, err)
	}
	healed.Store(true)
	if _, err := Replay(context.Background(), e.js, e.Cfg, []uint64{list[0].Sequence}); err != nil {
		t.Fatal(err)
	}
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(dead) != 0 {
		t.Errorf("the dead letter was not removed after replay: %d left", len(dead))
	}
	if len(outputs) != 1 || outputs[0].Header.Get(HeaderAlertID) != id {
		t.Fatalf("outputs after replay = %d, want one for %s", len(outputs), id)
	}
}

// panicky panics on its first call and answers a user afterwards.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) GetUser(context.Context, string) (enrich.Result, error) {
	if p.calls.Add(1) == 1 {
		panic("boom")
	}
	return enrich.Result{Found: true, User: json.RawMessage(`{"id":"contoso\\u1"}`), Attempts: 1}, nil
}

// TestPanicIsRecovered: a panic while handling a message is logged with
// its alert_id, the message is retried, and the worker goes on.
func TestPanicIsRecovered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	log := &syncBuffer{}
	e.runWorkerWith(&panicky{}, log)
	e.publish([]byte("alert_1"), []byte("alert_2"))
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 2 || len(dead) != 0 {
		t.Fatalf("outputs %d, dead letters %d; want 2 and 0", len(outputs), len(dead))
	}
	for _, m := range outputs {
		var ev schemas.EnrichedAlert
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Enrichment.Status != schemas.StatusEnriched {
			t.Errorf("event %s: %v", m.Data, err)
		}
	}
	var line struct {
		AlertID string `json:"alert_id"`
		Panic   string `json:"panic"`
	}
	found := false
	for _, l := range splitLines(log.String()) {
		if json.Unmarshal([]byte(l), &line) == nil && line.Panic == "boom" {
			found = line.AlertID == "alert_1" || line.AlertID == "alert_2"
		}
	}
	if !found {
		t.Errorf("no panic log line with an alert_id in:\n%s", log.String())
	}
}

// slowAPI answers after a delay longer than ack_wait.
type slowAPI struct {
	delay time.Duration
	calls atomic.Int32
}

func (s *slowAPI) GetUser(ctx context.Context, _ string) (enrich.Result, error) {
	s.calls.Add(1)
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return enrich.Result{}, errors.Join(enrich.ErrTransient, ctx.Err())
	}
	return enrich.Result{Found: false, Attempts: 1}, nil
}

// TestLongWaitIsNotRedelivered: a message worked on for longer than
// ack_wait is kept alive with InProgress and never redelivered.
func TestLongWaitIsNotRedelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	e.Cfg.Input.AckWait = time.Second
	api := &slowAPI{delay: 3 * time.Second}
	e.runWorkerWith(api, &syncBuffer{})
	ctx := context.Background()
	e.publish([]byte("a1"), []byte("a2"))
	outputs, _ := e.waitSettled(30 * time.Second)
	if len(outputs) != 2 {
		t.Fatalf("outputs = %d, want 2", len(outputs))
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("API called %d times, want 2 (a redelivery happened)", n)
	}
	c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if redelivered := info.Delivered.Consumer - info.Delivered.Stream; redelivered != 0 {
		t.Errorf("%d redeliveries, want 0", redelivered)
	}
}
