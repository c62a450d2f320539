package enrich

import (
	"context"
	"slices"
)

// quotaWaiter is one Wait call in progress, as the goroutine holding the
// turn sees it.
type quotaWaiter struct {
	// ctx is the Wait call's: a waiter whose ctx has ended is not taken
	// into a batch.
	ctx context.Context
	// done is closed once state is quotaWaiterDone.
	done  chan struct{}
	state quotaWaiterState
	// grant is its grant (µs), set before done is closed.
	grant int64
}

// quotaWaiterState is where a waiter is; it changes under Quota.mu.
type quotaWaiterState int

const (
	// quotaWaiterPending: in Quota.waiting, no grant asked for it.
	quotaWaiterPending quotaWaiterState = iota
	// quotaWaiterLeading: it holds the turn and asks for its own grant.
	quotaWaiterLeading
	// quotaWaiterClaimed: taken into a batch whose write is in flight.
	quotaWaiterClaimed
	// quotaWaiterAbandoned: claimed, but its ctx ended and Wait returned;
	// if the batch's write lands its grant is wasted (counted as used).
	quotaWaiterAbandoned
	// quotaWaiterDone: grant is set and done is closed. (A batch whose
	// write fails gives no outcome: its waiters go back in line.)
	quotaWaiterDone
)

// enqueue registers a new Wait call.
func (q *Quota) enqueue(ctx context.Context) *quotaWaiter {
	w := &quotaWaiter{ctx: ctx, done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()
	return w
}

// lead makes w the turn holder. It returns false if w was granted by the
// previous turn holder.
func (q *Quota) lead(w *quotaWaiter) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.state != quotaWaiterPending {
		return false
	}
	q.waiting = slices.DeleteFunc(q.waiting, func(x *quotaWaiter) bool { return x == w })
	w.state = quotaWaiterLeading
	return true
}

// leave is called when w's ctx ends before its grant: a pending waiter
// leaves the queue (no grant), a claimed one is abandoned. It returns the
// grant and true if w was granted already.
func (q *Quota) leave(w *quotaWaiter) (grant int64, granted bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch w.state {
	case quotaWaiterDone:
		return w.grant, true
	case quotaWaiterPending:
		q.waiting = slices.DeleteFunc(q.waiting, func(x *quotaWaiter) bool { return x == w })
	case quotaWaiterClaimed:
		w.state = quotaWaiterAbandoned
	}
	return 0, false
}

// claim takes up to n pending waiters, oldest first, into a batch; those
// whose ctx has ended stay out (they are leaving the queue).
func (q *Quota) claim(n int) []*quotaWaiter {
	q.mu.Lock()
	defer q.mu.Unlock()
	var batch []*quotaWaiter
	for _, w := range q.waiting {
		if len(batch) == n {
			break
		}
		if w.ctx.Err() == nil {
			w.state = quotaWaiterClaimed
			batch = append(batch, w)
		}
	}
	q.waiting = slices.DeleteFunc(q.waiting, func(w *quotaWaiter) bool { return w.state == quotaWaiterClaimed })
	return batch
}

// unclaim puts back, first in line, the waiters of a batch whose write did
// not happen; the abandoned ones are dropped (their Wait has returned).
func (q *Quota) unclaim(batch []*quotaWaiter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	back := make([]*quotaWaiter, 0, len(batch))
	for _, w := range batch {
		if w.state == quotaWaiterClaimed {
			w.state = quotaWaiterPending
			back = append(back, w)
		}
	}
	q.waiting = append(back, q.waiting...)
}

// settle gives the waiters of a batch whose write landed their grant.
func (q *Quota) settle(batch []*quotaWaiter, grant int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range batch {
		if w.state != quotaWaiterClaimed {
			continue
		}
		w.state, w.grant = quotaWaiterDone, grant
		close(w.done)
	}
}

// quotaRoom returns how many grants at time hi (µs), at most want, the
// state s admits once the fleet time is at least lo: the k-th of them must
// keep every limit given the k-1 before it, as quotaEarliest would check
// one at a time. s.Grants are ascending.
func quotaRoom(s QuotaState, limits []quotaLimit, lo, hi int64, want int) int {
	if s.PausedUntil > lo {
		return 0
	}
	g := s.Grants
	// p: the grants at or before hi; the new ones go right after them.
	p, _ := slices.BinarySearchFunc(g, hi, func(x, t int64) int {
		if x <= t {
			return -1
		}
		return 1
	})
	for k := range want {
		// k new grants are already in: check the (k+1)-th.
		for _, l := range limits {
			x := len(g) + k - l.calls // index of the N-th most recent
			var t int64
			switch {
			case x < 0:
				continue
			case x < p:
				t = g[x]
			case x < p+k:
				t = hi
			default:
				t = g[x-k]
			}
			if t+l.span > lo {
				return k
			}
		}
	}
	return want
}

// quotaWithGrants returns grants plus k grants at ts, in order, keeping only
// the max most recent. grants is not modified.
func quotaWithGrants(grants []int64, ts int64, k, max int) []int64 {
	p, _ := slices.BinarySearchFunc(grants, ts, func(x, t int64) int {
		if x <= t {
			return -1
		}
		return 1
	})
	out := make([]int64, 0, len(grants)+k)
	out = append(out, grants[:p]...)
	for range k {
		out = append(out, ts)
	}
	out = append(out, grants[p:]...)
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}
