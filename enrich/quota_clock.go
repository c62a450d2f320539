package enrich

import (
	"sync"
	"time"
)

// quotaDriftDivisor bounds the rate difference between the local clock and
// the server clock between two samples: 1/2000 = 500 ppm, the most an NTP
// daemon slews a clock.
const quotaDriftDivisor = 2000

// quotaClockResync is how old the last clock sample may be before a Wait
// takes a fresh one from the server.
const quotaClockResync = 5 * time.Second

// quotaClock is the fleet clock: the clock of the NATS server that stores the
// quota bucket, as seen from this process. It is estimated from a sample, a
// server timestamp known to fall inside a local interval [t0, t1] (a stream
// info reply, or the store time of a value this process wrote), and carried
// forward with the local monotonic clock. It answers with bounds, never a
// guess: the server time at any moment lies within [lo, hi], widened by
// the sample's round trip and by drift.
type quotaClock struct {
	now func() time.Time

	mu sync.Mutex
	// ref is the local time of the sample (it keeps its monotonic reading,
	// so a step of the local wall clock does not move the fleet clock).
	ref time.Time
	// srvLo and srvHi bound the server time at ref.
	srvLo, srvHi time.Time
	synced       bool
	// tried is when a sample was last attempted, to space failed attempts.
	tried time.Time
}

// sample records that the server clock read srv at some local moment within
// [t0, t1].
func (c *quotaClock) sample(srv, t0, t1 time.Time) {
	if srv.IsZero() || t1.Before(t0) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.synced && t1.Before(c.ref) {
		return // older than the sample in use
	}
	// At t1 the server clock reads at least srv and at most srv + (t1 - t0).
	c.ref, c.srvLo, c.srvHi, c.synced = t1, srv, srv.Add(t1.Sub(t0)), true
}

// stale reports whether a new sample should be taken now, and marks the
// attempt so that concurrent callers do not all probe.
func (c *quotaClock) stale() bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.synced && now.Sub(c.ref) < quotaClockResync {
		return false
	}
	if !c.tried.IsZero() && now.Sub(c.tried) < quotaClockResync {
		return false
	}
	c.tried = now
	return true
}

// bounds returns the fleet-time bounds of the local time t.
func (c *quotaClock) bounds(t time.Time) (lo, hi time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced {
		return t, t
	}
	el := t.Sub(c.ref)
	drift := el / quotaDriftDivisor
	if drift < 0 {
		drift = -drift
	}
	return c.srvLo.Add(el - drift), c.srvHi.Add(el + drift)
}

// nowMicros returns the bounds of the fleet time now, in Unix microseconds:
// lo rounded down, hi rounded up.
func (c *quotaClock) nowMicros() (lo, hi int64) {
	l, h := c.bounds(c.now())
	return l.UnixMicro(), quotaCeilUnixMicro(h)
}

// offset returns the estimated server clock minus the local clock, and
// whether a sample exists.
func (c *quotaClock) offset() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced {
		return 0, false
	}
	mid := c.srvLo.Add(c.srvHi.Sub(c.srvLo) / 2)
	return mid.Sub(c.ref), true
}

// quotaCeilUnixMicro is t.UnixMicro() (which rounds down) rounded up.
func quotaCeilUnixMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}
