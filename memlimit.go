package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// Soft limit on the Go memory of a process that embeds the NATS server
// (issue #7: RSS at most 64 MiB with 100 000 alerts queued behind 25 calls
// a minute).
//
// Why: the embedded server's file store keeps whole message blocks in
// memory (8 MiB each for an unlimited stream) for 10 s after their last
// use: the blocks being written while a backlog is published, and, behind
// a small quota, the block the consumer reads from, loaded again at every
// quota window. With GOGC=100 the heap goal is twice the live heap seen by
// the last GC, and a process that is nearly idle runs a GC rarely, so the
// released block buffers pile up as garbage up to that goal: 64 to 83 MiB
// of RSS measured for a live heap of 13 to 29 MiB. About 21 MiB of the RSS
// is the executable's mapped code and data, which no setting changes.
//
// The limit makes the runtime collect before its own memory (heap, stacks,
// runtime metadata) passes softMemoryLimit and return freed pages to the
// OS. It is soft: if the live heap itself needs more, the GC runs more and
// more often, at most about half the CPU, and then the runtime lets the
// memory exceed the limit rather than stall. Under sustained full
// throughput the embedded server alone holds 80 MiB and more live (10 s of
// written blocks), where a fixed 40 MiB limit more than halved the
// throughput; so the limit is lifted as soon as the live heap is large, or
// once the collector has taken over a quarter of the CPU for a second, and
// set again only after 30 s of small live heap and idle collector. It bounds the memory of an
// idle or quota-bound process and leaves a busy one to GOGC.
//
// GOMEMLIMIT set in the environment (a size such as 100MiB, or "off")
// overrides all of this: the runtime applies it and governMemory does
// nothing. GOGC still applies either way.
const (
	// softMemoryLimit: 40 MiB of Go memory plus the mapped executable
	// keeps the RSS under 64 MiB.
	softMemoryLimit = 40 << 20
	// liftAboveLive: from this live heap on, the limit leaves the GC too
	// little room (about 8 MiB of the limit is not heap); it is lifted.
	liftAboveLive = 32 << 20
	// restoreBelowLive: the limit is set again once the live heap is below
	// this (hysteresis, so that it does not flap).
	restoreBelowLive = 20 << 20
	// liftAboveGCShare: the limit is lifted when the collector takes this
	// share of the process's CPU over a period: the live heap then sits
	// just under the limit and the collector runs back to back (a busy
	// process), where the limit costs throughput and buys little.
	liftAboveGCShare = 0.25
	// liftAfterBusy: ... for this long (1 s): a burst such as a backlog
	// being published is shorter and keeps the limit.
	liftAfterBusy = time.Second
	// restoreBelowGCShare, restoreAfterCalm: the limit is set again after
	// this long a calm (small live heap, collector under this share): a
	// worker back to waiting for quota.
	restoreBelowGCShare = 0.10
	restoreAfterCalm    = 30 * time.Second
	// governPeriod is how often the live heap is read (a cheap read of a
	// runtime metric); short, so that a burst pays at most this long for a
	// limit it has outgrown.
	governPeriod = 100 * time.Millisecond
)

// governMemory applies the soft memory limit until ctx ends or stop is
// called; stop returns once the limit is removed. It does nothing when
// GOMEMLIMIT is set in the environment.
func governMemory(ctx context.Context, log zerolog.Logger) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	debug.SetMemoryLimit(softMemoryLimit)
	go func() {
		defer close(done)
		defer debug.SetMemoryLimit(math.MaxInt64)
		g := newGovernor()
		t := time.NewTicker(governPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			live, gcShare, fresh, ok := g.read()
			if !ok {
				return // not reported by this runtime
			}
			if !g.step(time.Now(), live, gcShare, fresh) {
				continue
			}
			if g.limited {
				debug.SetMemoryLimit(softMemoryLimit)
				log.Debug().Uint64("live_heap_bytes", live).Msg("soft memory limit set again")
			} else {
				debug.SetMemoryLimit(math.MaxInt64)
				log.Debug().Uint64("live_heap_bytes", live).Float64("gc_cpu_share", gcShare).Msg("soft memory limit lifted")
			}
		}
	}()
	return func() { cancel(); <-done }
}

// step takes one period's figures at now (fresh: a collection ended since
// the last period, so gcShare is new) and reports whether the limit
// changes (g.limited then says to what): lifted at once when the live heap
// is large, or when the collector has been busy for liftAfterBusy;
// set again only after restoreAfterCalm of calm.
func (g *governor) step(now time.Time, live uint64, gcShare float64, fresh bool) (changed bool) {
	if fresh {
		g.lastFresh = now
	}
	if g.limited {
		switch {
		case live >= liftAboveLive:
		case fresh && gcShare >= liftAboveGCShare:
			if g.busySince.IsZero() {
				g.busySince = now
			}
			if now.Sub(g.busySince) < liftAfterBusy {
				return false
			}
		case fresh || now.Sub(g.lastFresh) >= liftAfterBusy: // not busy, or no collection for a while
			g.busySince = time.Time{}
			return false
		default:
			return false
		}
		g.limited, g.busySince, g.calmSince = false, time.Time{}, time.Time{}
		return true
	}
	if live >= restoreBelowLive || (fresh && gcShare >= restoreBelowGCShare) {
		g.calmSince = time.Time{}
		return false
	}
	if g.calmSince.IsZero() {
		g.calmSince = now
	}
	if now.Sub(g.calmSince) < restoreAfterCalm {
		return false
	}
	g.limited, g.calmSince = true, time.Time{}
	return true
}

// governor reads the runtime's figures between two ticks.
type governor struct {
	samples         []metrics.Sample
	lastGC, lastAll float64
	limited         bool
	lastFresh       time.Time // when a collection last ended (as seen)
	busySince       time.Time // start of the busy stretch while limited
	calmSince       time.Time // start of the calm stretch while lifted
}

func newGovernor() *governor {
	g := &governor{limited: true, lastFresh: time.Now(), samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
	}}
	g.read()
	return g
}

// read returns the live heap and, when a collection ended since the last
// read (fresh), the share of the CPU available to the process (GOMAXPROCS
// × time) the collector took in between. The runtime updates its CPU
// figures only when a collection ends: a read without one is not fresh.
func (g *governor) read() (live uint64, gcShare float64, fresh, ok bool) {
	metrics.Read(g.samples)
	if g.samples[0].Value.Kind() != metrics.KindUint64 || g.samples[1].Value.Kind() != metrics.KindFloat64 ||
		g.samples[2].Value.Kind() != metrics.KindFloat64 {
		return 0, 0, false, false
	}
	gc, all := g.samples[1].Value.Float64(), g.samples[2].Value.Float64()
	if d := all - g.lastAll; d > 0 {
		gcShare, fresh = (gc-g.lastGC)/d, true
		g.lastGC, g.lastAll = gc, all
	}
	return g.samples[0].Value.Uint64(), gcShare, fresh, true
}
