package enrich

import (
	"time"

	"github.com/sethvargo/go-retry"
)

// newBackoff builds the backoff of one GetUser call: attempts-1 retries,
// exponential from base with ±20% jitter, each wait capped at maxDelay,
// then stretched to honour a Retry-After (see retryAfterBackoff). go-retry
// backoffs carry state, so one is built per call and never shared.
func newBackoff(attempts int, base, maxDelay time.Duration, notBefore *time.Time) retry.Backoff {
	b := retry.NewExponential(base)
	b = retry.WithJitterPercent(20, b)
	b = retry.WithCappedDuration(maxDelay, b)
	b = retry.WithMaxRetries(uint64(attempts-1), b)
	return &retryAfterBackoff{next: b, notBefore: notBefore, now: time.Now}
}

// retryAfterBackoff waits max(the wrapped backoff, the time left until
// *notBefore), so no attempt is sent before a Retry-After has elapsed. The
// Retry-After wait is not capped by the maximum delay.
type retryAfterBackoff struct {
	next      retry.Backoff
	notBefore *time.Time // set by the call when a Retry-After is received
	now       func() time.Time
}

// Next implements retry.Backoff.
func (b *retryAfterBackoff) Next() (time.Duration, bool) {
	d, stop := b.next.Next()
	if stop {
		return 0, true
	}
	if left := b.notBefore.Sub(b.now()); left > d {
		d = left
	}
	return d, false
}
