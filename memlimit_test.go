package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestGovernorStep: the soft memory limit is lifted at once when the live
// heap is large, after liftAfterBusy of a busy collector (a shorter burst
// keeps it; periods without a collection neither extend nor end a busy
// stretch unless no collection came for liftAfterBusy), and set again only
// after restoreAfterCalm of calm.
func TestGovernorStep(t *testing.T) {
	t.Parallel()
	const small, idle, busy = 10 << 20, 0.01, liftAboveGCShare
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	g := &governor{limited: true, lastFresh: t0}
	if !g.step(at(0), liftAboveLive, 0, false) || g.limited {
		t.Fatal("a large live heap did not lift the limit at once")
	}

	g = &governor{limited: true, lastFresh: t0}
	tick := 100 * time.Millisecond
	for i := time.Duration(0); i < liftAfterBusy; i += tick {
		if g.step(at(i), small, busy, i%(2*tick) == 0) { // a collection every other period
			t.Fatalf("lifted after %v of a busy collector, want %v", i, liftAfterBusy)
		}
	}
	if !g.step(at(liftAfterBusy), small, busy, true) || g.limited {
		t.Fatalf("not lifted after %v of a busy collector", liftAfterBusy)
	}

	burst := &governor{limited: true, lastFresh: t0}
	burst.step(at(0), small, busy, true)
	burst.step(at(liftAfterBusy/2), small, idle, true) // the burst is over
	if burst.step(at(liftAfterBusy), small, busy, true) || !burst.limited {
		t.Fatal("two busy readings around a calm one lifted the limit: the calm one must restart the count")
	}
	quiet := &governor{limited: true, lastFresh: t0}
	quiet.step(at(0), small, busy, true)
	quiet.step(at(2*liftAfterBusy), small, 0, false) // no collection for 2 s
	if quiet.step(at(2*liftAfterBusy+tick), small, busy, true) || !quiet.limited {
		t.Fatal("a busy reading after a long stretch without collections lifted the limit at once")
	}

	// g is lifted: set again only after restoreAfterCalm of calm.
	start := at(liftAfterBusy)
	g.step(start, small, idle, true)
	if g.step(start.Add(restoreAfterCalm/2), small, restoreBelowGCShare, true) {
		t.Fatal("a busy reading set the limit again")
	}
	calm := start.Add(restoreAfterCalm / 2)
	g.step(calm, small, idle, false)
	if g.step(calm.Add(restoreAfterCalm-tick), small, idle, false) || g.limited {
		t.Fatal("set again before restoreAfterCalm of calm after the last busy reading")
	}
	if g.step(calm.Add(restoreAfterCalm-tick), restoreBelowLive, idle, false) || g.limited {
		t.Fatal("set again with a live heap that is not small")
	}
	g.step(calm.Add(restoreAfterCalm), small, idle, false)
	if !g.step(calm.Add(2*restoreAfterCalm), small, idle, false) || !g.limited {
		t.Fatalf("not set again after %v of calm", restoreAfterCalm)
	}
}

// TestGovernMemory: the governor sets the soft limit and removes it when
// its context ends; GOMEMLIMIT in the environment turns it off. Not
// parallel: the limit is the process's.
func TestGovernMemory(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set for this test process")
	}
	stop := governMemory(context.Background(), zerolog.Nop())
	got := debug.SetMemoryLimit(-1)
	stop()
	if got != softMemoryLimit {
		t.Fatalf("memory limit %d with the governor, want %d", got, softMemoryLimit)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d after stop, want none", got)
	}

	t.Setenv("GOMEMLIMIT", "off")
	defer governMemory(context.Background(), zerolog.Nop())()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d with GOMEMLIMIT set, want none", got)
	}
}
