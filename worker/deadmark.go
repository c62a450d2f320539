package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadMarks remembers the dead letter decided for an input message, so
// that a redelivery (the Term was lost, or the worker died after storing
// the dead letter) settles the same way instead of maybe producing an
// output event as well: every input ends in exactly one place.
type DeadMarks interface {
	// MarkDead records the dead letter of stream/seq before it is stored.
	MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error
	// DeadMark returns the recorded dead letter of stream/seq, if any.
	DeadMark(ctx context.Context, stream string, seq uint64) (class, reason string, ok bool, err error)
}

// deadMarkKey cannot collide with an alert ID: IDs have no dots.
func deadMarkKey(stream string, seq uint64) string { return fmt.Sprintf("dlq.%s.%d", stream, seq) }

type deadMark struct {
	Class  string `json:"class"`
	Reason string `json:"reason"`
}

// MarkDead implements DeadMarks in the outcome-cache bucket (its TTL, 24 h
// by default, outlives any redelivery of the message).
func (c *KVCache) MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error {
	b, err := json.Marshal(deadMark{Class: class, Reason: reason})
	if err != nil {
		return fmt.Errorf("mark dead letter %s/%d: %w", stream, seq, err)
	}
	if _, err := c.kv.Put(ctx, deadMarkKey(stream, seq), b); err != nil {
		return fmt.Errorf("mark dead letter %s/%d: %w", stream, seq, err)
	}
	return nil
}

// DeadMark implements DeadMarks.
func (c *KVCache) DeadMark(ctx context.Context, stream string, seq uint64) (string, string, bool, error) {
	e, err := c.kv.Get(ctx, deadMarkKey(stream, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read dead-letter mark %s/%d: %w", stream, seq, err)
	}
	var m deadMark
	if err := json.Unmarshal(e.Value(), &m); err != nil || m.Class == "" {
		return "", "", false, fmt.Errorf("read dead-letter mark %s/%d: corrupt entry", stream, seq)
	}
	return m.Class, m.Reason, true, nil
}
