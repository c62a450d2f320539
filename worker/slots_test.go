package worker

import (
	"context"
	"testing"
	"time"
)

// TestMoreSlotsTakesEveryFreeSlot: with every handler idle the pull loop
// fetches a whole batch at once; with some busy it takes the free ones
// after at most batchWait, never more than there are.
func TestMoreSlotsTakesEveryFreeSlot(t *testing.T) {
	t.Parallel()
	w := Worker{batchWait: batchWait}
	ctx := context.Background()

	idle := make(chan struct{}, 16)
	idle <- struct{}{} // the slot the pull loop already holds
	if n := w.moreSlots(ctx, idle); n != 16 || len(idle) != 16 {
		t.Errorf("idle handlers: %d slots (%d taken), want 16", n, len(idle))
	}

	busy := make(chan struct{}, 16)
	for range 10 { // ten handlers at work
		busy <- struct{}{}
	}
	busy <- struct{}{}
	if n := w.moreSlots(ctx, busy); n != 6 || len(busy) != 16 {
		t.Errorf("ten busy handlers: %d slots (%d taken), want 6", n, len(busy))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	full := make(chan struct{}, 4)
	for range 4 {
		full <- struct{}{}
	}
	if n := w.moreSlots(cancelled, full); n != 1 {
		t.Errorf("every other slot busy: %d slots, want the one held", n)
	}
}

// TestMoreSlotsWaitsForAWholeBatch: while handlers finish within the
// wait, the pull loop keeps collecting their slots until it holds all of
// them (a half batch would cost another pull soon after).
func TestMoreSlotsWaitsForAWholeBatch(t *testing.T) {
	t.Parallel()
	w := Worker{batchWait: time.Hour} // never the limit here
	slots := make(chan struct{}, 16)
	for range 16 { // fifteen busy handlers, and the slot the loop holds
		slots <- struct{}{}
	}
	got := make(chan int, 1)
	go func() { got <- w.moreSlots(context.Background(), slots) }()
	for range 15 { // the handlers finish one after the other
		<-slots
	}
	select {
	case n := <-got:
		if n != 16 {
			t.Errorf("moreSlots returned %d slots, want all 16", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("moreSlots did not return once every slot was free")
	}
}
