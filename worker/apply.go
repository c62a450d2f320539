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
// lost reply with jitter). It returns the changes it made.
func Apply(ctx context.Context, js jetstream.JetStream, resources []Resource) ([]Change, error) {
	var done []Change
	for _, r := range resources {
		var (
			changes []Change
			err     error
		)
		for attempt := 0; attempt < 5; attempt++ {
			changes, err = Plan(ctx, js, []Resource{r})
			if err == nil {
				err = applyOne(ctx, js, changes[0])
			}
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
		_, err := js.UpdateStream(ctx, r.stream)
		return err
	case r.Kind == KindKV && c.Action == ActionCreate:
		_, err := js.CreateKeyValue(ctx, r.kv)
		if errors.Is(err, jetstream.ErrBucketExists) {
			return errRace
		}
		return err
	case r.Kind == KindKV:
		_, err := js.UpdateKeyValue(ctx, r.kv)
		return err
	case c.Action == ActionCreate:
		_, err := js.CreateConsumer(ctx, r.Stream, r.consumer)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			return errRace
		}
		return err
	default:
		_, err := js.UpdateConsumer(ctx, r.Stream, r.consumer)
		return err
	}
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
