package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/rs/zerolog"
)

// TestGovernorStep: the soft memory limit is lifted at once when the live
// heap is large, after liftAfterBusy periods of a busy collector (a
// shorter burst keeps it), and set again only after restoreAfterCalm calm
// periods in a row.
func TestGovernorStep(t *testing.T) {
	t.Parallel()
	const small, calmShare = 10 << 20, 0.01
	burst := &governor{limited: true}
	for range liftAfterBusy - 1 {
		burst.step(small, liftAboveGCShare)
	}
	if burst.step(small, calmShare) || !burst.limited || burst.step(small, liftAboveGCShare) || !burst.limited {
		t.Fatal("a burst shorter than liftAfterBusy periods lifted the limit, or a calm period did not restart the count")
	}
	for _, tc := range []struct {
		name    string
		live    uint64
		gcShare float64
	}{{"large live heap", liftAboveLive, 0}, {"busy collector", small, liftAboveGCShare}} {
		g := &governor{limited: true}
		if g.step(small, calmShare) || !g.limited {
			t.Fatalf("%s: a calm period changed the limit", tc.name)
		}
		lifted := 0
		for i := 1; i <= liftAfterBusy && lifted == 0; i++ {
			if g.step(tc.live, tc.gcShare) {
				lifted = i
			}
		}
		if want := map[bool]int{true: 1, false: liftAfterBusy}[tc.live >= liftAboveLive]; lifted != want || g.limited {
			t.Fatalf("%s: lifted after %d periods (limited %v), want %d", tc.name, lifted, g.limited, want)
		}
		for i := 1; i < restoreAfterCalm; i++ {
			if g.step(small, calmShare) {
				t.Fatalf("%s: set again after %d calm periods, want %d", tc.name, i, restoreAfterCalm)
			}
			if i == restoreAfterCalm/2 && g.step(small, restoreBelowGCShare) {
				t.Fatalf("%s: a period over the calm share changed the limit", tc.name)
			}
		}
		// The busy period above restarted the count.
		for i := 0; i < restoreAfterCalm/2; i++ {
			g.step(small, calmShare)
		}
		if g.limited {
			t.Fatalf("%s: set again although a busy period came %d periods ago", tc.name, restoreAfterCalm/2)
		}
		changed := false
		for i := 0; i < restoreAfterCalm && !changed; i++ {
			changed = g.step(small, calmShare)
		}
		if !changed || !g.limited {
			t.Fatalf("%s: not set again after %d calm periods", tc.name, restoreAfterCalm)
		}
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
