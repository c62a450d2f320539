package sim

import (
	"net/http"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

// step is one call of a scripted sequence: advance the clock by after, then
// call; want is the status and, for a 429, the Retry-After.
type step struct {
	after      time.Duration
	client     string
	want       int
	retryAfter string
}

func runSteps(t *testing.T, limits []config.Limit, steps []step) *Server {
	t.Helper()
	clock := newFakeClock()
	s, ts := start(t, Options{Limits: limits, Now: clock.Now})
	id := firstWithUser(t, s)
	tokens := map[string]string{}
	for i, st := range steps {
		client := st.client
		if client == "" {
			client = "a"
		}
		if tokens[client] == "" {
			tokens[client] = getToken(t, ts, client, "s")
		}
		clock.Advance(st.after)
		r := getUser(t, ts, tokens[client], id)
		if r.status != st.want {
			t.Fatalf("step %d (+%v, client %s): status %d, want %d", i, st.after, client, r.status, st.want)
		}
		if st.want == http.StatusTooManyRequests {
			checkEnvelope(t, r, http.StatusTooManyRequests, "TooManyRequests")
			if got := r.header.Get("Retry-After"); got != st.retryAfter {
				t.Errorf("step %d: Retry-After = %q, want %q", i, got, st.retryAfter)
			}
		} else if got := r.header.Get("Retry-After"); got != "" {
			t.Errorf("step %d: Retry-After %q on a %d", i, got, r.status)
		}
	}
	return s
}

func TestLimitThreePerSecond(t *testing.T) {
	t.Parallel()
	runSteps(t, []config.Limit{{Calls: 3, Window: time.Second}}, []step{
		{0, "", 200, ""},
		{0, "", 200, ""},
		{0, "", 200, ""},
		{0, "", 429, "1"},
		{999 * time.Millisecond, "", 429, "1"}, // the first call is still inside (t-1s, t]
		{time.Millisecond, "", 200, ""},        // exactly 1 s later all three have left
		{0, "", 200, ""},
		{0, "", 200, ""},
		{0, "", 429, "1"},
	})
}

// TestLimitIsSliding shows a fixed window would admit what the sliding one
// refuses: the call at 1.2 s is in a new second but the window (0.2, 1.2]
// still holds the calls at 0.6 and 1.0.
func TestLimitIsSliding(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	s := runSteps(t, []config.Limit{{Calls: 2, Window: time.Second}}, []step{
		{0, "", 200, ""},         // 0.0
		{600 * ms, "", 200, ""},  // 0.6
		{400 * ms, "", 200, ""},  // 1.0: the call at 0.0 left exactly now
		{200 * ms, "", 429, "1"}, // 1.2: 0.6 and 1.0 inside, 0.6 leaves at 1.6 (0.4 s, rounded up)
		{399 * ms, "", 429, "1"}, // 1.599
		{1 * ms, "", 200, ""},    // 1.6
	})
	if st := s.Stats(); st.Limits[0].MaxAdmittedInWindow != 2 || st.Limits[0].MaxInWindow != 4 {
		// (0.599, 1.599] holds 0.6, 1.0, 1.2 and 1.599, two of them admitted.
		t.Errorf("limit stats = %+v, want 2 admitted and 4 in all in a window", st.Limits[0])
	}
}

// TestLimitRefusedCallsDoNotCount: a 429 does not use quota, so it does not
// push the next admission later.
func TestLimitRefusedCallsDoNotCount(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	runSteps(t, []config.Limit{{Calls: 1, Window: time.Second}}, []step{
		{0, "", 200, ""},
		{500 * ms, "", 429, "1"},
		{400 * ms, "", 429, "1"},
		{100 * ms, "", 200, ""},
	})
}

func TestLimitSeveralWindows(t *testing.T) {
	t.Parallel()
	runSteps(t, []config.Limit{{Calls: 2, Window: time.Second}, {Calls: 3, Window: 10 * time.Second}}, []step{
		{0, "", 200, ""},
		{0, "", 200, ""},
		{0, "", 429, "1"},           // the 1 s limit
		{time.Second, "", 200, ""},  // t=1: the 1 s window is empty, the 10 s one holds 2
		{time.Second, "", 429, "8"}, // t=2: the 10 s window is full until t=10
		{7900 * time.Millisecond, "", 429, "1"},
		{100 * time.Millisecond, "", 200, ""}, // t=10: both calls at 0 left the 10 s window
	})
}

func TestLimitRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	runSteps(t, []config.Limit{{Calls: 1, Window: 2500 * time.Millisecond}}, []step{
		{0, "", 200, ""},
		{300 * time.Millisecond, "", 429, "3"},  // 2.2 s to wait
		{1200 * time.Millisecond, "", 429, "1"}, // 1.0 s exactly
	})
}

func TestLimitPerClient(t *testing.T) {
	t.Parallel()
	runSteps(t, []config.Limit{{Calls: 1, Window: time.Minute}}, []step{
		{0, "a", 200, ""},
		{0, "a", 429, "60"},
		{0, "b", 200, ""},
		{0, "b", 429, "60"},
		{30 * time.Second, "a", 429, "30"},
	})
}

func TestLimitNoneIsUnlimited(t *testing.T) {
	t.Parallel()
	steps := make([]step, 50)
	for i := range steps {
		steps[i] = step{0, "", 200, ""}
	}
	s := runSteps(t, nil, steps)
	if st := s.Stats(); len(st.Limits) != 0 || st.ByStatus[200] != 50 {
		t.Errorf("stats = %+v, want 50 200s and no limits", st)
	}
}

func TestLimiterUnit(t *testing.T) {
	t.Parallel()
	l := newLimiter([]config.Limit{{Calls: 100, Window: time.Minute}, {Calls: 1500, Window: time.Hour}})
	t0 := time.Unix(1_700_000_000, 0)
	admitted := 0
	// One call every 100 ms for 2 hours: the limits allow 100 per minute and
	// 1500 per hour.
	for i := range 72_000 {
		if ok, _ := l.admit("c", t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			admitted++
		}
	}
	// The hour limit binds: 1500 in the first hour (at 100/min, reached after
	// 15 minutes), then 1500 more once those leave the window.
	if admitted != 3000 {
		t.Errorf("admitted %d calls in 2 h, want 3000", admitted)
	}
	if n := l.clients["c"].len(); n > 1500 {
		t.Errorf("limiter keeps %d timestamps, want at most 1500", n)
	}
}
