package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// runPhase queues the alerts (all at once, or at the rate while the
// consumers run), waits for every outcome (or -duration) and measures.
func (b *bench) runPhase(ctx context.Context, c consumers) (benchPhase, error) {
	p := benchPhase{Name: c.phaseName(), Alerts: b.o.Alerts}
	runCtx, stop := context.WithCancel(ctx)
	running := make(chan struct{})
	var once sync.Once
	launch := func() { once.Do(func() { go func() { defer close(running); c.run(runCtx) }() }) }
	defer func() { stop(); launch(); <-running }() // run releases what prepare made
	if err := c.prepare(ctx); err != nil {
		return p, err
	}
	inFirst, err := b.lastSeq(ctx, c.input())
	if err != nil {
		return p, err
	}
	inFirst++
	outs := c.outputs()
	for i := range outs {
		last, err := b.lastSeq(ctx, outs[i].stream)
		if err != nil {
			return p, err
		}
		outs[i].first = last + 1
	}
	if b.o.Rate <= 0 {
		if err := b.publishAll(ctx, c.subject()); err != nil {
			return p, err
		}
	}
	apiBefore := b.sim.Stats().Requests
	runtime.GC()
	resetPeakRSS()
	rss := startRSSSampler()

	stopProfile, err := startProfile(b.o.CPUProfile, p.Name)
	if err != nil {
		rss.Stop()
		return p, err
	}
	granted0, waited0, conflicts0 := c.quotaStats()
	cpu0 := cpuTime()
	start := time.Now()
	launch()
	pubDone := make(chan error, 1)
	if b.o.Rate > 0 {
		go func() { pubDone <- b.publishAtRate(runCtx, c.subject(), start) }()
	} else {
		pubDone <- nil
	}
	done, complete, err := b.await(ctx, outs, start)
	if err != nil {
		rss.Stop()
		_ = stopProfile()
		return p, err
	}
	// Everything is read when the last outcome is stored, before the
	// consumers stop (a worker's shutdown waits for its pending pull): the
	// API calls of alerts still in flight when -duration ran out are not
	// the done alerts' calls.
	p.APICalls = b.sim.Stats().Requests - apiBefore
	cpu := cpuTime() - cpu0
	p.RSSMiB = rss.Stop()
	p.PeakRSSMiB = mib(procStatusKiB("VmHWM"))
	profErr := stopProfile()
	stop()
	<-running
	if profErr != nil {
		return p, profErr
	}
	if err := <-pubDone; err != nil && complete {
		return p, err
	}
	p.Complete = complete
	for i := range outs {
		outs[i].count = done[i]
		p.Done += done[i]
	}
	if len(outs) > 1 {
		p.DeadLetters = done[1]
	}
	if p.Done > 0 {
		p.CPUPerAlertUs = math.Round(float64(cpu/time.Microsecond) / float64(p.Done))
	}
	granted, waited, conflicts := c.quotaStats()
	granted, waited, conflicts = granted-granted0, waited-waited0, conflicts-conflicts0
	if granted > 0 {
		p.QuotaWaitUs = math.Round(float64(waited/time.Microsecond) / float64(granted))
	}
	p.QuotaConflicts = conflicts
	return p, b.timing(ctx, &p, span{stream: c.input(), first: inFirst}, outs, start)
}

// timing reads back the stored times of the phase's inputs (from
// in.first to the stream's end) and outputs, and fills the latencies, the
// duration and the rate.
func (b *bench) timing(ctx context.Context, p *benchPhase, in span, outs []span, start time.Time) error {
	inLast, err := b.lastSeq(ctx, in.stream)
	if err != nil {
		return err
	}
	in.count = int(inLast - in.first + 1)
	ds, last, err := latencies(ctx, b.js, in, outs)
	if err != nil {
		return err
	}
	p.LatencyMs = percentiles(ds)
	if elapsed := last.Sub(start); p.Done > 0 && elapsed > 0 {
		p.Seconds = round3(elapsed.Seconds())
		p.PerSecond = round3(float64(p.Done) / elapsed.Seconds())
	}
	return nil
}

// await polls the output streams until they hold an outcome for every
// alert; complete is false when -duration ran out first.
func (b *bench) await(ctx context.Context, outs []span, start time.Time) (done []int, complete bool, err error) {
	limit := b.o.Duration
	if limit <= 0 {
		limit = b.expectedDuration() + 2*time.Minute
	}
	deadline := start.Add(limit)
	// The poll's period never shows in the measures (they use stored
	// times); at a publishing rate a slower poll keeps its CPU cost out of
	// the per-alert figure (and, behind limits, its garbage out of the
	// memory figure).
	poll := 5 * time.Millisecond
	if b.o.Rate > 0 || len(b.o.Limits) > 0 {
		poll = 50 * time.Millisecond
	}
	done = make([]int, len(outs))
	for {
		total := 0
		for i, o := range outs {
			last, err := b.lastSeq(ctx, o.stream)
			if err != nil {
				return nil, false, err
			}
			done[i] = int(last - o.first + 1)
			total += done[i]
		}
		if total >= b.o.Alerts {
			return done, true, nil
		}
		if time.Now().After(deadline) {
			if b.o.Duration > 0 {
				return done, false, nil
			}
			return nil, false, fmt.Errorf("only %d of %d outcomes after %s", total, b.o.Alerts, limit)
		}
		if b.pubErrors.Load() > 0 {
			return nil, false, fmt.Errorf("%d alerts could not be published", b.pubErrors.Load())
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("waiting for outcomes: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// expectedDuration is how long publishing at the rate and the limits need.
func (b *bench) expectedDuration() time.Duration {
	var d time.Duration
	if b.o.Rate > 0 {
		d = time.Duration(float64(b.o.Alerts) / b.o.Rate * float64(time.Second))
	}
	for _, l := range b.o.Limits {
		d = max(d, time.Duration(b.o.Alerts/l.Calls+1)*l.Window)
	}
	return d
}
