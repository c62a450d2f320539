package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishAll queues every alert and waits until the server stored them.
func (b *bench) publishAll(ctx context.Context, subject string) error {
	for i, id := range b.ids {
		if _, err := b.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: benchBody(i, id)}, jetstream.WithStallWait(10*time.Second)); err != nil {
			return fmt.Errorf("publish alert %d: %w", i, err)
		}
	}
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
		return fmt.Errorf("publish alerts: %w", ctx.Err())
	}
	if n := b.pubErrors.Load(); n > 0 {
		return fmt.Errorf("%d alerts could not be published", n)
	}
	return nil
}

// publishAtRate publishes alert i at start + i/rate.
func (b *bench) publishAtRate(ctx context.Context, subject string, start time.Time) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for i, id := range b.ids {
		t.Reset(time.Until(start.Add(time.Duration(float64(i) / b.o.Rate * float64(time.Second)))))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := b.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: benchBody(i, id)}, jetstream.WithStallWait(10*time.Second)); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("publish alert %d: %w", i, err)
		}
	}
	return nil
}

// benchBody is alert i as published: two in three as a bare ID, the rest
// as a JSON object with a recent lastUpdateTime (so every alert needs the
// API, none is expired).
func benchBody(i int, id string) []byte {
	if i%3 == 1 {
		return fmt.Appendf(nil, `{"id":%q,"title":"Suspicious PowerShell command line","severity":"Medium","lastUpdateTime":%q}`,
			id, time.Now().UTC().Format(time.RFC3339))
	}
	return []byte(id)
}

// lastSeq is the last sequence of a stream (0 when empty).
func (b *bench) lastSeq(ctx context.Context, stream string) (uint64, error) {
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}
