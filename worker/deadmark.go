package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadMarks remembers, per input message, what its earlier deliveries
// left for the next one: the dead letter decided, so that a redelivery
// (the Term was lost, or the worker died after storing the dead letter)
// settles the same way instead of maybe producing an output event as well
// (every input ends in exactly one place); and, under a key of its own so
// that it can never overwrite a dead letter's mark, the HTTP attempts made
// by deliveries that ended in a retry, so that the event's attempts counts
// every attempt made for it.
type DeadMarks interface {
	// MarkDead records the dead letter of stream/seq before it is stored.
	MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error
	// DeadMark returns the recorded dead letter of stream/seq, if any.
	DeadMark(ctx context.Context, stream string, seq uint64) (class, reason string, ok bool, err error)
	// MarkAttempts records that the deliveries of stream/seq have made
	// attempts HTTP attempts so far, before the message is retried.
	MarkAttempts(ctx context.Context, stream string, seq uint64, attempts int) error
	// Attempts returns what MarkAttempts recorded for stream/seq (0 if
	// nothing).
	Attempts(ctx context.Context, stream string, seq uint64) (int, error)
}

// deadMarkKey and attemptsKey cannot collide with an alert ID (IDs have no
// dots) nor with each other.
func deadMarkKey(stream string, seq uint64) string { return fmt.Sprintf("dlq.%s.%d", stream, seq) }

func attemptsKey(stream string, seq uint64) string { return fmt.Sprintf("att.%s.%d", stream, seq) }

type deadMark struct {
	Class  string `json:"class"`
	Reason string `json:"reason"`
}

type attemptsMark struct {
	Attempts int `json:"attempts"`
}

// MarkDead implements DeadMarks in the outcome-cache bucket (its TTL, 24 h
// by default, outlives any redelivery of the message).
func (c *KVCache) MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error {
	return c.putMark(ctx, deadMarkKey(stream, seq), deadMark{Class: class, Reason: reason})
}

// MarkAttempts implements DeadMarks, in the same bucket.
func (c *KVCache) MarkAttempts(ctx context.Context, stream string, seq uint64, attempts int) error {
	return c.putMark(ctx, attemptsKey(stream, seq), attemptsMark{Attempts: attempts})
}

func (c *KVCache) putMark(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("mark %s: %w", key, err)
	}
	if _, err := c.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("mark %s: %w", key, err)
	}
	return nil
}

// getMark reads key into v; ok is false when there is no such key.
func (c *KVCache) getMark(ctx context.Context, key string, v any) (bool, error) {
	e, err := c.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the mark %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("read the mark %s: corrupt entry", key)
	}
	return true, nil
}

// DeadMark implements DeadMarks.
func (c *KVCache) DeadMark(ctx context.Context, stream string, seq uint64) (string, string, bool, error) {
	var m deadMark
	ok, err := c.getMark(ctx, deadMarkKey(stream, seq), &m)
	if err != nil || !ok {
		return "", "", false, err
	}
	if m.Class == "" {
		return "", "", false, fmt.Errorf("read the mark %s: corrupt entry", deadMarkKey(stream, seq))
	}
	return m.Class, m.Reason, true, nil
}

// Attempts implements DeadMarks.
func (c *KVCache) Attempts(ctx context.Context, stream string, seq uint64) (int, error) {
	var m attemptsMark
	ok, err := c.getMark(ctx, attemptsKey(stream, seq), &m)
	if err != nil || !ok {
		return 0, err
	}
	if m.Attempts < 0 {
		return 0, fmt.Errorf("read the mark %s: corrupt entry", attemptsKey(stream, seq))
	}
	return m.Attempts, nil
}
