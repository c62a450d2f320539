// Package worker runs the enricher's consumer loop: it pulls alert IDs
// from the shared durable consumer, walks each message (parse, cache,
// quota and API call, publish, ack) and owns the NATS side: declared
// resources (plan and apply), the embedded server, metrics and health.
package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich"
)

// UserFetcher is what the worker needs from the Defender client.
type UserFetcher interface {
	// GetUser returns the user of an alert; its error wraps
	// enrich.ErrRejected for a permanent failure, anything else is retried.
	GetUser(ctx context.Context, alertID string) (enrich.Result, error)
}

// Options configures a Worker.
type Options struct {
	// Config is the validated configuration.
	Config *config.Config
	// Conn is the NATS connection; the caller owns and drains it.
	Conn *nats.Conn
	// Fetcher calls the Defender API.
	Fetcher UserFetcher
	// Cache answers repeated alert IDs; nil means no cache.
	Cache OutcomeCache
	// Marks remembers dead letters per input message so a redelivery
	// settles the same way; nil means none.
	Marks DeadMarks
	// Logger receives the worker's logs.
	Logger zerolog.Logger
	// ID identifies this worker in output events; "" = host-pid.
	ID string
	// ShutdownGrace bounds how long in-flight messages may take to finish
	// after the context is cancelled; 0 = 15s.
	ShutdownGrace time.Duration
	// Observer receives one call per settled message (metrics); optional.
	Observer Observer
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Observer is told how each message was settled.
type Observer interface {
	// Settled reports an output status ("enriched", ...), a dead-letter
	// class, or "retry", with the source for outputs.
	Settled(kind, value, source string)
}

// Worker consumes the input stream through the shared durable consumer.
type Worker struct {
	cfg            *config.Config
	nc             *nats.Conn
	js             jetstream.JetStream
	fetcher        UserFetcher
	cache          OutcomeCache
	marks          DeadMarks
	log            zerolog.Logger
	id             string
	grace          time.Duration
	heartbeatEvery time.Duration
	// batchWait: see the constant; tests lengthen it.
	batchWait time.Duration
	observer  Observer
	now       func() time.Time
	bound     atomic.Bool
	inFlight  atomic.Int64
	// outputs confirms asynchronous output publishes during Run.
	outputs *confirmer
	sample  samplers
}

// New checks opts and returns a Worker ready to Run.
func New(opts Options) (*Worker, error) {
	if opts.Config == nil || opts.Conn == nil || opts.Fetcher == nil {
		return nil, errors.New("new worker: Config, Conn and Fetcher are required")
	}
	js, err := jetstream.New(opts.Conn, asyncOptions(asyncMaxPending(opts.Config))...)
	if err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	w := &Worker{
		cfg: opts.Config, nc: opts.Conn, js: js, fetcher: opts.Fetcher, cache: opts.Cache, marks: opts.Marks,
		log: opts.Logger, id: opts.ID, grace: opts.ShutdownGrace, observer: opts.Observer, now: opts.Now,
		sample: newSamplers(),
	}
	if w.id == "" {
		w.id = DefaultID()
	}
	if w.grace <= 0 {
		w.grace = 15 * time.Second
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.heartbeatEvery = max(opts.Config.Input.AckWait/3, 50*time.Millisecond)
	w.batchWait = batchWait
	return w, nil
}

// DefaultID is the worker identifier used in output events: host-pid.
func DefaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "enricher"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Ready reports whether the worker has bound its consumer and NATS is
// connected (for /readyz).
func (w *Worker) Ready() bool { return w.bound.Load() && w.nc.IsConnected() }

// InFlight is the number of messages being handled now.
func (w *Worker) InFlight() int64 { return w.inFlight.Load() }

// Run pulls and handles messages until ctx is cancelled, then stops
// fetching, lets in-flight messages finish (within ShutdownGrace; after it
// they are Nak'd for another worker) and returns nil. It returns an error
// only when the consumer cannot be bound before ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.bind(ctx)
	if err != nil {
		return err
	}
	defer w.bound.Store(false)
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	// Heartbeats last until every message is settled, past the grace's
	// cancel: the confirm loop may still wait for a publish ack then.
	beatsCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeats()
	beats := newHeartbeats(w.heartbeatEvery)
	go beats.run(beatsCtx)

	// Concurrency long-lived handlers, fed by the pull loop: a goroutine
	// per message would grow a fresh stack for each.
	slots := make(chan struct{}, w.cfg.Worker.Concurrency)
	msgs := make(chan jetstream.Msg)
	w.outputs = w.startConfirmer(asyncMaxPending(w.cfg))
	var wg sync.WaitGroup
	for range cap(slots) {
		wg.Go(func() {
			for msg := range msgs {
				if !w.handle(ctx, workCtx, beats, msg) {
					w.inFlight.Add(-1) // else the confirm loop counts it out
				}
				<-slots
			}
		})
	}
	w.pull(ctx, cons, slots, msgs)
	close(msgs)

	done := make(chan struct{})
	go func() { wg.Wait(); w.outputs.close(); close(done) }()
	defer func() { w.outputs = nil }() // after done: a settle now would publish and wait
	select {
	case <-done:
	case <-time.After(w.grace):
		w.log.Warn().Int64("in_flight", w.inFlight.Load()).Msg("shutdown grace over; handing in-flight messages back")
		cancelWork()
		<-done
	}
	return nil
}

// asyncMaxPending bounds the output events awaiting the stream's ack: as
// many as the handlers (so a worker holds at most twice its concurrency
// unacknowledged).
func asyncMaxPending(cfg *config.Config) int { return cfg.Worker.Concurrency }

// bind looks the durable consumer up, waiting while NATS is unreachable.
func (w *Worker) bind(ctx context.Context) (jetstream.Consumer, error) {
	delay := 200 * time.Millisecond
	for {
		cons, err := w.js.Consumer(ctx, w.cfg.Input.Stream, w.cfg.Input.Consumer)
		if err == nil {
			w.bound.Store(true)
			w.log.Info().Str("stream", w.cfg.Input.Stream).Str("consumer", w.cfg.Input.Consumer).Msg("consumer bound")
			return cons, nil
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("bind consumer %s/%s: %w", w.cfg.Input.Stream, w.cfg.Input.Consumer, err)
		}
		sampled(&w.log, w.sample.fetch).Warn().Err(err).Bool("sampled", true).Msg("cannot bind the consumer yet; retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bind consumer: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// pull fetches only as many messages as there are free handler slots, so
// nothing waits unacknowledged in a local buffer, and hands each to a
// handler on msgs.
func (w *Worker) pull(ctx context.Context, cons jetstream.Consumer, slots chan struct{}, msgs chan<- jetstream.Msg) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := w.moreSlots(ctx, slots)
		got, err := w.fetch(ctx, cons, n, msgs)
		for i := got; i < n; i++ {
			<-slots
		}
		if err != nil && ctx.Err() == nil {
			sampled(&w.log, w.sample.fetch).Warn().Err(err).Dur("retry_in", delay).Bool("sampled", true).Msg("fetch failed")
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			delay = min(delay*2, 5*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
	}
}

// batchWait is how long the pull loop waits for all its slots to come
// free before it fetches into fewer: every pull costs a round trip and a
// subscription of its own on the server, so under load whole batches are
// worth a millisecond (measured: batches of 8 instead of 16 cost the
// cache-warm bench about a tenth of its rate). When the handlers are idle
// every slot is free at once and nothing waits.
const batchWait = time.Millisecond

// moreSlots takes, besides the one slot already held, every free slot,
// waiting up to batchWait for the handlers to free the others. It returns
// how many slots are held.
func (w *Worker) moreSlots(ctx context.Context, slots chan struct{}) int {
	n := 1
	var timer <-chan time.Time
	for n < cap(slots) {
		select {
		case slots <- struct{}{}:
			n++
			continue
		default:
		}
		if timer == nil {
			timer = time.After(w.batchWait)
		}
		select {
		case slots <- struct{}{}:
			n++
		case <-timer:
			return n
		case <-ctx.Done():
			return n
		}
	}
	return n
}

// fetchExpiry is how long one pull request waits for messages.
const fetchExpiry = 2 * time.Second

// fetch asks for up to n messages and hands each to a handler as it
// arrives (a slot is held for each). It returns how many it handed over.
func (w *Worker) fetch(ctx context.Context, cons jetstream.Consumer, n int, msgs chan<- jetstream.Msg) (int, error) {
	// The pull is not cancelled at shutdown: nats.go drops the messages the
	// server already sent to a cancelled pull, which would strand them until
	// ack_wait. A short expiry bounds how long shutdown waits for it instead,
	// and whatever arrives is handled within the shutdown grace.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchExpiry)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		w.inFlight.Add(1)
		msgs <- msg
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrTimeout) {
		return got, fmt.Errorf("fetch: %w", err)
	}
	return got, nil
}

// observe tells the Observer how a message was settled. It runs after the
// ack: a panic in an Observer is logged here, never taken for a failure of
// the message.
func (w *Worker) observe(o outcome) {
	if w.observer == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			w.log.Error().Str("panic", fmt.Sprint(p)).Msg("panic in the settlement observer; recovered")
		}
	}()
	switch {
	case o.event != nil:
		w.observer.Settled("output", string(o.event.Enrichment.Status), string(o.event.Enrichment.Source))
	case o.deadClass != "":
		w.observer.Settled("dead_letter", o.deadClass, "")
	default:
		w.observer.Settled("retry", "retry", "")
	}
}
