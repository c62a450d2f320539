package enrich

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
)

// QuotaOptions configures a Quota.
type QuotaOptions struct {
	// Key is the KV key that holds the shared state; every worker with the
	// same bucket and key shares one budget. Required; letters, digits and
	// "-/_=." only.
	Key string
	// Limits are the N/W limits, all enforced at once. At least one; every N
	// at most MaxQuotaCalls. Every worker sharing the key must use the same
	// limits: the state keeps only the grants of the writer's largest N.
	Limits []config.Limit
	// Margin is added to every window (N calls per W + Margin). It absorbs
	// the time between a grant and the request reaching the API, and clock
	// error (see Quota).
	Margin time.Duration
	// Now is the local clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the rare warnings (a repaired value, a clock far from
	// the server's); nil means no logging.
	Logger *zerolog.Logger
}

// Quota is the fleet-wide call budget: every worker that shares its bucket
// and key shares one budget. For every limit N/W it enforces, over the grants
// of all workers together, "the N-th most recent grant started at least
// W + Margin ago", so no interval of length W holds more than N calls.
//
// # State and algorithm
//
// One KV entry per key holds the start times of the last max(N) grants and
// the "paused until" time of the latest Retry-After (format on QuotaState).
// A grant reads the entry, computes the earliest time the limits and the
// pause allow (the N-th most recent time plus W + margin, for each limit),
// waits until then (a timer and ctx) if that is later than now, and writes
// the state with its own time added by compare-and-set on the entry's
// revision (kv.Update; kv.Create for an absent key). A lost race is retried,
// after a jitter of at most a few milliseconds, from a fresh read. So every
// grant is checked against all the grants recorded before it, and no two
// workers grant from the same state. The goroutines of one Quota take turns
// (one holds the turn at a time), so they do not race each other, and the
// one that holds the turn grants, in the same compare-and-set, to every
// goroutine of this Quota waiting at that moment, as many as the limits
// admit now: all the grants of a batch are recorded, each with the same
// time, so N waiters cost one write instead of N. A waiter whose ctx ends
// before it is taken into a batch leaves no grant; one taken into a batch
// whose write lands counts as used even if its ctx ended meanwhile.
//
// # Time
//
// Timestamps are on the fleet clock: the clock of the NATS server that
// stores the bucket (the stream leader). Each Quota estimates it from
// samples (the timestamp of a stream info reply, or the store time,
// entry.Created, of an entry it wrote and reads back later) and carries it
// forward with its local monotonic clock, taking a new sample when the last
// is over 5 s old. A reading is an interval [lo, hi] that contains the
// server time, widened by the sample's round trip and by 500 ppm of drift.
// A grant is recorded at hi and allowed only once lo has reached the
// earliest time, so a skewed or stepped worker clock lets no extra call
// through; the price is about one round trip per window. If no sample can
// be taken (the stream info request fails; logged once), the local clock is
// used and the margin is what tolerates skew: a worker whose clock is s
// ahead of another's admits a call W + margin - s after the other's, so
// skews up to the margin (less network jitter) keep the contract. A local
// clock more than margin/2 from the server's is logged once.
//
// The margin also covers the time between the grant (recorded before its
// write) and the request reaching the API.
//
// # Robustness
//
// A value that does not decode, or holds a grant more than the longest
// W + margin in the future, or a pause more than 24 h plus that ahead, is
// treated as "every window full as of now": it is replaced by CAS with max(N)
// grants at the current time, which stops every worker for the longest
// W + margin, and logged (once: by the worker whose repair lands). A value
// with more than max(N) grants (a worker with larger limits) is cut to the
// most recent max(N). A deleted or purged key starts again from an empty
// state. A grant whose Wait returned counts even if its call is never sent
// (a worker died).
type Quota struct {
	kv     jetstream.KeyValue
	key    string
	limits []config.Limit
	ql     []quotaLimit
	maxN   int
	// longest is the longest W + margin, in µs.
	longest int64
	margin  time.Duration
	now     func() time.Time
	log     zerolog.Logger
	clock   *quotaClock
	// turn lets one goroutine at a time run Wait.
	turn chan struct{}
	// waiting are the Wait calls not yet taken into a batch (under mu),
	// oldest first.
	waiting []*quotaWaiter

	mu sync.Mutex
	// cached is the last state this Quota wrote, tried first by the next
	// Wait when the previous one met no conflict.
	cached         *quotaSnapshot
	lastConflicted bool
	// ownRev, ownT0, ownT1: the revision of the last write of this Quota and
	// the local interval around it, for clock samples.
	ownRev       uint64
	ownT0, ownT1 time.Time
	stats        QuotaStats
	// warnedClock: the clock offset was logged; warnedSync: a failed clock
	// sample was logged and none has succeeded since.
	warnedClock, warnedSync bool
}

// quotaSnapshot is a state read from (or written to) the KV, with its
// revision (0: the key is absent) or the reason it could not be decoded.
type quotaSnapshot struct {
	rev     uint64
	state   QuotaState
	corrupt error
}

// QuotaStats are a Quota's figures for metrics, since it was made.
type QuotaStats struct {
	// Granted is the number of grants Wait returned.
	Granted uint64
	// GrantWrites is the number of compare-and-set writes that recorded
	// grants; each records a whole batch, so it is at most Granted.
	GrantWrites uint64
	// CASConflicts is the number of writes lost to another writer.
	CASConflicts uint64
	// Waited is the total time spent in Wait, round trips included.
	Waited time.Duration
	// Paused is the part of Waited spent because of a Retry-After pause.
	Paused time.Duration
	// Waiting is the number of Wait calls in progress now.
	Waiting int
	// Remaining is, per limit, how many more calls the current window
	// admits, as of the last state this Quota saw.
	Remaining []WindowRemaining
	// Repairs is the number of corrupt values this Quota replaced.
	Repairs uint64
	// ClockOffset is the estimated NATS server clock minus the local clock.
	ClockOffset time.Duration
	// ClockSynced is false while no server clock sample could be taken (the
	// local clock is used).
	ClockSynced bool
}

// WindowRemaining is the room left in one limit's window.
type WindowRemaining struct {
	// Limit is the limit, as configured.
	Limit config.Limit
	// Remaining is how many more calls it admits now.
	Remaining int
}

// quotaKeyRe matches the keys NATS KV accepts.
var quotaKeyRe = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

// The Quota is what the HTTP client's limiter needs.
var _ interface {
	Wait(context.Context) error
	Pause(context.Context, time.Time) error
} = (*Quota)(nil)

// NewQuota returns the Quota for opts.Key in the bucket kv (see
// EnsureQuotaBucket). It makes no request; the first Wait or Pause does.
func NewQuota(kv jetstream.KeyValue, opts QuotaOptions) (*Quota, error) {
	if kv == nil {
		return nil, errors.New("new quota: no key-value bucket")
	}
	k := opts.Key
	if !quotaKeyRe.MatchString(k) || k[0] == '.' || k[len(k)-1] == '.' {
		return nil, fmt.Errorf("new quota: key %q: want letters, digits and -/_=. (not at the ends)", k)
	}
	if len(opts.Limits) == 0 {
		return nil, errors.New("new quota: no limits")
	}
	if opts.Margin < 0 {
		return nil, fmt.Errorf("new quota: negative margin %s", opts.Margin)
	}
	q := &Quota{
		kv:     kv,
		key:    k,
		limits: slices.Clone(opts.Limits),
		margin: opts.Margin,
		now:    opts.Now,
		log:    zerolog.Nop(),
		turn:   make(chan struct{}, 1),
	}
	if q.now == nil {
		q.now = time.Now
	}
	if opts.Logger != nil {
		q.log = opts.Logger.With().Str("quota_key", k).Logger()
	}
	for _, l := range opts.Limits {
		if l.Calls <= 0 || l.Calls > MaxQuotaCalls || l.Window <= 0 {
			return nil, fmt.Errorf("new quota: limit %s: want 1 to %d calls in a positive window", l, MaxQuotaCalls)
		}
		span := l.Window + opts.Margin
		if span < l.Window { // overflow
			return nil, fmt.Errorf("new quota: limit %s: window plus margin too long", l)
		}
		ql := quotaLimit{calls: l.Calls, span: quotaCeilMicros(int64(span))}
		q.ql = append(q.ql, ql)
		q.maxN = max(q.maxN, l.Calls)
		q.longest = max(q.longest, ql.span)
	}
	q.clock = &quotaClock{now: q.now}
	return q, nil
}

// Stats returns the Quota's figures so far.
func (q *Quota) Stats() QuotaStats {
	q.mu.Lock()
	s := q.stats
	s.Remaining = slices.Clone(s.Remaining)
	q.mu.Unlock()
	s.ClockOffset, s.ClockSynced = q.clock.offset()
	return s
}

// observe records the room left in each window of s as of now (µs).
func (q *Quota) observe(s QuotaState, now int64) {
	rem := make([]WindowRemaining, len(q.ql))
	for i, l := range q.ql {
		rem[i] = WindowRemaining{Limit: q.limits[i], Remaining: quotaRemaining(s.Grants, l, now)}
	}
	q.mu.Lock()
	q.stats.Remaining = rem
	q.mu.Unlock()
}
