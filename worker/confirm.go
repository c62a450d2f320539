package worker

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// asyncPublishTimeout bounds the wait for the server's ack of an
// asynchronous publish; after it the event is published again, waiting
// (the same Nats-Msg-Id, so the stream keeps one copy).
const asyncPublishTimeout = 5 * time.Second

// pendingOutput is an output event published but not yet confirmed by the
// stream, with what is needed to settle its input afterwards.
type pendingOutput struct {
	f            jetstream.PubAckFuture
	d            *delivery
	o            outcome
	stop         func()
	ctx, workCtx context.Context
}

// confirmer settles the inputs of asynchronously published output events
// as the stream confirms them: Ack on the stream's ack; on an error or no
// ack in time, the event is published again synchronously (with retries,
// then Nak) off the confirm loop. The number of events awaiting their ack
// is bounded by the JetStream context's async max pending; past it, the
// handler publishes and waits itself.
type confirmer struct {
	w       *Worker
	pending chan pendingOutput
	wg      sync.WaitGroup
}

// startConfirmer starts the confirm loop for up to max pending events.
func (w *Worker) startConfirmer(max int) *confirmer {
	c := &confirmer{w: w, pending: make(chan pendingOutput, max)}
	c.wg.Go(c.loop)
	return c
}

func (c *confirmer) add(p pendingOutput) { c.pending <- p }

// loop confirms in publish order (the acks come back in that order).
func (c *confirmer) loop() {
	for p := range c.pending {
		select {
		case <-p.f.Ok():
			c.w.stored(p.ctx, p.d, p.o, p.stop)
		case <-p.f.Err():
			m := p.f.Msg()
			c.wg.Go(func() {
				if o, ok := c.w.storeOutputSync(p.ctx, p.workCtx, p.d, p.o, m, p.stop); !ok {
					c.w.settle(p.ctx, p.workCtx, p.d, o, p.stop)
				}
			})
		}
	}
}

// close waits until every pending event is settled; no add may follow.
func (c *confirmer) close() {
	close(c.pending)
	c.wg.Wait()
}

// asyncOptions are the worker's JetStream options for asynchronous
// publishing: at most max events awaiting their ack.
func asyncOptions(max int) []jetstream.JetStreamOpt {
	return []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(max),
		jetstream.WithPublishAsyncTimeout(asyncPublishTimeout),
	}
}
