package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// statuses calls the first n alerts that have a user, in order.
func statuses(t *testing.T, opts Options, n int) []int {
	t.Helper()
	s, ts := start(t, opts)
	tok := getToken(t, ts, "app", "s")
	var out []int
	for _, id := range s.AlertIDs(-1) {
		if len(out) == n {
			break
		}
		if s.HasUser(id) {
			out = append(out, getUser(t, ts, tok, id).status)
		}
	}
	return out
}

func count(xs []int, v int) (n int) {
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestFailRate(t *testing.T) {
	t.Parallel()
	if got := statuses(t, Options{FailRate: 1}, 40); count(got, 503) != 40 {
		t.Errorf("FailRate 1: %d of 40 are 503", count(got, 503))
	}
	if got := statuses(t, Options{FailRate: 0}, 40); count(got, 200) != 40 {
		t.Errorf("FailRate 0: %d of 40 are 200", count(got, 200))
	}
	a := statuses(t, Options{FailRate: 0.3, Seed: 42}, 200)
	b := statuses(t, Options{FailRate: 0.3, Seed: 42}, 200)
	c := statuses(t, Options{FailRate: 0.3, Seed: 43}, 200)
	if n := count(a, 503); n < 30 || n > 90 || n+count(a, 200) != 200 {
		t.Errorf("FailRate 0.3: %d of 200 are 503, the rest should be 200", n)
	}
	if !equalInts(a, b) {
		t.Error("the same seed gave different failures")
	}
	if equalInts(a, c) {
		t.Error("different seeds gave the same failures")
	}
	s, ts := start(t, Options{FailRate: 1})
	checkEnvelope(t, getUser(t, ts, getToken(t, ts, "a", "s"), firstWithUser(t, s)), 503, "InternalServerError")
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// classify names the kind of a 200 body as a client would see it.
func classify(body []byte) string {
	var v any
	switch {
	case !json.Valid(body):
		return BadNotJSON
	case len(body) > 64<<10:
		return BadTooLarge
	case json.Unmarshal(body, &v) != nil:
		return "undecodable"
	}
	switch x := v.(type) {
	case []any:
		return BadArray
	case map[string]any:
		if _, ok := x["id"].(string); !ok {
			return BadNoID
		}
		return "good"
	}
	return "other"
}

func TestBadResponses(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{BadNotJSON, BadTooLarge, BadNoID, BadArray} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s, ts := start(t, Options{BadResponseRate: 1, BadResponseKind: kind})
			id := firstWithUser(t, s)
			r := getUser(t, ts, getToken(t, ts, "a", "s"), id)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want a 200 with a bad body", r.status)
			}
			if got := classify(r.body); got != kind {
				t.Errorf("body classified %q, want %q: %.200s", got, kind, r.body)
			}
			if kind == BadTooLarge {
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil || m["id"] != s.User(id)["id"] {
					t.Errorf("too-large body is not the user object plus padding: %v", err)
				}
			}
			if kind == BadNotJSON && r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q: the hostile body should claim to be JSON", r.header.Get("Content-Type"))
			}
			// Errors are never replaced.
			checkEnvelope(t, getUser(t, ts, getToken(t, ts, "a", "s"), firstWithoutUser(t, s)), 404, "ResourceNotFound")
		})
	}
	t.Run("mixed", func(t *testing.T) {
		t.Parallel()
		s, ts := start(t, Options{BadResponseRate: 1, BadResponseKind: BadMixed})
		tok := getToken(t, ts, "a", "s")
		id := firstWithUser(t, s)
		want := []string{BadNotJSON, BadTooLarge, BadNoID, BadArray, BadNotJSON}
		for i, w := range want {
			if got := classify(getUser(t, ts, tok, id).body); got != w {
				t.Errorf("call %d: %q, want %q", i, got, w)
			}
		}
	})
	t.Run("rate 0", func(t *testing.T) {
		t.Parallel()
		s, ts := start(t, Options{BadResponseKind: BadArray})
		if got := classify(getUser(t, ts, getToken(t, ts, "a", "s"), firstWithUser(t, s)).body); got != "good" {
			t.Errorf("rate 0 gave a %q body", got)
		}
	})
}

func TestFaultHook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string][]int{}
	var s *Server
	custom := []byte(`{"error":{"code":"Custom","message":"m","target":"t"}}`)
	s, ts := start(t, Options{Fault: func(id string, call int) *Fault {
		mu.Lock()
		seen[id] = append(seen[id], call)
		mu.Unlock()
		switch call {
		case 1:
			return &Fault{Status: 429, RetryAfter: 2500 * time.Millisecond}
		case 2:
			return &Fault{Status: 500, Body: custom}
		case 3:
			s.ExpireTokens() // the hook may call the server
			return &Fault{Status: 200}
		}
		return nil
	}})
	id, other := firstWithUser(t, s), firstWithoutUser(t, s)
	getUser(t, ts, "", id) // unauthorised calls do not reach the hook
	tok := getToken(t, ts, "a", "s")

	r := getUser(t, ts, tok, id)
	checkEnvelope(t, r, 429, "TooManyRequests")
	if ra := r.header.Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After = %q, want 3", ra)
	}
	if r = getUser(t, ts, tok, id); r.status != 500 || !bytes.Equal(r.body, custom) {
		t.Errorf("call 2: %d %s, want 500 with the custom body", r.status, r.body)
	}
	if r = getUser(t, ts, tok, id); r.status != 200 || classify(r.body) != "good" {
		t.Errorf("call 3: %d %s, want the user", r.status, r.body)
	}
	checkEnvelope(t, getUser(t, ts, tok, id), 401, "Unauthorized") // ExpireTokens ran in call 3
	tok = getToken(t, ts, "a", "s")
	if r = getUser(t, ts, tok, id); r.status != 200 {
		t.Errorf("call 4: %d, want the normal 200", r.status)
	}
	checkEnvelope(t, getUser(t, ts, tok, other), 429, "TooManyRequests") // its own call 1
	mu.Lock()
	defer mu.Unlock()
	if !equalInts(seen[id], []int{1, 2, 3, 4}) || !equalInts(seen[other], []int{1}) {
		t.Errorf("hook saw %v", seen)
	}
	if st := s.Stats(); st.ByStatus[429] != 2 || st.ByStatus[500] != 1 || st.ByStatus[401] != 2 {
		t.Errorf("faulted calls not counted: %+v", st.ByStatus)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s, ts := start(t, Options{Latency: 40 * time.Millisecond, LatencyJitter: 10 * time.Millisecond})
	tok := getToken(t, ts, "a", "s")
	begin := time.Now()
	if r := getUser(t, ts, tok, firstWithUser(t, s)); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered in %v, want at least the 40ms latency", d)
	}
	// A caller that gives up during the latency is not kept waiting.
	s2, ts2 := start(t, Options{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := newRequest(t, http.MethodGet, ts2.URL+"/api/alerts/"+firstWithUser(t, s2)+"/user", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+getToken(t, ts2, "a", "s"))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a request with an hour of latency succeeded")
	}
	if st := s2.Stats(); st.Requests != 1 {
		t.Errorf("the abandoned call was not counted: %+v", st)
	}
}

// TestFaultStandardEnvelopes: a Fault without a body gets the documented
// envelope for its status.
func TestFaultStandardEnvelopes(t *testing.T) {
	t.Parallel()
	want := map[int]string{400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound",
		429: "TooManyRequests", 500: "InternalServerError", 502: "InternalServerError", 503: "InternalServerError"}
	s, ts := start(t, Options{Fault: func(id string, call int) *Fault {
		for st := range want {
			if id == fmt.Sprint("status-", st) {
				return &Fault{Status: st}
			}
		}
		return nil
	}})
	tok := getToken(t, ts, "a", "s")
	for st, code := range want {
		r := getUser(t, ts, tok, fmt.Sprint("status-", st))
		t.Run(code, func(t *testing.T) { checkEnvelope(t, r, st, code) })
	}
	if r := getUser(t, ts, tok, firstWithoutUser(t, s)); r.status != 404 {
		t.Errorf("a nil Fault did not give the normal answer: %d", r.status)
	}
}
