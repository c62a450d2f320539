package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// localMaxAge bounds how long an outcome stays in the in-process tier,
// whatever the bucket's TTL: the watch reports every key written, deleted
// or purged, but not a purge of the whole stream behind the bucket.
const localMaxAge = 5 * time.Minute

// LocalCache is an in-process tier in front of the KV bucket: the most
// recent outcomes, in a bounded LRU, so that a repeated alert ID costs no
// NATS round trip. It stays coherent with the bucket through a watch of
// the bucket's alert keys (headers only): an entry that anyone deletes,
// purges or overwrites is dropped here as soon as the watch reports it.
// One race is left open on purpose: another worker's overwrite reported
// between this tier's read (or write) of the bucket and its keeping the
// outcome leaves the older outcome here (for at most localMaxAge). Both
// are API answers for the same alert; guarding against it would discard
// most keeps of a busy fleet.
// Until Watch has started, and after the watch ends, every call goes
// straight to the bucket.
type LocalCache struct {
	kv  *KVCache
	lru *lru.Cache[string, localEntry]
	ttl time.Duration
	now func() time.Time
	// removals counts the deletes and purges the watch has seen: an
	// outcome read from (or written to) the bucket is kept only if none
	// came in meanwhile, so a purge racing with a read never leaves the
	// purged outcome here.
	removals atomic.Uint64
	live     atomic.Bool
	hits     atomic.Uint64
}

// localEntry is one outcome with the bucket revision it came from.
type localEntry struct {
	o       CachedOutcome
	rev     uint64
	expires time.Time
}

// NewLocalCache returns a tier of at most size outcomes in front of kv;
// ttl is the bucket's (cache.ttl). It serves nothing until Watch runs.
func NewLocalCache(kv *KVCache, size int, ttl time.Duration) (*LocalCache, error) {
	l, err := lru.New[string, localEntry](size)
	if err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	return &LocalCache{kv: kv, lru: l, ttl: ttl, now: time.Now}, nil
}

// Watch starts following the bucket's changes and returns once the
// watch is in place; from then on, until ctx ends or the watch fails, the
// tier serves outcomes. It returns an error when the watch cannot start
// (the tier then stays off and every call goes to the bucket).
func (c *LocalCache) Watch(ctx context.Context, log zerolog.Logger) error {
	// "*" is one token: the alert IDs, not the dead-letter marks (dlq.*).
	w, err := c.kv.kv.Watch(ctx, "*", jetstream.MetaOnly(), jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch cache bucket: %w", err)
	}
	c.lru.Purge() // nothing from a time no watch ran
	c.live.Store(true)
	go func() {
		defer func() {
			c.live.Store(false)
			c.lru.Purge()
			_ = w.Stop()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					if ctx.Err() == nil {
						log.Warn().Msg("cache bucket watch ended; the in-process cache tier is off")
					}
					return
				}
				if e != nil {
					c.changed(e.Key(), e.Revision(), e.Operation())
				}
			}
		}
	}()
	return nil
}

// changed drops what the bucket no longer holds as it is here.
func (c *LocalCache) changed(key string, rev uint64, op jetstream.KeyValueOp) {
	if op != jetstream.KeyValuePut {
		c.removals.Add(1)
		c.lru.Remove(key)
		return
	}
	if cur, ok := c.lru.Peek(key); ok && cur.rev < rev {
		c.lru.Remove(key)
	}
}

// Get implements OutcomeCache.
func (c *LocalCache) Get(ctx context.Context, alertID string) (CachedOutcome, bool, error) {
	if c.live.Load() {
		if e, ok := c.lru.Get(alertID); ok {
			if c.now().Before(e.expires) {
				c.hits.Add(1)
				return e.o, true, nil
			}
			c.lru.Remove(alertID)
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
// a delete or purge came in since seen.
func (c *LocalCache) keep(alertID string, o CachedOutcome, rev uint64, created time.Time, seen uint64) {
	if !c.live.Load() || c.removals.Load() != seen {
		return
	}
	now := c.now()
	expires := created.Add(c.ttl)
	if cap := now.Add(localMaxAge); cap.Before(expires) {
		expires = cap
	}
	if !now.Before(expires) {
		return
	}
	c.lru.Add(alertID, localEntry{o: o, rev: rev, expires: expires})
	if !c.live.Load() {
		c.lru.Remove(alertID) // the watch ended meanwhile
	}
}

// Live reports whether the tier serves outcomes (its watch runs).
func (c *LocalCache) Live() bool { return c.live.Load() }

// Hits is the number of look-ups served from memory.
func (c *LocalCache) Hits() uint64 { return c.hits.Load() }

// Len is the number of outcomes held in memory.
func (c *LocalCache) Len() int { return c.lru.Len() }
