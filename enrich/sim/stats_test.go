package sim

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

// bruteMax counts, for every logged call, the calls in (t-w, t] and returns
// the largest count: the definition, computed independently.
func bruteMax(reqs []Request, w time.Duration, admittedOnly bool) int {
	best := 0
	for _, end := range reqs {
		n := 0
		for _, r := range reqs {
			if admittedOnly && r.Status == http.StatusTooManyRequests {
				continue
			}
			if r.Time.After(end.Time.Add(-w)) && !r.Time.After(end.Time) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestStatsMaxInWindowIsExact(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	limits := []config.Limit{{Calls: 4, Window: time.Second}, {Calls: 10, Window: 5 * time.Second}}
	s, ts := start(t, Options{Limits: limits, Now: clock.Now})
	tok := getToken(t, ts, "app", "s")
	rng := rand.New(rand.NewPCG(7, 7))
	ids := s.AlertIDs(20)
	for i := range 200 {
		clock.Advance(time.Duration(rng.IntN(300)) * time.Millisecond) // bursts and gaps
		getUser(t, ts, tok, ids[i%len(ids)])
	}
	reqs := s.Requests()
	st := s.Stats()
	if len(reqs) != 200 || st.Requests != 200 {
		t.Fatalf("%d logged, %d counted, want 200", len(reqs), st.Requests)
	}
	if st.ByStatus[429] == 0 {
		t.Fatal("the scenario never hit a limit: it proves nothing")
	}
	for i, l := range limits {
		got := st.Limits[i]
		want := LimitStats{
			Limit:               FormatLimit(l),
			MaxInWindow:         bruteMax(reqs, l.Window, false),
			MaxAdmittedInWindow: bruteMax(reqs, l.Window, true),
		}
		if got != want {
			t.Errorf("limit %s: got %+v, want %+v", l, got, want)
		}
		if got.MaxAdmittedInWindow > l.Calls {
			t.Errorf("limit %s: %d admitted in a window", l, got.MaxAdmittedInWindow)
		}
	}
	sum := 0
	for _, n := range st.ByStatus {
		sum += n
	}
	if sum != 200 {
		t.Errorf("byStatus sums to %d, want 200", sum)
	}
}

func TestStatsEndpointAndReset(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{Limits: []config.Limit{{Calls: 100, Window: time.Minute}, {Calls: 1500, Window: time.Hour}}})
	tok := getToken(t, ts, "app", "s")
	getUser(t, ts, tok, firstWithUser(t, s))
	getUser(t, ts, tok, firstWithoutUser(t, s))
	getUser(t, ts, "", "x")

	r := do(t, newRequest(t, http.MethodGet, ts.URL+"/_sim/stats", nil))
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil || r.status != http.StatusOK {
		t.Fatalf("status %d body %s: %v", r.status, r.body, err)
	}
	wantJSON := `{"requests":3,"byStatus":{"200":1,"401":1,"404":1},"tokens":1,"tokensIssued":1,` +
		`"limits":[{"limit":"100/1m","maxInWindow":3,"maxAdmittedInWindow":3},` +
		`{"limit":"1500/1h","maxInWindow":3,"maxAdmittedInWindow":3}]}`
	var want map[string]any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("stats = %s\nwant    %s", r.body, wantJSON)
	}

	r = do(t, newRequest(t, http.MethodPost, ts.URL+"/_sim/reset", nil))
	if r.status != http.StatusNoContent {
		t.Fatalf("reset: status %d", r.status)
	}
	st := s.Stats()
	if st.Requests != 0 || len(st.ByStatus) != 0 || st.Tokens != 0 || st.Limits[0].MaxInWindow != 0 || len(s.Requests()) != 0 {
		t.Errorf("after reset: %+v, %d logged; want all zero", st, len(s.Requests()))
	}
	if u := getUser(t, ts, tok, firstWithUser(t, s)); u.status != http.StatusOK {
		t.Errorf("token after reset: status %d, want 200 (tokens survive a reset)", u.status)
	}
}

func TestResetClearsLimiter(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, ts := start(t, Options{Limits: []config.Limit{{Calls: 1, Window: time.Hour}}, Now: clock.Now})
	tok := getToken(t, ts, "app", "s")
	id := firstWithUser(t, s)
	getUser(t, ts, tok, id)
	if r := getUser(t, ts, tok, id); r.status != http.StatusTooManyRequests {
		t.Fatalf("second call: %d, want 429", r.status)
	}
	s.Reset()
	if r := getUser(t, ts, tok, id); r.status != http.StatusOK {
		t.Errorf("after Reset: %d, want 200", r.status)
	}
}

func TestFormatLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]string{
		time.Minute: "100/1m", time.Hour: "100/1h", time.Second: "100/1s", 90 * time.Second: "100/1m30s",
		500 * time.Millisecond: "100/500ms", 2*time.Hour + 30*time.Minute: "100/2h30m",
	} {
		if got := FormatLimit(config.Limit{Calls: 100, Window: in}); got != want {
			t.Errorf("FormatLimit(100, %v) = %q, want %q", in, got, want)
		}
		l, err := config.ParseLimit(want)
		if err != nil || l.Window != in {
			t.Errorf("ParseLimit(%q) = %v, %v: does not round-trip", want, l, err)
		}
	}
}

func TestSlidingMaxSaturates(t *testing.T) {
	t.Parallel()
	m := newSlidingMax(time.Second)
	m.limit = 10
	for i := range 25 {
		m.add(int64(i)) // 25 events within one nanosecond-spaced burst
	}
	if m.max != 10 || !m.saturated || m.q.len() != 10 {
		t.Errorf("max=%d saturated=%v kept=%d, want 10, true, 10", m.max, m.saturated, m.q.len())
	}
	m2 := newSlidingMax(time.Second)
	for i := range 10_000 {
		m2.add(int64(i) * int64(100*time.Millisecond)) // 10 per second, steady
	}
	if m2.max != 10 || m2.saturated || m2.q.len() > 10 || len(m2.q.times) > 200 {
		t.Errorf("steady: max=%d kept=%d backing=%d, want 10 and bounded memory", m2.max, m2.q.len(), len(m2.q.times))
	}
}
