package enrich

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestQuotaPauseStopsEveryWorker(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	var workers []*Quota
	for range 3 {
		workers = append(workers, quotaTestNew(t, s, "pause", 10*time.Millisecond, "100/1s"))
	}
	a := workers[0]
	ctx := quotaTestCtx(t, 10*time.Second)
	if err := a.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(300 * time.Millisecond)
	if err := a.Pause(ctx, until); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, q := range workers {
		wg.Go(func() {
			for range 3 {
				if err := q.Wait(ctx); err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
				if got := time.Now(); got.Before(until) {
					t.Errorf("worker %d granted at %s, before the pause ends at %s", i, got.Format(time.StampMicro), until.Format(time.StampMicro))
				}
			}
		})
	}
	wg.Wait()
	if p := workers[1].Stats().Paused; p <= 0 {
		t.Errorf("Stats().Paused = %s, want > 0", p)
	}

	// A shorter pause never shortens a longer one.
	long := time.Now().Add(400 * time.Millisecond)
	if err := workers[1].Pause(ctx, long); err != nil {
		t.Fatal(err)
	}
	if err := workers[2].Pause(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e, err := a.kv.Get(ctx, "pause")
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeQuotaState(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	if st.PausedUntil < long.UnixMicro() {
		t.Errorf("paused until %d, want at least %d (the longer pause)", st.PausedUntil, long.UnixMicro())
	}
	if err := workers[2].Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := time.Now(); got.Before(long) {
		t.Errorf("granted at %s, before the longer pause ends at %s", got.Format(time.StampMicro), long.Format(time.StampMicro))
	}
}

func TestQuotaWaitCancelled(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	q := quotaTestNew(t, s, "cancel", 0, "1/1h")
	if err := q.Wait(quotaTestCtx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Two waiters on one Quota: one sleeps for the window, one waits its turn.
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- q.Wait(ctx) }()
	}
	// Both are in Wait: one waiting for the window, one for its turn.
	deadline := time.Now().Add(5 * time.Second)
	for q.Stats().Waiting != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the waiters never entered Wait")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Wait = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return after cancel")
		}
	}
	t.Logf("returned %s after cancel", time.Since(start))

	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if err := q.Wait(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want context.DeadlineExceeded", err)
	}
	if g := q.Stats().Granted; g != 1 {
		t.Errorf("Granted = %d, want 1", g)
	}
}
