package enrich

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// load reads the key. An absent, deleted or purged key is an empty state at
// revision 0; an undecodable value is a snapshot marked corrupt.
func (q *Quota) load(ctx context.Context) (*quotaSnapshot, error) {
	e, err := q.kv.Get(ctx, q.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return &quotaSnapshot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read quota state: %w", err)
	}
	q.mu.Lock()
	own, t0, t1 := q.ownRev, q.ownT0, q.ownT1
	q.mu.Unlock()
	if own != 0 && e.Revision() == own {
		// The server stored our write at Created, between t0 and t1.
		q.clock.sample(e.Created(), t0, t1)
	}
	s, err := DecodeQuotaState(e.Value())
	return &quotaSnapshot{rev: e.Revision(), state: s, corrupt: err}, nil
}

// check returns the usable state of snap at fleet time hi (µs), or why it
// is not usable. It drops grants beyond max(N) (from workers with other
// limits).
func (q *Quota) check(snap *quotaSnapshot, hi int64) (QuotaState, error) {
	if snap.corrupt != nil {
		return QuotaState{}, snap.corrupt
	}
	s := snap.state
	if n := len(s.Grants); n > 0 && s.Grants[n-1] > hi+q.longest {
		return QuotaState{}, fmt.Errorf("%w: a grant %s in the future", ErrCorruptQuotaState,
			time.Duration(s.Grants[n-1]-hi)*time.Microsecond)
	}
	if s.PausedUntil > hi+q.longest+int64(quotaMaxPause/time.Microsecond) {
		return QuotaState{}, fmt.Errorf("%w: a pause %s in the future", ErrCorruptQuotaState,
			time.Duration(s.PausedUntil-hi)*time.Microsecond)
	}
	if len(s.Grants) > q.maxN {
		s.Grants = s.Grants[len(s.Grants)-q.maxN:]
	}
	return s, nil
}

// fullState is the state that stands for an unreadable one: every window
// full as of hi, so no grant for the longest W + margin.
func (q *Quota) fullState(hi int64) QuotaState {
	g := make([]int64, q.maxN)
	for i := range g {
		g[i] = hi
	}
	return QuotaState{Grants: g}
}

// repair replaces the corrupt state of snap with fullState by CAS. It
// returns the new snapshot, or nil if another writer changed the key first.
func (q *Quota) repair(ctx context.Context, snap *quotaSnapshot, why error, hi int64) (*quotaSnapshot, error) {
	next := q.fullState(hi)
	t0 := q.now()
	rev, err := q.cas(ctx, snap.rev, next)
	t1 := q.now()
	if quotaIsConflict(err) {
		q.countConflict()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("repair quota state: %w", err)
	}
	q.logRepair(why)
	s := &quotaSnapshot{rev: rev, state: next}
	q.wrote(s, t0, t1)
	return s, nil
}

// logRepair counts and logs a repaired value.
func (q *Quota) logRepair(why error) {
	q.mu.Lock()
	q.stats.Repairs++
	q.mu.Unlock()
	q.log.Warn().Err(why).Dur("blocked_for", time.Duration(q.longest)*time.Microsecond).
		Msg("quota state unreadable: replaced with full windows")
}

// cas writes s if the key is still at rev (absent when rev is 0).
func (q *Quota) cas(ctx context.Context, rev uint64, s QuotaState) (uint64, error) {
	if rev == 0 {
		return q.kv.Create(ctx, q.key, s.Encode())
	}
	return q.kv.Update(ctx, q.key, s.Encode(), rev)
}

// wrote remembers a successful write: the snapshot for the next Wait and the
// local interval around it for a clock sample.
func (q *Quota) wrote(s *quotaSnapshot, t0, t1 time.Time) {
	q.mu.Lock()
	q.cached = s
	q.ownRev, q.ownT0, q.ownT1 = s.rev, t0, t1
	q.mu.Unlock()
}

func (q *Quota) countConflict() {
	q.mu.Lock()
	q.stats.CASConflicts++
	q.mu.Unlock()
}

// maybeSync takes a server clock sample if the last one is old. A failure
// is logged (once per failure streak) and leaves the previous estimate, or
// the local clock.
func (q *Quota) maybeSync(ctx context.Context) {
	if !q.clock.stale() {
		return
	}
	t0 := q.now()
	st, err := q.kv.Status(ctx)
	t1 := q.now()
	var ts time.Time
	if err == nil {
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo() != nil {
			ts = bs.StreamInfo().TimeStamp
		}
	}
	if ts.IsZero() {
		q.mu.Lock()
		warn := !q.warnedSync && ctx.Err() == nil
		q.warnedSync = q.warnedSync || warn
		q.mu.Unlock()
		if warn {
			q.log.Warn().Err(err).Msg("quota: cannot read the NATS server clock; using the local clock")
		}
		return
	}
	q.clock.sample(ts, t0, t1)
	off, _ := q.clock.offset()
	q.mu.Lock()
	q.warnedSync = false
	warn := !q.warnedClock && (off > q.margin/2 || -off > q.margin/2)
	q.warnedClock = q.warnedClock || warn
	q.mu.Unlock()
	if warn {
		q.log.Warn().Dur("offset", off).Msg("quota: the local clock differs from the NATS server clock; the quota uses the server clock")
	}
}

// quotaIsConflict reports whether err is a lost compare-and-set.
func quotaIsConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
