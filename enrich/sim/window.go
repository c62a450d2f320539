package sim

import (
	"sort"
	"time"
)

// timeQueue holds ascending timestamps (Unix nanoseconds) in a slice used
// as a queue: old ones are dropped from the front.
type timeQueue struct {
	times []int64
	head  int
}

// len is the number of timestamps held.
func (q *timeQueue) len() int { return len(q.times) - q.head }

// at is the i-th oldest timestamp held.
func (q *timeQueue) at(i int) int64 { return q.times[q.head+i] }

// push appends t, which must not be older than the newest held.
func (q *timeQueue) push(t int64) { q.times = append(q.times, t) }

// dropOldest drops the oldest timestamp.
func (q *timeQueue) dropOldest() { q.head++; q.compact() }

// dropThrough drops every timestamp <= cut.
func (q *timeQueue) dropThrough(cut int64) {
	for q.head < len(q.times) && q.times[q.head] <= cut {
		q.head++
	}
	q.compact()
}

// since is the index (0 = oldest held) of the first timestamp > cut.
func (q *timeQueue) since(cut int64) int {
	live := q.times[q.head:]
	return sort.Search(len(live), func(i int) bool { return live[i] > cut })
}

// compact reclaims the dropped front once it is half the slice.
func (q *timeQueue) compact() {
	if q.head > 64 && q.head*2 >= len(q.times) {
		n := copy(q.times, q.times[q.head:])
		q.times = q.times[:n]
		q.head = 0
	}
}

// maxWindowEntries bounds the timestamps one slidingMax keeps; beyond it the
// maximum becomes a lower bound and Saturated is reported.
const maxWindowEntries = 1 << 20

// slidingMax tracks the most events seen in any window of a given length:
// for every event at t, the events in (t-window, t]. The largest such count
// is the largest count of any interval of that length, because an interval
// holding k events can be slid right until its end meets its last event.
type slidingMax struct {
	window    time.Duration
	q         timeQueue
	max       int
	limit     int  // most timestamps kept (maxWindowEntries)
	saturated bool // limit was reached: max may be low
}

func newSlidingMax(window time.Duration) *slidingMax {
	return &slidingMax{window: window, limit: maxWindowEntries}
}

// add records an event at t (not older than the previous one).
func (m *slidingMax) add(t int64) {
	m.q.dropThrough(t - int64(m.window))
	if m.q.len() >= m.limit {
		m.q.dropOldest()
		m.saturated = true
	}
	m.q.push(t)
	m.max = max(m.max, m.q.len())
}
