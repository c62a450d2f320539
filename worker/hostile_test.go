package worker

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
)

// TestHostileAPIResponsesNeverEnrich: for each kind of hostile 200 the
// simulator can give (not JSON, over the size cap, no id, an array, and the
// mix of them), every alert ends as one api_rejected dead letter after its
// retry.attempts HTTP attempts: no enriched event, nothing in the outcome
// cache, and the dead letter keeps the input body.
func TestHostileAPIResponsesNeverEnrich(t *testing.T) {
	t.Parallel()
	const alerts, attempts = 4, 3
	for _, kind := range sim.BadResponseKinds() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sim.Options{Alerts: 50, BadResponseRate: 1, BadResponseKind: kind})
			e.Cfg.Retry.Attempts = attempts
			e.startWorkers(1)
			var ids []string
			for _, id := range e.Sim.AlertIDs(-1) {
				if e.Sim.HasUser(id) && len(ids) < alerts {
					ids = append(ids, id)
				}
			}
			bodies := make([][]byte, len(ids))
			for i, id := range ids {
				bodies[i] = []byte(id)
			}
			e.publish(bodies...)
			outputs, dead := e.waitSettled(60 * time.Second)
			if len(outputs) != 0 {
				t.Errorf("got %d output events from hostile responses, want 0; first: %s", len(outputs), outputs[0].Data)
			}
			if len(dead) != alerts {
				t.Fatalf("got %d dead letters, want %d", len(dead), alerts)
			}
			seen := map[string]bool{}
			for _, m := range dead {
				id := m.Header.Get(HeaderAlertID)
				seen[id] = true
				if got := m.Header.Get(HeaderErrorClass); got != ClassAPIRejected {
					t.Errorf("%s: class %q, want %s (error %q)", id, got, ClassAPIRejected, m.Header.Get(HeaderError))
				}
				if string(m.Data) != id {
					t.Errorf("%s: dead letter body %q, want the input", id, m.Data)
				}
				if got := m.Header.Get(HeaderError); !containsAny(got, "not a user entity", "bad response") {
					t.Errorf("%s: reason %q does not say the response was not a user", id, got)
				}
				if d, _ := strconv.Atoi(m.Header.Get(HeaderDeliveries)); d != 1 {
					t.Errorf("%s: dead-lettered on delivery %d, want 1 (rejected, not redelivered)", id, d)
				}
			}
			for _, id := range ids {
				if !seen[id] {
					t.Errorf("no dead letter for %s", id)
				}
			}
			st := e.Sim.Stats()
			if st.Requests != alerts*attempts || st.ByStatus[http.StatusOK] != alerts*attempts {
				t.Errorf("simulator saw %d requests (%v), want %d hostile 200s: %d attempts per alert", st.Requests, st.ByStatus, alerts*attempts, attempts)
			}
			kv, err := e.js.KeyValue(context.Background(), e.Cfg.Cache.Bucket)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, err := kv.Get(context.Background(), id); !errors.Is(err, jetstream.ErrKeyNotFound) {
					t.Errorf("%s: outcome cache holds an entry (err %v): a hostile response was cached", id, err)
				}
			}
		})
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
