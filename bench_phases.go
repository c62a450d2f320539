package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/worker"
)

// enricherPhase runs K workers exactly as `enricher run` does
// (worker.StartRuntime), each with its own NATS connection, quota, cache
// and HTTP client.
type enricherPhase struct {
	b    *bench
	name string
	rts  []*worker.Runtime
	// keep leaves the runtimes running after the phase, for a later phase
	// that takes them over (from).
	keep bool
	from *enricherPhase
}

func (e *enricherPhase) phaseName() string { return e.name }

// quotaStats sums the quota figures of the runtimes.
func (e *enricherPhase) quotaStats() (granted uint64, waited time.Duration, conflicts uint64) {
	for _, rt := range e.rts {
		if rt.Quota == nil {
			continue
		}
		s := rt.Quota.Stats()
		granted, waited, conflicts = granted+s.Granted, waited+s.Waited, conflicts+s.CASConflicts
	}
	return granted, waited, conflicts
}
func (e *enricherPhase) subject() string { return e.b.cfg.Input.Subjects[0] }
func (e *enricherPhase) input() string   { return e.b.cfg.Input.Stream }

func (e *enricherPhase) outputs() []span {
	cfg := e.b.cfg
	return []span{
		{stream: cfg.Output.Stream, prefix: "enr-" + cfg.Input.Stream + "-"},
		{stream: cfg.DeadLetter.Stream, prefix: "dlq-" + cfg.Input.Stream + "-"},
	}
}

// prepare starts the runtimes (which apply the declared resources) but
// not their pull loops.
func (e *enricherPhase) prepare(ctx context.Context) error {
	if e.from != nil {
		e.rts = e.from.rts
		return nil
	}
	for i := 0; i < e.b.o.Workers; i++ {
		rt, err := worker.StartRuntime(ctx, worker.RuntimeOptions{
			Config: e.b.cfg, Logger: e.b.o.Log.With().Int("worker", i+1).Logger(),
			ID: fmt.Sprintf("bench-worker-%d", i+1), ShutdownGrace: time.Second,
		})
		if err != nil {
			return fmt.Errorf("start worker %d: %w", i+1, err)
		}
		e.rts = append(e.rts, rt)
	}
	return nil
}

// run runs every runtime until ctx ends (a runtime run on an ended ctx
// just closes); with keep, it runs their workers only, and the runtimes
// stay open for the next phase.
func (e *enricherPhase) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rt := range e.rts {
		if e.keep {
			wg.Go(func() { _ = rt.Worker().Run(ctx) })
		} else {
			wg.Go(func() { _ = rt.Run(ctx) })
		}
	}
	wg.Wait()
}

// close closes the runtimes (after a phase that kept them).
func (e *enricherPhase) close() {
	for _, rt := range e.rts {
		rt.Close()
	}
}

// Names of the baseline's resources.
const (
	baselineIn       = "BENCH_IN"
	baselineOut      = "BENCH_OUT"
	baselineInSubj   = "bench.in"
	baselineOutSubj  = "bench.out"
	baselineConsumer = "baseline"
)

// baseline is the loop a user could write in an afternoon: K loops, each
// with its own connection, fetch batches of C (the worker concurrency)
// from a durable pull consumer, and C goroutines each republish a message
// with Nats-Msg-Id (waiting for the stream's ack), then Ack the input. Its
// streams and consumer are declared like the enricher's (file storage, same
// duplicate window, ack wait and max ack pending).
type baseline struct {
	b     *bench
	conns []*nats.Conn
}

func (l *baseline) phaseName() string                           { return phaseBaseline }
func (l *baseline) subject() string                             { return baselineInSubj }
func (l *baseline) input() string                               { return baselineIn }
func (l *baseline) quotaStats() (uint64, time.Duration, uint64) { return 0, 0, 0 }
func (l *baseline) outputs() []span {
	return []span{{stream: baselineOut, prefix: "bl-" + baselineIn + "-"}}
}

func (l *baseline) prepare(ctx context.Context) error {
	cfg := l.b.cfg
	for _, s := range []jetstream.StreamConfig{
		{Name: baselineIn, Subjects: []string{baselineInSubj}, Storage: jetstream.FileStorage, Duplicates: cfg.Output.DuplicateWindow},
		{Name: baselineOut, Subjects: []string{baselineOutSubj}, Storage: jetstream.FileStorage, Duplicates: cfg.Output.DuplicateWindow},
	} {
		if _, err := l.b.js.CreateOrUpdateStream(ctx, s); err != nil {
			return fmt.Errorf("baseline stream %s: %w", s.Name, err)
		}
	}
	_, err := l.b.js.CreateOrUpdateConsumer(ctx, baselineIn, jetstream.ConsumerConfig{
		Durable: baselineConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.Input.AckWait,
		MaxAckPending: 4096, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("baseline consumer: %w", err)
	}
	for i := 0; i < l.b.o.Workers; i++ {
		nc, err := nats.Connect(l.b.url, nats.Name(fmt.Sprintf("baseline %d", i+1)))
		if err != nil {
			return fmt.Errorf("baseline connection: %w", err)
		}
		l.conns = append(l.conns, nc)
	}
	return nil
}

func (l *baseline) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, nc := range l.conns {
		wg.Go(func() {
			defer nc.Close()
			if err := l.loop(ctx, nc); err != nil {
				l.b.o.Log.Error().Err(err).Msg("baseline loop")
			}
		})
	}
	wg.Wait()
}

// loop is one baseline consumer on nc, until ctx ends.
func (l *baseline) loop(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	cons, err := js.Consumer(ctx, baselineIn, baselineConsumer)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	wg.Go(func() { fetchInto(ctx, cons, l.b.o.Concurrency, msgs) })
	for range l.b.o.Concurrency {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-msgs:
					republish(ctx, js, m)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// fetchInto pulls batches of n messages and hands each to a free
// goroutine, until ctx ends. (Consume was tried first: its pull pipeline
// stalled for the 30 s pull expiry in about one run in ten.)
func fetchInto(ctx context.Context, cons jetstream.Consumer, n int, msgs chan<- jetstream.Msg) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		for m := range batch.Messages() {
			select {
			case msgs <- m:
			case <-ctx.Done():
			}
		}
	}
}

// republish stores a copy of m on the output stream, then acks m.
func republish(ctx context.Context, js jetstream.JetStream, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		_ = m.Nak()
		return
	}
	out := nats.NewMsg(baselineOutSubj)
	out.Data = m.Data()
	out.Header.Set(jetstream.MsgIDHeader, "bl-"+meta.Stream+"-"+strconv.FormatUint(meta.Sequence.Stream, 10))
	if _, err := js.PublishMsg(ctx, out, jetstream.WithExpectStream(baselineOut)); err != nil {
		_ = m.Nak()
		return
	}
	_ = m.Ack()
}
