package enrich

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestQuotaBatchesWaiters runs 16 goroutines on one Quota with ample limits:
// the turn holder grants to the waiting goroutines in its own write, so the
// writes are far fewer than the grants, and every grant returned is recorded
// in the KV state with its time.
func TestQuotaBatchesWaiters(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	q := quotaTestNew(t, s, "batch", 0, "5000/1ms")
	ctx := quotaTestCtx(t, 20*time.Second)
	const goroutines, each = 16, 50
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				g, err := q.WaitGrant(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, g.UnixMicro())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st := q.Stats()
	t.Logf("%d grants in %d writes, %d conflicts", st.Granted, st.GrantWrites, st.CASConflicts)
	if st.Granted != goroutines*each || len(got) != goroutines*each {
		t.Fatalf("Granted = %d, returned %d, want %d", st.Granted, len(got), goroutines*each)
	}
	if st.GrantWrites == 0 || st.GrantWrites > st.Granted/4 {
		t.Errorf("GrantWrites = %d for %d grants: want batching (at most a quarter)", st.GrantWrites, st.Granted)
	}
	if st.CASConflicts != 0 {
		t.Errorf("CASConflicts = %d, want 0 (one Quota alone on its key)", st.CASConflicts)
	}
	e, err := q.kv.Get(ctx, "batch")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := DecodeQuotaState(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(stored.Grants, got) {
		t.Errorf("stored grants (%d) differ from the returned ones (%d)", len(stored.Grants), len(got))
	}
}

// TestQuotaBatchedInvariant runs two workers of 8 goroutines each on tight
// limits, so batches are cut by the room left: no window of W + margin
// holds more than N recorded grants.
func TestQuotaBatchedInvariant(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	const margin = 20 * time.Millisecond
	spec := []string{"7/100ms", "20/400ms"}
	q1 := quotaTestNew(t, s, "batchinv", margin, spec...)
	q2 := quotaTestNew(t, s, "batchinv", margin, spec...)
	var qs []*Quota
	for range 8 {
		qs = append(qs, q1, q2)
	}
	grants := quotaRun(t, qs, 1500*time.Millisecond, nil)
	if len(grants) < 20 {
		t.Fatalf("only %d grants", len(grants))
	}
	for _, l := range quotaTestLimits(t, spec...) {
		// Times taken after Wait returns lag the grant by scheduling delay
		// (see TestQuotaAcceptance): reported; the recorded times are exact.
		if v := quotaViolations(quotaObserved(grants), l); v != 0 {
			t.Logf("limit %s: %d violations by the observed times (scheduling delay after the grant)", l, v)
		}
		if v := quotaStoredViolations(grants, l, margin); v != 0 {
			t.Errorf("limit %s: %d violations of W+margin by the recorded times", l, v)
		}
	}
	st1, st2 := q1.Stats(), q2.Stats()
	t.Logf("%d grants; writes %d+%d", len(grants), st1.GrantWrites, st2.GrantWrites)
	if g := st1.Granted + st2.Granted; g != uint64(len(grants)) {
		t.Errorf("Granted = %d, want %d", g, len(grants))
	}
}

// TestQuotaBatchCancelledLeakNothing has 8 goroutines wait on a full
// window, cancels 4 of them, and checks that only the 4 others are granted
// and that the KV records exactly the grants returned: a waiter cancelled before its batch leaves
// no grant.
func TestQuotaBatchCancelledLeakNothing(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	q := quotaTestNew(t, s, "batchcancel", 0, "3/300ms", "50/1h")
	long := quotaTestCtx(t, 20*time.Second)
	var got []int64
	for range 3 {
		g, err := q.WaitGrant(long)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, g.UnixMicro())
	}
	short, cancel := context.WithCancel(long)
	type result struct {
		g   time.Time
		err error
	}
	res := make(chan result, 8)
	for i := range 8 {
		ctx := long
		if i%2 == 0 {
			ctx = short
		}
		go func() {
			g, err := q.WaitGrant(ctx)
			res <- result{g, err}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("8 waiters", func() bool { return q.Stats().Waiting == 8 })
	cancel()
	var cancelled int
	for range 8 {
		r := <-res
		switch {
		case errors.Is(r.err, context.Canceled):
			cancelled++
		case r.err != nil:
			t.Fatalf("WaitGrant = %v", r.err)
		default:
			got = append(got, r.g.UnixMicro())
		}
	}
	st := q.Stats()
	if cancelled != 4 || len(got) != 7 || st.Granted != 7 {
		t.Fatalf("%d cancelled, %d granted (Granted %d), want 4 and 7", cancelled, len(got), st.Granted)
	}
	e, err := q.kv.Get(long, "batchcancel")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := DecodeQuotaState(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(stored.Grants, got) {
		t.Errorf("stored grants %v, returned %v", stored.Grants, got)
	}
}

// TestQuotaRoom checks quotaRoom against granting one at a time with
// quotaEarliest, on random states (future grants and pauses included).
func TestQuotaRoom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 5000 {
		var limits []quotaLimit
		maxN := 0
		for range 1 + rng.IntN(3) {
			l := quotaLimit{calls: 1 + rng.IntN(8), span: 1 + rng.Int64N(100)}
			limits = append(limits, l)
			maxN = max(maxN, l.calls)
		}
		var s QuotaState
		for range rng.IntN(maxN + 1) {
			s.Grants = append(s.Grants, rng.Int64N(200))
		}
		slices.Sort(s.Grants)
		if rng.IntN(4) == 0 {
			s.PausedUntil = rng.Int64N(200)
		}
		lo := 100 + rng.Int64N(100)
		hi := lo + rng.Int64N(5)
		want := rng.IntN(12)
		ref, cur := 0, s
		for ref < want && quotaEarliest(cur, limits) <= lo {
			cur.Grants = quotaWithGrant(cur.Grants, hi, maxN)
			ref++
		}
		if got := quotaRoom(s, limits, lo, hi, want); got != ref {
			t.Fatalf("case %d: quotaRoom(%v, %v, lo %d, hi %d, want %d) = %d, one at a time %d",
				i, s, limits, lo, hi, want, got, ref)
		}
		if want > 0 {
			if g := quotaWithGrants(s.Grants, hi, want, maxN); !slices.Equal(g, quotaGrantsOneByOne(s.Grants, hi, want, maxN)) {
				t.Fatalf("case %d: quotaWithGrants = %v", i, g)
			}
		}
	}
}

func quotaGrantsOneByOne(g []int64, ts int64, k, maxN int) []int64 {
	for range k {
		g = quotaWithGrant(g, ts, maxN)
	}
	return g
}
