package enrich

import (
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

// TestQuotaClockSkew runs workers whose clocks are 10 minutes ahead and
// behind: on the fleet (server) clock they still keep the limit.
func TestQuotaClockSkew(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	const margin = 20 * time.Millisecond
	limit := config.Limit{Calls: 4, Window: 300 * time.Millisecond}
	var qs []*Quota
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute, 0} {
		q, err := NewQuota(quotaTestKV(t, s, "quota_test"), QuotaOptions{
			Key: "skew", Limits: []config.Limit{limit}, Margin: margin,
			Now: func() time.Time { return time.Now().Add(skew) },
		})
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	grants := quotaRun(t, qs, 1200*time.Millisecond, nil)
	if v := quotaViolations(quotaObserved(grants), limit); v != 0 {
		t.Errorf("%d violations of %s with skewed clocks", v, limit)
	}
	if len(grants) < limit.Calls {
		t.Errorf("only %d grants", len(grants))
	}
	if off := qs[0].Stats().ClockOffset; off > -9*time.Minute || off < -11*time.Minute {
		t.Errorf("clock offset of the worker 10 min ahead = %s, want about -10m", off)
	}
}

func TestQuotaClockBounds(t *testing.T) {
	t.Parallel()
	local := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	now := local
	c := &quotaClock{now: func() time.Time { return now }}
	if lo, hi := c.bounds(local); !lo.Equal(local) || !hi.Equal(local) {
		t.Errorf("unsynced bounds %s..%s, want the local time", lo, hi)
	}
	// The server, 3 s ahead, answered within a 2 ms round trip.
	srv := local.Add(3*time.Second + time.Millisecond)
	c.sample(srv, local, local.Add(2*time.Millisecond))
	at := local.Add(2*time.Millisecond + 10*time.Second)
	lo, hi := c.bounds(at)
	drift := 10 * time.Second / quotaDriftDivisor
	if want := srv.Add(10*time.Second - drift); !lo.Equal(want) {
		t.Errorf("lo = %s, want %s", lo, want)
	}
	if want := srv.Add(2*time.Millisecond + 10*time.Second + drift); !hi.Equal(want) {
		t.Errorf("hi = %s, want %s", hi, want)
	}
	if real := at.Add(3 * time.Second); real.Before(lo) || real.After(hi) {
		t.Errorf("true server time %s outside %s..%s", real, lo, hi)
	}
	// An older sample does not replace a newer one.
	c.sample(local, local.Add(-time.Hour), local.Add(-time.Hour))
	if lo2, _ := c.bounds(at); !lo2.Equal(lo) {
		t.Errorf("older sample moved the clock: %s, want %s", lo2, lo)
	}
	if off, ok := c.offset(); !ok || off < 2990*time.Millisecond || off > 3010*time.Millisecond {
		t.Errorf("offset %s %v, want about 3s", off, ok)
	}
	now = local.Add(time.Second + 500*time.Nanosecond)
	if lo, hi := c.nowMicros(); hi <= lo {
		t.Errorf("nowMicros %d..%d, want lo < hi", lo, hi)
	}
}
