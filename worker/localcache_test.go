package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// countingKV is a real KV bucket handle that counts the Get requests made
// through it, so a test can tell a look-up served from memory from one
// that went to NATS.
type countingKV struct {
	jetstream.KeyValue
	gets atomic.Int64
}

// Get counts the request and passes it on.
func (k *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	k.gets.Add(1)
	return k.KeyValue.Get(ctx, key)
}

// fakeClock is a settable time source for LocalCache.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// localFixture is a LocalCache over a real bucket on an embedded server,
// with a second client's handle on the same bucket.
type localFixture struct {
	t     *testing.T
	c     *LocalCache
	nc    *nats.Conn         // the cache's own connection
	kv    *countingKV        // the cache's own handle
	other jetstream.KeyValue // another client's, on its own connection
	clock *fakeClock
}

// newLocalFixture creates a bucket without TTL and a LocalCache of size
// entries and cache TTL ttl in front of it, its clock stopped at the
// current time; with watch, the watch runs until cleanup.
func newLocalFixture(t *testing.T, size int, ttl time.Duration, watch bool) *localFixture {
	t.Helper()
	srv := startNATS(t)
	ctx := context.Background()
	var conns []*nats.Conn
	handle := func() jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns = append(conns, nc)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	kv, err := handle().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "local_test"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := handle().KeyValue(ctx, "local_test")
	if err != nil {
		t.Fatal(err)
	}
	f := &localFixture{t: t, nc: conns[0], kv: &countingKV{KeyValue: kv}, other: other, clock: &fakeClock{t: time.Now()}}
	if f.c, err = NewLocalCache(NewKVCache(f.kv), size, ttl); err != nil {
		t.Fatal(err)
	}
	f.c.now = f.clock.Now
	if watch {
		wctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		if err := f.c.Watch(wctx, f.nc, zerolog.Nop()); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// testOutcome is an enriched outcome whose user carries n.
func testOutcome(n int) CachedOutcome {
	return CachedOutcome{Status: schemas.StatusEnriched, User: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}

// put writes testOutcome(n) as another client would.
func (f *localFixture) put(key string, n int) {
	f.t.Helper()
	b, err := json.Marshal(testOutcome(n))
	if err == nil {
		_, err = f.other.Put(context.Background(), key, b)
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

// write is LocalCache.Put of testOutcome(n), failing the test on an error.
func (f *localFixture) write(key string, n int) {
	f.t.Helper()
	if err := f.c.Put(context.Background(), key, testOutcome(n)); err != nil {
		f.t.Fatal(err)
	}
}

// get is LocalCache.Get, failing the test on an error.
func (f *localFixture) get(key string) (CachedOutcome, bool) {
	f.t.Helper()
	o, ok, err := f.c.Get(context.Background(), key)
	if err != nil {
		f.t.Fatalf("get %s: %v", key, err)
	}
	return o, ok
}

// mustGet asserts that key holds testOutcome(n) and tells whether the answer
// came from memory (a hit, no KV request) or from the bucket.
func (f *localFixture) mustGet(key string, n int) (fromMemory bool) {
	f.t.Helper()
	hits, gets := f.c.Hits(), f.kv.gets.Load()
	o, ok := f.get(key)
	if want := testOutcome(n); !ok || string(o.User) != string(want.User) {
		f.t.Fatalf("get %s = %s (found %v), want %s", key, o.User, ok, want.User)
	}
	memory, bucket := f.c.Hits()-hits, f.kv.gets.Load()-gets
	if memory+uint64(bucket) != 1 {
		f.t.Fatalf("get %s: %d hits and %d KV requests, want one of either", key, memory, bucket)
	}
	return memory == 1
}

// barrier returns once the watch has handled every change made before it
// was called: it caches a key, overwrites it from the other client and
// waits for the watch to drop it (the watch handles changes in order).
func (f *localFixture) barrier() {
	f.t.Helper()
	key := "barrier"
	f.put(key, 1)
	f.get(key)
	if !f.c.lru.Contains(key) {
		f.t.Fatalf("%s was not kept in memory", key)
	}
	f.put(key, 2)
	waitFor(f.t, 10*time.Second, "the watch to report "+key, func() bool { return !f.c.lru.Contains(key) })
}

// TestLocalCacheServesFromMemory: an outcome the cache wrote, and one it
// read from the bucket, are then answered from memory with no KV request;
// the watch event of the cache's own write does not drop it.
func TestLocalCacheServesFromMemory(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 100, time.Hour, true)
	f.write("written", 1)
	f.put("read", 2)
	if f.mustGet("read", 2) {
		t.Fatal("the first look-up of a key written by another client was a hit")
	}
	// The watch reports both writes before anything else is looked up:
	// their events must not drop what the cache holds at that revision.
	f.barrier()
	for i := 0; i < 3; i++ {
		if !f.mustGet("written", 1) {
			t.Fatalf("look-up %d of an outcome just written went to the bucket", i+1)
		}
	}
	if !f.mustGet("read", 2) {
		t.Error("an outcome read from the bucket was not then served from memory")
	}
	if got := f.c.Hits(); got != 4 {
		t.Errorf("Hits() = %d, want 4", got)
	}
	// The same, deterministically: a write at the held revision keeps the
	// entry, a newer one drops it.
	held, _ := f.c.lru.Peek("written")
	if f.c.changed("written", held.rev, jetstream.KeyValuePut); !f.c.lru.Contains("written") {
		t.Error("a write event at the held revision dropped the entry")
	}
	if f.c.changed("written", held.rev+1, jetstream.KeyValuePut); f.c.lru.Contains("written") {
		t.Error("a write event at a newer revision kept the entry")
	}
}

// TestLocalCacheDropsWhatOthersChange: another client's delete, purge and
// overwrite reach the cache through the watch; the next look-ups give the
// bucket's state, and the new value is then served from memory.
func TestLocalCacheDropsWhatOthersChange(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 100, time.Hour, true)
	ctx := context.Background()
	for _, k := range []string{"deleted", "purged", "overwritten"} {
		f.write(k, 1)
		if !f.mustGet(k, 1) {
			t.Fatalf("%s not served from memory", k)
		}
	}
	if err := errors.Join(f.other.Delete(ctx, "deleted"), f.other.Purge(ctx, "purged")); err != nil {
		t.Fatal(err)
	}
	f.put("overwritten", 2)
	waitFor(t, 10*time.Second, "the cache to reflect the delete, purge and overwrite", func() bool {
		_, del := f.get("deleted")
		_, pur := f.get("purged")
		o, _ := f.get("overwritten")
		return !del && !pur && string(o.User) == string(testOutcome(2).User)
	})
	if !f.mustGet("overwritten", 2) {
		t.Error("the new value of an overwritten key was not then served from memory")
	}
}

// TestLocalCacheRemovalRacingReadNotKept drives keep directly: an outcome
// read before a delete or purge that the watch reported before keep ran is
// not kept; one read with no removal meanwhile is.
func TestLocalCacheRemovalRacingReadNotKept(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 100, time.Hour, true)
	f.put("calm", 1)
	if f.get("calm"); !f.c.lru.Contains("calm") {
		t.Fatal("an outcome read with no removal meanwhile was not kept")
	}
	f.put("raced", 1)
	seen := f.c.removals.Load()
	o, e, ok, err := f.c.kv.get(context.Background(), "raced")
	if err != nil || !ok {
		t.Fatalf("read raced: found %v, %v", ok, err)
	}
	if err := f.other.Purge(context.Background(), "raced"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the watch to report the purge", func() bool { return f.c.removals.Load() != seen })
	f.c.keep("raced", o, e.Revision(), e.Created(), seen)
	if f.c.lru.Contains("raced") {
		t.Fatal("an outcome read before a purge was kept after the purge")
	}
	if _, ok := f.get("raced"); ok {
		t.Error("a purged key was found")
	}
}

// TestLocalCacheBounded: with room for n outcomes, n+k distinct writes
// leave at most n in memory; the oldest are answered by the bucket.
func TestLocalCacheBounded(t *testing.T) {
	t.Parallel()
	const n, k = 8, 5
	f := newLocalFixture(t, n, time.Hour, true)
	for i := 0; i < n+k; i++ {
		f.write(fmt.Sprintf("k%d", i), i)
	}
	if got := f.c.Len(); got > n {
		t.Fatalf("Len() = %d after %d distinct writes, want at most %d", got, n+k, n)
	}
	if !f.mustGet(fmt.Sprintf("k%d", n+k-1), n+k-1) {
		t.Error("the latest write was not served from memory")
	}
	if f.mustGet("k0", 0) {
		t.Error("the oldest of more writes than the bound was still in memory")
	}
}

// TestLocalCacheExpiry: an entry is served until min(created+ttl,
// now+localMaxAge), not at or after it; with ttl the nearer bound, an
// entry read from the bucket after created+ttl is not kept; with
// localMaxAge the nearer, one re-read lives localMaxAge from the re-read.
func TestLocalCacheExpiry(t *testing.T) {
	t.Parallel()
	type step struct {
		at     time.Duration // after the write
		memory bool          // served from memory
	}
	const ms = time.Millisecond
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{"ttl", time.Minute, []step{{time.Minute - ms, true}, {time.Minute, false}, {2 * time.Minute, false}, {2 * time.Minute, false}}},
		{"max age", 24 * time.Hour, []step{{localMaxAge - ms, true}, {localMaxAge, false}, {localMaxAge, true}, {2*localMaxAge - ms, true}, {2 * localMaxAge, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newLocalFixture(t, 100, tc.ttl, true)
			t0 := f.clock.Now()
			f.write("k", 1)
			for i, s := range tc.steps {
				f.clock.set(t0.Add(s.at))
				if got := f.mustGet("k", 1); got != s.memory {
					t.Errorf("look-up %d, %s after the write: from memory %v, want %v", i+1, s.at, got, s.memory)
				}
			}
		})
	}
}

// TestLocalCacheOffWithoutWatch: before Watch and after its context ends
// the tier is off: nothing is kept and every look-up sees the bucket.
func TestLocalCacheOffWithoutWatch(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 100, time.Hour, false)
	ctx := context.Background()
	f.write("k", 1)
	if f.c.Live() || f.mustGet("k", 1) || f.c.Len() != 0 {
		t.Fatalf("before Watch: Live %v, Len %d, or a hit", f.c.Live(), f.c.Len())
	}
	f.put("k", 2)
	f.mustGet("k", 2)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.c.Watch(wctx, f.nc, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	f.mustGet("k", 2)
	if !f.c.Live() || !f.mustGet("k", 2) {
		t.Fatal("with the watch running the tier did not serve from memory")
	}
	cancel()
	waitFor(t, 10*time.Second, "the tier to go off and empty", func() bool { return !f.c.Live() && f.c.Len() == 0 })
	f.put("k", 3)
	if f.mustGet("k", 3) {
		t.Error("a hit after the watch ended")
	}
}

// startLocal starts a runtime on e.Cfg and returns its in-process tier,
// which must be live.
func startLocal(t *testing.T, e *testEnv, id string) *LocalCache {
	t.Helper()
	local := startRunning(t, e, id).rt.Local
	if local == nil || !local.Live() {
		t.Fatal("the default config has no live in-process tier")
	}
	return local
}

// repeatRun publishes n alert IDs, waits, runs between, publishes them
// again and waits. It checks one event per input, the API calls in all
// and that every event of the second round has source want.
func repeatRun(t *testing.T, e *testEnv, n int, between func(), calls int, want schemas.Source) {
	t.Helper()
	ids := e.Sim.AlertIDs(n)
	seqs := e.publish(idBodies(ids)...)
	first, _ := e.waitSettled(30 * time.Second)
	if got := e.Sim.Stats().Requests; got != n {
		t.Fatalf("first round: %d API calls, want %d", got, n)
	}
	between()
	seqs = append(seqs, e.publish(idBodies(ids)...)...)
	outputs, dead := e.waitSettled(30 * time.Second)
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	if got := e.Sim.Stats().Requests; got != calls {
		t.Errorf("%d API calls in all, want %d", got, calls)
	}
	sources := map[schemas.Source]int{}
	for _, ev := range parseEvents(t, outputs[len(first):]) {
		sources[ev.Enrichment.Source]++
	}
	if sources[want] != n {
		t.Errorf("second round: %v events per source, want %d from %s", sources, n, want)
	}
}

// TestLocalCacheRepeatsFromMemory: with the default config a running
// worker answers 20 repeated IDs from its in-process tier.
func TestLocalCacheRepeatsFromMemory(t *testing.T) {
	t.Parallel()
	const n = 20
	e := newEnv(t, sim.Options{Alerts: 100})
	local := startLocal(t, e, "local-repeats")
	repeatRun(t, e, n, func() {}, n, schemas.SourceCache)
	if got := local.Hits(); got < n {
		t.Errorf("Hits() = %d, want at least %d", got, n)
	}
}

// TestLocalCacheDisabledUsesBucket: with cache.local_entries = 0 there is
// no in-process tier and repeats are answered by the bucket.
func TestLocalCacheDisabledUsesBucket(t *testing.T) {
	t.Parallel()
	const n = 10
	e := newEnv(t, sim.Options{Alerts: 100})
	e.Cfg.Cache.LocalEntries = 0
	if w := startRunning(t, e, "local-off"); w.rt.Local != nil {
		t.Fatal("Runtime.Local is set with cache.local_entries = 0")
	}
	repeatRun(t, e, n, func() {}, n, schemas.SourceCache)
}

// TestLocalCacheOffWhenBucketDeleted: deleting the cache bucket ends the
// watch, the tier goes off by itself, and the running worker then asks
// the API for the IDs it had in memory.
func TestLocalCacheOffWhenBucketDeleted(t *testing.T) {
	t.Parallel()
	const n = 10
	e := newEnv(t, sim.Options{Alerts: 100})
	local := startLocal(t, e, "local-deleted")
	var hits uint64
	repeatRun(t, e, n, func() {
		if local.Len() < n {
			t.Fatalf("Len() = %d after %d outcomes, want them all in memory", local.Len(), n)
		}
		if err := e.js.DeleteKeyValue(context.Background(), e.Cfg.Cache.Bucket); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "the tier to go off after the bucket was deleted", func() bool { return !local.Live() })
		hits = local.Hits()
	}, 2*n, schemas.SourceAPI)
	if got := local.Hits(); got != hits {
		t.Errorf("Hits() went from %d to %d with the tier off", hits, got)
	}
}

// TestLocalCacheByteBudget: the tier holds at most size KiB of outcomes
// (however large the users the API sends), and keeps no outcome over an
// eighth of that.
func TestLocalCacheByteBudget(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 16, time.Hour, true)
	ctx := context.Background()
	user := func(n int) CachedOutcome {
		return CachedOutcome{Status: schemas.StatusEnriched, User: json.RawMessage(fmt.Sprintf(`{"id":%q}`, strings.Repeat("u", n)))}
	}
	for i := range 20 {
		if err := f.c.Put(ctx, fmt.Sprintf("k%d", i), user(1500)); err != nil {
			t.Fatal(err)
		}
		if b := f.c.Bytes(); b > 16*1024 {
			t.Fatalf("after %d puts of 1.5 KiB: %d bytes held, over the 16 KiB budget", i+1, b)
		}
	}
	if n := f.c.Len(); n == 0 || n > 10 {
		t.Errorf("%d outcomes of 1.5 KiB held in a 16 KiB budget, want 1 to 10", n)
	}
	if err := f.c.Put(ctx, "big", user(3000)); err != nil {
		t.Fatal(err)
	}
	hits := f.c.Hits()
	if _, ok, err := f.c.Get(ctx, "big"); err != nil || !ok || f.c.Hits() != hits {
		t.Errorf("an outcome over an eighth of the budget: hit %v, error %v, served from memory %v; want it from the bucket", ok, err, f.c.Hits() != hits)
	}
	if _, ok, _ := f.c.Get(ctx, "k19"); !ok || f.c.Hits() != hits+1 {
		t.Error("the newest 1.5 KiB outcome was not served from memory")
	}
}
