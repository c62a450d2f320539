package enrich

import (
	"context"
	"fmt"
	"time"
)

// quotaMaxPause is the longest pause Pause records: a longer Retry-After is
// cut to it (the next call then meets a new 429 if the API still refuses).
const quotaMaxPause = 24 * time.Hour

// Pause stops every worker's new grants until the time until, on this
// Quota's local clock (QuotaOptions.Now), such as the receipt of a 429 plus
// its Retry-After. An existing later pause is kept; a pause over 24 h is cut
// to 24 h; a time already past changes nothing.
func (q *Quota) Pause(ctx context.Context, until time.Time) error {
	q.maybeSync(ctx)
	_, u := q.clock.bounds(until)
	want := quotaCeilUnixMicro(u)
	if lo, _ := q.clock.nowMicros(); want <= lo {
		return nil
	}
	var snap *quotaSnapshot // read first: a remembered state may be out of date
	for attempt := 0; ; attempt++ {
		if snap == nil {
			s, err := q.load(ctx)
			if err != nil {
				return err
			}
			snap = s
		}
		lo, hi := q.clock.nowMicros()
		if want <= lo {
			return nil
		}
		want = min(want, hi+int64(quotaMaxPause/time.Microsecond))
		st, bad := q.check(snap, hi)
		if bad != nil {
			st = q.fullState(hi)
		} else if st.PausedUntil >= want {
			return nil
		}
		next := QuotaState{PausedUntil: want, Grants: st.Grants}
		t0 := q.now()
		rev, err := q.cas(ctx, snap.rev, next)
		t1 := q.now()
		if quotaIsConflict(err) {
			q.countConflict()
			snap = nil
			if err := q.jitter(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("record quota pause: %w", err)
		}
		if bad != nil {
			q.logRepair(bad)
		}
		q.wrote(&quotaSnapshot{rev: rev, state: next}, t0, t1)
		return nil
	}
}
