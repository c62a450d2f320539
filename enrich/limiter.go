package enrich

import (
	"context"
	"time"
)

// Limiter is the shared quota as the client needs it.
type Limiter interface {
	// Wait blocks until one call may be sent now, and records it.
	Wait(ctx context.Context) error
	// Pause records a 429's Retry-After: no new calls by anyone until then.
	Pause(ctx context.Context, until time.Time) error
}

// NoLimit is a Limiter that never waits and ignores pauses; use the value
// NoLimit{}. The client still honours a Retry-After for its own next attempt.
type NoLimit struct{}

var _ Limiter = NoLimit{}

// Wait returns at once: ctx's error if it is done, else nil.
func (NoLimit) Wait(ctx context.Context) error { return ctx.Err() }

// Pause does nothing and returns nil.
func (NoLimit) Pause(context.Context, time.Time) error { return nil }
