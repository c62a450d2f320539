package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/schemas"
)

// CachedOutcome is what the outcome cache keeps per alert ID.
type CachedOutcome struct {
	Status schemas.Status  `json:"status"`
	User   json.RawMessage `json:"user,omitempty"`
}

// OutcomeCache answers repeated alert IDs without an API call. A cache
// error is never fatal to a message: the worker falls back to the API.
type OutcomeCache interface {
	// Get returns the cached outcome for alertID, and whether there was one.
	Get(ctx context.Context, alertID string) (CachedOutcome, bool, error)
	// Put stores the outcome of an API call for alertID.
	Put(ctx context.Context, alertID string, o CachedOutcome) error
}

// KVCache is an OutcomeCache in a JetStream KV bucket; entries expire with
// the bucket's TTL (cache.ttl).
type KVCache struct {
	kv jetstream.KeyValue
}

// NewKVCache returns a cache over kv. Alert IDs are valid KV keys as they
// are (A-Z a-z 0-9 _ -).
func NewKVCache(kv jetstream.KeyValue) *KVCache { return &KVCache{kv: kv} }

// Get implements OutcomeCache.
func (c *KVCache) Get(ctx context.Context, alertID string) (CachedOutcome, bool, error) {
	o, _, ok, err := c.get(ctx, alertID)
	return o, ok, err
}

// get returns the cached outcome with the entry itself (revision,
// creation time).
func (c *KVCache) get(ctx context.Context, alertID string) (CachedOutcome, jetstream.KeyValueEntry, bool, error) {
	e, err := c.kv.Get(ctx, alertID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return CachedOutcome{}, nil, false, nil
	}
	if err != nil {
		return CachedOutcome{}, nil, false, fmt.Errorf("cache get %s: %w", alertID, err)
	}
	var o CachedOutcome
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		return CachedOutcome{}, nil, false, fmt.Errorf("cache get %s: corrupt entry: %w", alertID, err)
	}
	if o.Status != schemas.StatusEnriched && o.Status != schemas.StatusNotFound {
		return CachedOutcome{}, nil, false, fmt.Errorf("cache get %s: unexpected status %q", alertID, o.Status)
	}
	if o.Status == schemas.StatusEnriched && len(o.User) == 0 {
		return CachedOutcome{}, nil, false, fmt.Errorf("cache get %s: enriched entry without a user", alertID)
	}
	return o, e, true, nil
}

// Put implements OutcomeCache.
func (c *KVCache) Put(ctx context.Context, alertID string, o CachedOutcome) error {
	_, err := c.put(ctx, alertID, o)
	return err
}

// put stores o and returns the entry's revision.
func (c *KVCache) put(ctx context.Context, alertID string, o CachedOutcome) (uint64, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return 0, fmt.Errorf("cache put %s: %w", alertID, err)
	}
	rev, err := c.kv.Put(ctx, alertID, b)
	if err != nil {
		return 0, fmt.Errorf("cache put %s: %w", alertID, err)
	}
	return rev, nil
}
