package worker

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// heartbeats tells the server that the messages being handled are still
// being worked on, so a message that legitimately waits (for quota, a
// Retry-After, a backoff) is never redelivered. One goroutine serves every
// message of the worker: every interval it sends InProgress for each
// message in hand for at least half an interval, so none goes more than
// 1.5 intervals (half the ack wait) without one.
type heartbeats struct {
	interval time.Duration
	mu       sync.Mutex
	live     map[*beat]struct{}
}

// beat is one message's membership in the heartbeats.
type beat struct {
	h     *heartbeats
	msg   jetstream.Msg
	since time.Time
}

func newHeartbeats(interval time.Duration) *heartbeats {
	return &heartbeats{interval: interval, live: make(map[*beat]struct{})}
}

// run sends the heartbeats until ctx ends.
func (h *heartbeats) run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			for b := range h.live {
				if now.Sub(b.since) >= h.interval/2 {
					_ = b.msg.InProgress()
				}
			}
			h.mu.Unlock()
		}
	}
}

// start adds msg; its beat's stop removes it.
func (h *heartbeats) start(msg jetstream.Msg) *beat {
	b := &beat{h: h, msg: msg, since: time.Now()}
	h.mu.Lock()
	h.live[b] = struct{}{}
	h.mu.Unlock()
	return b
}

// stop ends the heartbeat of the message: once it returns, no InProgress
// is sent for it any more (one sent after a NakWithDelay would cut the
// delay short). Calling it again does nothing.
func (b *beat) stop() {
	b.h.mu.Lock()
	delete(b.h.live, b)
	b.h.mu.Unlock()
}
