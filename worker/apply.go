package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Apply creates or updates the declared resources so that a following Plan
// shows no change. It is idempotent and safe when many workers apply at the
// same moment (it creates first and updates only what differs, retrying a
// lost reply with jitter after a short timeout). An update changes only
// the declared attributes and keeps every other setting. It returns the
// changes it made.
func Apply(ctx context.Context, js jetstream.JetStream, resources []Resource) ([]Change, error) {
	var done []Change
	for _, r := range resources {
		var (
			changes []Change
			err     error
		)
		for attempt := range applyAttempts {
			actx, cancel := context.WithTimeout(ctx, attemptTimeout(attempt))
			changes, err = Plan(actx, js, []Resource{r})
			if err == nil {
				err = applyOne(actx, js, changes[0])
			}
			cancel()
			if err == nil || !retryableAPIError(err) {
				break
			}
			select {
			case <-ctx.Done():
				return done, fmt.Errorf("apply %s: %w", r.ID(), ctx.Err())
			case <-time.After(time.Duration(100+rand.IntN(400)) * time.Millisecond):
			}
		}
		if err != nil {
			return done, fmt.Errorf("apply %s: %w", r.ID(), err)
		}
		done = append(done, changes[0])
	}
	return done, nil
}

func applyOne(ctx context.Context, js jetstream.JetStream, c Change) error {
	r := c.resource
	switch {
	case c.Action == ActionNone:
		return nil
	case r.Kind == KindStream && c.Action == ActionCreate:
		_, err := js.CreateStream(ctx, r.stream)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return errRace
		}
		return err
	case r.Kind == KindStream:
		return updateStream(ctx, js, r.Name, func(c *jetstream.StreamConfig) {
			c.Subjects, c.Replicas, c.Duplicates = r.stream.Subjects, r.stream.Replicas, r.stream.Duplicates
			c.Storage, c.Retention = r.stream.Storage, r.stream.Retention
		})
	case r.Kind == KindKV && c.Action == ActionCreate:
		_, err := js.CreateKeyValue(ctx, r.kv)
		if errors.Is(err, jetstream.ErrBucketExists) {
			return errRace
		}
		return err
	case r.Kind == KindKV:
		return updateStream(ctx, js, "KV_"+r.Name, func(c *jetstream.StreamConfig) {
			c.Replicas, c.MaxAge, c.Storage = r.kv.Replicas, r.kv.TTL, r.kv.Storage
			c.MaxMsgsPerSubject = int64(max(r.kv.History, 1))
			if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
				c.Duplicates = c.MaxAge // the server rejects a window longer than max age
			}
		})
	case c.Action == ActionCreate:
		_, err := js.CreateConsumer(ctx, r.Stream, r.consumer)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			return errRace
		}
		return err
	default:
		cons, err := js.Consumer(ctx, r.Stream, r.Name)
		if err != nil {
			return err
		}
		cfg, want := cons.CachedInfo().Config, r.consumer
		cfg.AckPolicy, cfg.AckWait, cfg.MaxDeliver = want.AckPolicy, want.AckWait, want.MaxDeliver
		cfg.MaxAckPending, cfg.DeliverPolicy = want.MaxAckPending, want.DeliverPolicy
		if cfg.Metadata == nil {
			cfg.Metadata = map[string]string{}
		}
		for k, v := range want.Metadata {
			cfg.Metadata[k] = v
		}
		_, err = js.UpdateConsumer(ctx, r.Stream, cfg)
		return err
	}
}

// updateStream changes only the declared attributes of a stream (set by
// declare) and keeps every other setting the server has, such as an
// operator's retention limits: an update changes what the plan showed and
// nothing else.
func updateStream(ctx context.Context, js jetstream.JetStream, name string, declare func(*jetstream.StreamConfig)) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	declare(&cfg)
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// applyAttempts is how many times Apply tries each resource.
const applyAttempts = 5

// attemptTimeout bounds one plan-and-apply attempt of a resource: 1 s, 2 s,
// 4 s, then 8 s. A healthy server answers in milliseconds, but on a
// nats-server 2.15 cluster two processes creating the same replicated
// stream at once can lose one reply (the stream is created all the same):
// a short first attempt makes that cost about a second instead of the
// client's 5 s default, and the longer later attempts still let a slow
// cluster finish.
func attemptTimeout(attempt int) time.Duration {
	return min(time.Second<<attempt, 8*time.Second)
}

// errRace means another process created the resource between plan and
// apply; planning again settles it.
var errRace = errors.New("created concurrently by another process")

func retryableAPIError(err error) bool {
	return errors.Is(err, errRace) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse) || isTimeout(err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
