package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// TestRedeliveredDeadLetterSettlesTheSameWay: a worker decided a dead
// letter for a message, stored the mark and then died before its Term.
// The redelivery meets an API that would now answer: it must still end as
// that one dead letter, never as an output event as well.
func TestRedeliveredDeadLetterSettlesTheSameWay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 5})
	e.Cfg.Input.AckWait = time.Second
	ctx := context.Background()
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	id := e.Sim.AlertIDs(1)[0]
	e.publish([]byte(id))

	// The first delivery, taken by "a worker that dies": it marks the dead
	// letter and never acknowledges.
	cons, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(ctx, e.Cfg.Cache.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewKVCache(kv).MarkDead(ctx, meta.Stream, meta.Sequence.Stream, ClassAPIRejected, "403 forbidden"); err != nil {
		t.Fatal(err)
	}

	e.startWorkers(1)
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 0 || len(dead) != 1 {
		t.Fatalf("got %d outputs and %d dead letters, want 0 and 1", len(outputs), len(dead))
	}
	if c, r := dead[0].Header.Get(HeaderErrorClass), dead[0].Header.Get(HeaderError); c != ClassAPIRejected || r != "403 forbidden" {
		t.Errorf("dead letter %s %q, want the marked api_rejected one", c, r)
	}
	if n := e.Sim.Stats().Requests; n != 0 {
		t.Errorf("the API was called %d times for a message already dead-lettered", n)
	}
}

// TestAttemptsCountEveryDelivery: an alert whose first deliveries use up
// their HTTP attempts on 503s and whose third succeeds gets one event
// whose attempts counts every attempt made for it, as the API saw them.
func TestAttemptsCountEveryDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 2, Fault: func(_ string, call int) *sim.Fault {
		if call <= 4 {
			return &sim.Fault{Status: http.StatusServiceUnavailable}
		}
		return nil
	}})
	e.Cfg.Retry.Attempts = 2 // two per delivery: deliveries 1 and 2 fail, 3 succeeds
	e.startWorkers(1)
	id := e.Sim.AlertIDs(1)[0]
	e.publish([]byte(id))
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 1 || len(dead) != 0 {
		t.Fatalf("got %d outputs and %d dead letters, want 1 and 0", len(outputs), len(dead))
	}
	var ev schemas.EnrichedAlert
	if err := json.Unmarshal(outputs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	calls := e.Sim.Stats().Requests
	if calls != 5 || ev.Enrichment.Attempts != calls || ev.Enrichment.Source != schemas.SourceAPI {
		t.Errorf("event attempts %d (source %s), API calls %d; want 5 and 5", ev.Enrichment.Attempts, ev.Enrichment.Source, calls)
	}
}

// TestAttemptsNeverHideADeadMark: the attempts record of a retry (say, of
// a delivery that outlived its ack wait) is kept apart from the dead
// letter's mark, which a later delivery must still find.
func TestAttemptsNeverHideADeadMark(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	ctx := context.Background()
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(ctx, e.Cfg.Cache.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	c := NewKVCache(kv)
	if n, err := c.Attempts(ctx, "ALERTS", 7); err != nil || n != 0 {
		t.Fatalf("Attempts of a fresh message = %d, %v; want 0", n, err)
	}
	if err := c.MarkDead(ctx, "ALERTS", 7, ClassRetriesExhausted, "503s"); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkAttempts(ctx, "ALERTS", 7, 4); err != nil {
		t.Fatal(err)
	}
	class, reason, ok, err := c.DeadMark(ctx, "ALERTS", 7)
	if err != nil || !ok || class != ClassRetriesExhausted || reason != "503s" {
		t.Errorf("DeadMark after MarkAttempts = %q %q %v %v; want the dead letter", class, reason, ok, err)
	}
	if n, err := c.Attempts(ctx, "ALERTS", 7); err != nil || n != 4 {
		t.Errorf("Attempts = %d, %v; want 4", n, err)
	}
}
