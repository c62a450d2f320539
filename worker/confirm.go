package worker

import (
	"context"
	"fmt"
	"runtime/debug"
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
	f       jetstream.PubAckFuture
	d       *delivery
	o       outcome
	stop    func()
	workCtx context.Context
}

// confirmer settles the inputs of asynchronously published output events
// as the stream confirms them. It owns each message it is handed: the
// message's heartbeat runs until it is settled, so waiting here never
// causes a redelivery. On the stream's ack the input is acked; on an error
// (a disconnect fails every pending publish) or no ack in time, the event
// is published again, waiting, with retries, here in the loop: the loop
// then stalls, the handlers' asynchronous publishes stall at the bound and
// they publish and wait themselves, so an outage holds at most twice
// worker.concurrency messages, each kept alive, none acked without its
// event.
type confirmer struct {
	w       *Worker
	pending chan pendingOutput
	done    chan struct{}
}

// startConfirmer starts the confirm loop for up to max pending events.
func (w *Worker) startConfirmer(max int) *confirmer {
	c := &confirmer{w: w, pending: make(chan pendingOutput, max), done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *confirmer) add(p pendingOutput) { c.pending <- p }

// loop confirms in publish order (the acks come back in that order).
func (c *confirmer) loop() {
	defer close(c.done)
	for p := range c.pending {
		c.confirm(p)
	}
}

// confirm settles one message; a panic is logged and leaves the message
// unacknowledged (redelivered after ack_wait), never settled twice.
func (c *confirmer) confirm(p pendingOutput) {
	defer c.w.inFlight.Add(-1)
	defer func() {
		if r := recover(); r != nil {
			p.stop()
			p.d.log.get().Error().Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).
				Msg("panic while confirming an output; the message will be redelivered")
		}
	}()
	select {
	case <-p.f.Ok():
		c.w.stored(p.d, p.o, p.stop)
	case <-p.f.Err():
		if o, ok := c.w.storeOutputSync(p.workCtx, p.d, p.o, p.f.Msg(), p.stop); !ok {
			c.w.settle(p.workCtx, p.d, o, p.stop)
		}
	}
}

// close waits until every pending event is settled; no add may follow.
func (c *confirmer) close() {
	close(c.pending)
	<-c.done
}

// asyncOptions are the worker's JetStream options for asynchronous
// publishing: at most max events awaiting their ack.
func asyncOptions(max int) []jetstream.JetStreamOpt {
	return []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(max),
		jetstream.WithPublishAsyncTimeout(asyncPublishTimeout),
	}
}
