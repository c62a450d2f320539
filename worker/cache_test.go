package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// cachedEvent is the part of an output event the cache tests compare.
type cachedEvent struct {
	AlertID    string          `json:"alertId"`
	User       json.RawMessage `json:"user"`
	Enrichment struct {
		Status   schemas.Status `json:"status"`
		Source   schemas.Source `json:"source"`
		Attempts int            `json:"attempts"`
	} `json:"enrichment"`
}

func parseEvents(t *testing.T, msgs []*jetstream.RawStreamMsg) []cachedEvent {
	t.Helper()
	out := make([]cachedEvent, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Data, &out[i]); err != nil {
			t.Fatalf("unparsable event %s: %v", m.Data, err)
		}
	}
	return out
}

// TestRepeatedIDsAnsweredFromCache: 50 alert IDs are published, settled,
// then published again. The second round is answered from the cache: 100
// events (one per input message), 50 API calls, 50 events with source
// "cache" and 0 attempts, each equal in status and user to the API event
// for the same alert.
func TestRepeatedIDsAnsweredFromCache(t *testing.T) {
	t.Parallel()
	const n = 50
	e := newEnv(t, sim.Options{Alerts: 100})
	e.startWorkers(2)
	ids := e.Sim.AlertIDs(n)
	seqs := e.publish(idBodies(ids)...)
	e.waitSettled(30 * time.Second)
	if got := e.Sim.Stats().Requests; got != n {
		t.Fatalf("first round: %d API calls, want %d", got, n)
	}
	seqs = append(seqs, e.publish(idBodies(ids)...)...)
	outputs, dead := e.waitSettled(30 * time.Second)
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	if got := e.Sim.Stats().Requests; got != n {
		t.Errorf("%d API calls in all, want %d (the repeats must not call the API)", got, n)
	}

	api := map[string]cachedEvent{}
	cached := map[string]cachedEvent{}
	notFound := 0
	for _, ev := range parseEvents(t, outputs) {
		switch ev.Enrichment.Source {
		case schemas.SourceAPI:
			api[ev.AlertID] = ev
			if ev.Enrichment.Status == schemas.StatusNotFound {
				notFound++
			}
		case schemas.SourceCache:
			cached[ev.AlertID] = ev
			if ev.Enrichment.Attempts != 0 {
				t.Errorf("%s: cache event with %d attempts, want 0", ev.AlertID, ev.Enrichment.Attempts)
			}
		default:
			t.Errorf("%s: source %q, want api or cache", ev.AlertID, ev.Enrichment.Source)
		}
	}
	if len(api) != n || len(cached) != n {
		t.Fatalf("%d distinct alerts from the API and %d from the cache, want %d each", len(api), len(cached), n)
	}
	if notFound == 0 || notFound == n {
		t.Errorf("%d of %d alerts not_found: the data set does not exercise both cached outcomes", notFound, n)
	}
	for id, a := range api {
		c, ok := cached[id]
		switch {
		case !ok:
			t.Errorf("%s: no cache event", id)
		case c.Enrichment.Status != a.Enrichment.Status:
			t.Errorf("%s: cached status %s, API status %s", id, c.Enrichment.Status, a.Enrichment.Status)
		case !bytes.Equal(c.User, a.User):
			t.Errorf("%s: cached user %s, API user %s", id, c.User, a.User)
		}
	}
}

// TestCacheFailureFallsBackToAPI: a cache entry that cannot be read (a
// corrupt value) and then a cache bucket deleted mid-run both make the
// worker ask the API (with the in-process tier off); every message still gets its outcome, none is lost
// or dead-lettered.
func TestCacheFailureFallsBackToAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 100})
	// The bucket alone: the in-process tier (localcache_test.go) would
	// answer the repeats from memory until its watch reports the deletion.
	e.Cfg.Cache.LocalEntries = 0
	e.startWorkers(1)
	ctx := context.Background()
	kv, err := e.js.KeyValue(ctx, e.Cfg.Cache.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	ids := e.Sim.AlertIDs(20)

	// Corrupt entries: Get fails, the API answers.
	for _, id := range ids[:10] {
		if _, err := kv.Put(ctx, id, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
	}
	seqs := e.publish(idBodies(ids[:10])...)
	outputs, _ := e.waitSettled(30 * time.Second)
	if got := e.Sim.Stats().Requests; got != 10 {
		t.Errorf("corrupt cache: %d API calls, want 10", got)
	}
	if !strings.Contains(e.log.String(), "outcome cache unavailable; asking the API") {
		t.Error("the corrupt cache entries were not reported as a cache failure")
	}
	for _, ev := range parseEvents(t, outputs) {
		if ev.Enrichment.Source != schemas.SourceAPI {
			t.Errorf("%s: source %s after a cache failure, want api", ev.AlertID, ev.Enrichment.Source)
		}
	}

	// The bucket is gone: every Get and Put fails, the API answers.
	if err := e.js.DeleteKeyValue(ctx, e.Cfg.Cache.Bucket); err != nil {
		t.Fatal(err)
	}
	seqs = append(seqs, e.publish(idBodies(ids)...)...)
	outputs, dead := e.waitSettled(30 * time.Second)
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	if got := e.Sim.Stats().Requests; got != 30 {
		t.Errorf("deleted cache: %d API calls in all, want 30 (10 + 20, every repeat from the API)", got)
	}
	for _, ev := range parseEvents(t, outputs) {
		if ev.Enrichment.Source != schemas.SourceAPI {
			t.Errorf("%s: source %s without a cache, want api", ev.AlertID, ev.Enrichment.Source)
		}
	}
}
