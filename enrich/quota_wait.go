package enrich

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// quotaMaxSleep caps one sleep of Wait, after which it reads the state again,
// so that a released grant or a deleted key is noticed.
const quotaMaxSleep = 2 * time.Second

// Wait blocks until one API call may be sent now, and records the grant. It
// returns ctx's error if ctx ends first, or the error of a KV request (no
// grant is then given; a grant whose write outcome is unknown is counted and
// wasted, never given twice).
func (q *Quota) Wait(ctx context.Context) error {
	_, err := q.WaitGrant(ctx)
	return err
}

// WaitGrant is Wait that also returns the grant's recorded time (on the
// fleet clock).
func (q *Quota) WaitGrant(ctx context.Context) (time.Time, error) {
	start := q.now()
	var paused time.Duration
	q.mu.Lock()
	q.stats.Waiting++
	q.mu.Unlock()
	granted := false
	defer func() {
		d := q.now().Sub(start)
		q.mu.Lock()
		q.stats.Waiting--
		q.stats.Waited += d
		q.stats.Paused += paused
		if granted {
			q.stats.Granted++
		}
		q.mu.Unlock()
	}()
	w := q.enqueue(ctx)
	for {
		select {
		case q.turn <- struct{}{}:
			if !q.lead(w) { // granted by the previous turn holder
				<-q.turn
				continue
			}
			ts, err := q.grant(ctx, &paused)
			<-q.turn
			granted = err == nil
			return ts, err
		case <-w.done:
			granted = true
			return time.UnixMicro(w.grant), nil
		case <-ctx.Done():
			if g, ok := q.leave(w); ok {
				granted = true
				return time.UnixMicro(g), nil
			}
			return time.Time{}, fmt.Errorf("wait for quota: %w", ctx.Err())
		}
	}
}

// grant runs while its caller holds the turn: it waits until the limits
// admit a grant, then records one for the caller and one for each waiter of
// this Quota the limits also admit now, in one compare-and-set.
func (q *Quota) grant(ctx context.Context, paused *time.Duration) (time.Time, error) {
	snap := q.startSnapshot()
	// fresh: snap was just read or written, not remembered from before.
	fresh := false
	conflicted := false
	defer func() {
		q.mu.Lock()
		q.lastConflicted = conflicted
		q.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return time.Time{}, fmt.Errorf("wait for quota: %w", err)
		}
		q.maybeSync(ctx) // a no-op unless the clock sample is old
		if snap == nil {
			s, err := q.load(ctx)
			if err != nil {
				return time.Time{}, err
			}
			snap, fresh = s, true
		}
		lo, hi := q.clock.nowMicros()
		st, bad := q.check(snap, hi)
		if bad != nil {
			s, err := q.repair(ctx, snap, bad, hi)
			if err != nil {
				return time.Time{}, err
			}
			if s == nil {
				conflicted = true
				if err := q.jitter(ctx, attempt); err != nil {
					return time.Time{}, err
				}
			}
			snap, fresh = s, true // s is nil after a lost race: read again
			continue
		}
		if e := quotaEarliest(st, q.ql); e > lo {
			if !fresh {
				// A remembered state may be out of date (a release, a
				// deleted key): sleep only on what the KV says now.
				snap = nil
				continue
			}
			q.observe(st, lo)
			d := time.Duration(e-lo) * time.Microsecond
			reload := d > quotaMaxSleep
			d = min(d, quotaMaxSleep)
			if st.PausedUntil > lo {
				*paused += min(d, time.Duration(st.PausedUntil-lo)*time.Microsecond)
			}
			if err := quotaSleep(ctx, d); err != nil {
				return time.Time{}, fmt.Errorf("wait for quota: %w", err)
			}
			if reload {
				snap = nil
			}
			// Otherwise try the same state: the CAS tells if it moved on.
			continue
		}
		// The caller's grant is admitted (e <= lo); add the waiters the room allows.
		batch := q.claim(quotaRoom(st, q.ql, lo, hi, 1+q.pending()) - 1)
		next := QuotaState{PausedUntil: st.PausedUntil, Grants: quotaWithGrants(st.Grants, hi, 1+len(batch), q.maxN)}
		t0 := q.now()
		rev, err := q.cas(ctx, snap.rev, next)
		t1 := q.now()
		if quotaIsConflict(err) {
			q.unclaim(batch)
			conflicted = true
			q.countConflict()
			snap = nil
			if err := q.jitter(ctx, attempt); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if err != nil {
			// The outcome is unknown: the grants may be recorded (then
			// wasted, never used twice). The others of the batch wait
			// for the next turn holder rather than fail on w's error.
			q.unclaim(batch)
			return time.Time{}, fmt.Errorf("record quota grant: %w", err)
		}
		q.wrote(&quotaSnapshot{rev: rev, state: next}, t0, t1)
		q.observe(next, lo)
		q.mu.Lock()
		q.stats.GrantWrites++
		q.mu.Unlock()
		q.settle(batch, hi)
		return time.UnixMicro(hi), nil
	}
}

// pending returns the number of waiters not yet taken into a batch.
func (q *Quota) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// startSnapshot returns the state this Quota last wrote if the last Wait met
// no conflict (it is then likely still current), else nil (read first).
func (q *Quota) startSnapshot() *quotaSnapshot {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lastConflicted {
		return nil
	}
	return q.cached
}

// jitter sleeps a little after a lost race: up to 100 µs doubled per
// attempt, at most 3.2 ms.
func (q *Quota) jitter(ctx context.Context, attempt int) error {
	d := rand.N(100 * time.Microsecond << min(attempt, 5))
	if err := quotaSleep(ctx, d); err != nil {
		return fmt.Errorf("wait for quota: %w", err)
	}
	return nil
}

// quotaSleep waits for d or until ctx ends.
func quotaSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
