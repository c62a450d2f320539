package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// localMaxAge bounds how long an outcome stays in the in-process tier,
// whatever the bucket's TTL: the watch reports every key written, deleted
// or purged, but not a purge of the whole stream behind the bucket.
const localMaxAge = 5 * time.Minute

// localBytesPerEntry is the average size the tier budgets per entry: it
// holds at most size × localBytesPerEntry bytes of outcomes (a Defender
// user entity is about 0.6 KiB; the API may send up to 64 KiB).
const localBytesPerEntry = 1024

// localEntryOverhead approximates what an entry costs beyond its key and
// user entity.
const localEntryOverhead = 128

// Backoff of the watch's restarts.
const (
	watchRetryMin = time.Second
	watchRetryMax = 30 * time.Second
)

// LocalCache is an in-process tier in front of the KV bucket: the most
// recent outcomes, in a bounded LRU, so that a repeated alert ID costs no
// NATS round trip. It stays coherent with the bucket through a watch of
// the bucket's alert keys (headers only): an entry that anyone deletes,
// purges or overwrites is dropped here as soon as the watch reports it.
// While no watch runs (before Watch, from a disconnect until the watch is
// in place again, after the watch ends) it holds nothing and every call
// goes straight to the bucket.
//
// One race is left open on purpose: another worker's overwrite reported
// between this tier's read (or write) of the bucket and its keeping the
// outcome leaves the older outcome here (for at most localMaxAge). Both
// are API answers for the same alert; guarding against it would discard
// most keeps of a busy fleet.
type LocalCache struct {
	kv       *KVCache
	lru      *lru.Cache[string, localEntry]
	ttl      time.Duration
	maxBytes int
	now      func() time.Time
	// mu serializes the changes of the LRU, so that bytes (changed by the
	// eviction callback, which runs inside them) stays exact.
	mu    sync.Mutex
	bytes int
	// removals counts the deletes and purges the watch has seen, and the
	// times the tier went off: an outcome read from (or written to) the
	// bucket is kept only if none came in meanwhile, so a purge racing
	// with a read never leaves the purged outcome here.
	removals atomic.Uint64
	live     atomic.Bool
	hits     atomic.Uint64
}

// localEntry is one outcome with the bucket revision it came from.
type localEntry struct {
	o       CachedOutcome
	rev     uint64
	expires time.Time
	size    int
}

// NewLocalCache returns a tier of at most size outcomes (and size KiB)
// in front of kv; ttl is the bucket's (cache.ttl). It serves nothing until
// Watch runs.
func NewLocalCache(kv *KVCache, size int, ttl time.Duration) (*LocalCache, error) {
	c := &LocalCache{kv: kv, ttl: ttl, maxBytes: size * localBytesPerEntry, now: time.Now}
	l, err := lru.NewWithEvict(size, func(_ string, e localEntry) { c.bytes -= e.size })
	if err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	c.lru = l
	return c, nil
}

// Watch starts following the bucket's changes and returns once the watch
// is in place; it returns an error when it cannot start (the tier then
// stays off). From then until ctx ends the tier serves outcomes while a
// watch runs: on a disconnect of nc it goes off and forgets everything
// (the watch would report what changed meanwhile only late); once
// reconnected, or when the watch ends (a deleted bucket), it starts a new
// watch, retrying with backoff, and serves again once that is in place.
func (c *LocalCache) Watch(ctx context.Context, nc *nats.Conn, log zerolog.Logger) error {
	status := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CONNECTED, nats.CLOSED)
	w, err := c.startWatch(ctx)
	if err != nil {
		nc.RemoveStatusListener(status)
		return err
	}
	go c.follow(ctx, nc, w, status, log)
	return nil
}

// startWatch watches the alert keys from now on and turns the tier on.
func (c *LocalCache) startWatch(ctx context.Context) (jetstream.KeyWatcher, error) {
	// "*" is one token: the alert IDs, not the dead-letter marks (dlq.*).
	// The watch lives as long as ctx: nats.go ends the subscription when
	// the context it was made with ends.
	w, err := c.kv.kv.Watch(ctx, "*", jetstream.MetaOnly(), jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("watch cache bucket: %w", err)
	}
	c.off() // nothing from a time no watch ran
	c.live.Store(true)
	return w, nil
}

// follow applies the watch's reports and keeps a watch running.
func (c *LocalCache) follow(ctx context.Context, nc *nats.Conn, w jetstream.KeyWatcher, status chan nats.Status, log zerolog.Logger) {
	updates := w.Updates()
	defer func() {
		nc.RemoveStatusListener(status)
		c.off()
		if w != nil {
			_ = w.Stop()
		}
	}()
	var retry <-chan time.Time
	delay := watchRetryMin
	restart := func(after time.Duration) {
		c.off()
		if w != nil {
			_ = w.Stop()
		}
		w, updates, retry = nil, nil, time.After(after)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-status:
			switch {
			case !ok || s == nats.CLOSED:
				return
			case s == nats.CONNECTED:
				restart(0)
			default:
				c.off()
			}
		case e, ok := <-updates:
			if !ok {
				log.Warn().Dur("retry_in", delay).Msg("cache bucket watch ended; the in-process cache tier is off until it is back")
				restart(delay)
				continue
			}
			if e != nil {
				c.changed(e.Key(), e.Revision(), e.Operation())
			}
		case <-retry:
			nw, err := c.startWatch(ctx)
			if err != nil {
				delay = min(delay*2, watchRetryMax)
				retry = time.After(delay)
				continue
			}
			w, updates, retry, delay = nw, nw.Updates(), nil, watchRetryMin
		}
	}
}

// off stops serving and forgets everything.
func (c *LocalCache) off() {
	c.live.Store(false)
	c.removals.Add(1)
	c.mu.Lock()
	c.lru.Purge()
	c.mu.Unlock()
}

// changed drops what the bucket no longer holds as it is here.
func (c *LocalCache) changed(key string, rev uint64, op jetstream.KeyValueOp) {
	if op != jetstream.KeyValuePut {
		c.removals.Add(1)
		c.remove(key)
		return
	}
	if cur, ok := c.lru.Peek(key); ok && cur.rev < rev {
		c.remove(key)
	}
}

func (c *LocalCache) remove(key string) {
	c.mu.Lock()
	c.lru.Remove(key)
	c.mu.Unlock()
}

// Get implements OutcomeCache.
func (c *LocalCache) Get(ctx context.Context, alertID string) (CachedOutcome, bool, error) {
	if c.live.Load() {
		if e, ok := c.lru.Get(alertID); ok {
			if c.now().Before(e.expires) {
				c.hits.Add(1)
				return e.o, true, nil
			}
			c.remove(alertID)
		}
	}
	seen := c.removals.Load()
	o, e, ok, err := c.kv.get(ctx, alertID)
	if err != nil || !ok {
		return o, ok, err
	}
	c.keep(alertID, o, e.Revision(), e.Created(), seen)
	return o, true, nil
}

// Put implements OutcomeCache.
func (c *LocalCache) Put(ctx context.Context, alertID string, o CachedOutcome) error {
	seen := c.removals.Load()
	rev, err := c.kv.put(ctx, alertID, o)
	if err != nil {
		return err
	}
	c.keep(alertID, o, rev, c.now(), seen)
	return nil
}

// keep adds an outcome the bucket held at rev (written at created) unless
// a delete or purge came in since seen, or the tier is off, or the
// outcome is too large for the tier (over an eighth of its bytes).
func (c *LocalCache) keep(alertID string, o CachedOutcome, rev uint64, created time.Time, seen uint64) {
	size := len(alertID) + len(o.User) + localEntryOverhead
	if !c.live.Load() || size > c.maxBytes/8 {
		return
	}
	now := c.now()
	expires := created.Add(c.ttl)
	if limit := now.Add(localMaxAge); limit.Before(expires) {
		expires = limit
	}
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Checked under mu: off() bumps removals before it purges under mu, so
	// nothing is added after a purge that this keep should have seen.
	if c.removals.Load() != seen || !c.live.Load() {
		return
	}
	if old, ok := c.lru.Peek(alertID); ok {
		c.bytes -= old.size // replaced: no eviction callback
	}
	c.lru.Add(alertID, localEntry{o: o, rev: rev, expires: expires, size: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// Live reports whether the tier serves outcomes (a watch runs).
func (c *LocalCache) Live() bool { return c.live.Load() }

// Hits is the number of look-ups served from memory.
func (c *LocalCache) Hits() uint64 { return c.hits.Load() }

// Len is the number of outcomes held in memory.
func (c *LocalCache) Len() int { return c.lru.Len() }

// Bytes is the tier's estimate of the memory its outcomes take.
func (c *LocalCache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
