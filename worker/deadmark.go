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
// (every input ends in exactly one place); and the HTTP attempts made by
// deliveries that ended in a retry, so that the event's attempts counts
// every attempt made for it.
type DeadMarks interface {
	// MarkDead records the dead letter of stream/seq before it is stored.
	MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error
	// MarkAttempts records that the deliveries of stream/seq have made
	// attempts HTTP attempts so far, before the message is retried.
	MarkAttempts(ctx context.Context, stream string, seq uint64, attempts int) error
	// DeadMark returns what was recorded for stream/seq; ok is false when
	// nothing was.
	DeadMark(ctx context.Context, stream string, seq uint64) (m MessageMark, ok bool, err error)
}

// MessageMark is what earlier deliveries of an input message recorded.
type MessageMark struct {
	// Class and Reason are the dead letter decided ("" = none).
	Class  string `json:"class,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Attempts counts the HTTP attempts of the deliveries that ended in a
	// retry.
	Attempts int `json:"attempts,omitempty"`
}

// deadMarkKey cannot collide with an alert ID: IDs have no dots.
func deadMarkKey(stream string, seq uint64) string { return fmt.Sprintf("dlq.%s.%d", stream, seq) }

// MarkDead implements DeadMarks in the outcome-cache bucket (its TTL, 24 h
// by default, outlives any redelivery of the message).
func (c *KVCache) MarkDead(ctx context.Context, stream string, seq uint64, class, reason string) error {
	return c.putMark(ctx, stream, seq, MessageMark{Class: class, Reason: reason})
}

// MarkAttempts implements DeadMarks, in the same key.
func (c *KVCache) MarkAttempts(ctx context.Context, stream string, seq uint64, attempts int) error {
	return c.putMark(ctx, stream, seq, MessageMark{Attempts: attempts})
}

func (c *KVCache) putMark(ctx context.Context, stream string, seq uint64, m MessageMark) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("mark %s/%d: %w", stream, seq, err)
	}
	if _, err := c.kv.Put(ctx, deadMarkKey(stream, seq), b); err != nil {
		return fmt.Errorf("mark %s/%d: %w", stream, seq, err)
	}
	return nil
}

// DeadMark implements DeadMarks.
func (c *KVCache) DeadMark(ctx context.Context, stream string, seq uint64) (MessageMark, bool, error) {
	e, err := c.kv.Get(ctx, deadMarkKey(stream, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return MessageMark{}, false, nil
	}
	if err != nil {
		return MessageMark{}, false, fmt.Errorf("read the mark of %s/%d: %w", stream, seq, err)
	}
	var m MessageMark
	if err := json.Unmarshal(e.Value(), &m); err != nil || (m.Class == "" && m.Attempts <= 0) || m.Attempts < 0 {
		return MessageMark{}, false, fmt.Errorf("read the mark of %s/%d: corrupt entry", stream, seq)
	}
	return m, true, nil
}
