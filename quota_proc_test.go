package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// TestQuotaProcesses is the process-level quota test of issue #4: three
// `enricher run` processes share the limits 20/1s and 60/5s (margin 250 ms)
// that the simulator enforces, with 1000 alerts queued so that demand is
// continuous. After 10 s of work the workers are killed. Asserted: the
// simulator answered no 429, no window of either limit held more than N
// calls, and the calls in the measured interval come within 5% of the most
// the limits allow in it.
//
// The maximum: quotaGreedySchedule grants every call at the earliest moment
// all limits (each N per W + margin, from an empty history) allow; granting
// a call later never lets a later call come sooner, so the count of its
// grants in [0, D] is the most any schedule can make there. For these
// limits the grants come in bursts of 20 at 0, 1.05, 2.1, 5.05, 6.1, 7.15,
// 10.1... s. The measured interval runs from the first call T0 to T0 + D,
// D in the middle of the widest gap between bursts that starts by 8 s
// (7.15 -> 10.1 s, so D = 8.625 s and the maximum is 120 calls): taking D
// inside a gap makes the count insensitive to the few milliseconds a real
// burst spreads over, which the greedy schedule does not have.
func TestQuotaProcesses(t *testing.T) {
	const (
		workers  = 3
		alerts   = 1000
		margin   = 250 * time.Millisecond // covers a loaded CI machine's scheduling delay between grant and call
		runFor   = 10 * time.Second
		gapStart = 8 * time.Second
	)
	specs := []string{"20/1s", "60/5s"}
	limits, err := config.ParseLimits(specs)
	if err != nil {
		t.Fatal(err)
	}
	s := startNATS(t, natsOptions(-1, t.TempDir()))
	js := connectJS(t, s.ClientURL())
	api := startSim(t, sim.Options{Alerts: alerts, Limits: limits})
	cfg := workerConfig{NATSURL: s.ClientURL(), Sim: api, Concurrency: 16, AckWait: "10s", Limits: specs, Margin: margin.String()}.write(t)
	applyConfig(t, cfg)
	publishBodies(t, js, api.AlertIDs(alerts)...)

	procs := make([]*proc, workers)
	for i := range procs {
		procs[i] = startProc(t, fmt.Sprintf("worker %d", i+1), "run", "-config", cfg)
	}
	var t0 time.Time
	waitFor(t, 30*time.Second, "the first API call", func() bool {
		if rs := api.Requests(); len(rs) > 0 {
			t0 = rs[0].Time
			return true
		}
		return false
	})
	// The measurement lasts runFor from the first call: this wait is the
	// length of the experiment, not a synchronisation.
	time.Sleep(time.Until(t0.Add(runFor)))
	for _, p := range procs {
		if p.exited() {
			t.Errorf("%s exited by itself (code %d)", p.name, p.code)
		}
		p.kill()
	}
	for _, p := range procs {
		<-p.done
	}

	st := api.Stats()
	if n := st.ByStatus[http.StatusTooManyRequests]; n != 0 {
		t.Errorf("the simulator answered %d calls with 429, want 0", n)
	}
	for i, l := range limits {
		if got := st.Limits[i].MaxInWindow; got > l.Calls {
			t.Errorf("limit %s: %d calls in one window, want at most %d", l, got, l.Calls)
		}
		t.Logf("limit %s: at most %d calls in a window", l, st.Limits[i].MaxInWindow)
	}

	grants := quotaGreedySchedule(limits, margin, runFor+5*time.Second)
	d := midWidestGap(grants, gapStart)
	want := 0
	for _, g := range grants {
		if g <= d {
			want++
		}
	}
	got := 0
	for _, r := range api.Requests() {
		if off := r.Time.Sub(t0); off >= 0 && off <= d {
			got++
		}
	}
	t.Logf("%d calls in the first %s, the limits allow at most %d; %d calls in all", got, d, want, st.Requests)
	if want == 0 || got*100 < want*95 {
		t.Errorf("%d calls in the first %s, want at least 95%% of the maximum %d", got, d, want)
	}
}

// quotaGreedySchedule returns the grant times, from 0, of the greedy
// schedule over [0, until]: each call at the earliest moment every limit
// N/W allows, counting windows of W + margin.
func quotaGreedySchedule(limits []config.Limit, margin, until time.Duration) []time.Duration {
	var ts []time.Duration
	for {
		var e time.Duration
		for _, l := range limits {
			if len(ts) >= l.Calls {
				e = max(e, ts[len(ts)-l.Calls]+l.Window+margin)
			}
		}
		if e > until {
			return ts
		}
		ts = append(ts, e)
	}
}

// midWidestGap returns the middle of the widest gap between consecutive
// distinct grant times whose start is at or before by (the latest such
// gap on a tie).
func midWidestGap(grants []time.Duration, by time.Duration) time.Duration {
	var best, bestWidth time.Duration
	for i := 0; i+1 < len(grants); i++ {
		a, b := grants[i], grants[i+1]
		if a > by {
			break
		}
		if w := b - a; w > 0 && w >= bestWidth {
			best, bestWidth = a+w/2, w
		}
	}
	return best
}
