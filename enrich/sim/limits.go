package sim

import (
	"time"

	"github.com/enricher/enricher/config"
)

// limiter enforces the limits per client, as exact sliding windows over the
// start times of the calls it admitted.
type limiter struct {
	limits  []config.Limit
	longest time.Duration
	clients map[string]*timeQueue // client ID -> admitted start times
}

func newLimiter(limits []config.Limit) *limiter {
	l := &limiter{limits: limits, clients: make(map[string]*timeQueue)}
	for _, lim := range limits {
		l.longest = max(l.longest, lim.Window)
	}
	return l
}

// admit decides a call of client at now: it is admitted iff, for every limit
// N/W, fewer than N admitted calls of that client started in (now-W, now].
// An admitted call is remembered; a refused one is not, and wait is how long
// until it would be admitted (when the oldest call that must leave a window
// for it has left).
func (l *limiter) admit(client string, now time.Time) (ok bool, wait time.Duration) {
	if len(l.limits) == 0 {
		return true, 0
	}
	t := now.UnixNano()
	q := l.clients[client]
	if q == nil {
		q = &timeQueue{}
		l.clients[client] = q
	}
	q.dropThrough(t - int64(l.longest))
	for _, lim := range l.limits {
		first := q.since(t - int64(lim.Window))
		inWindow := q.len() - first
		if inWindow < lim.Calls {
			continue
		}
		// The window admits a call again once inWindow-Calls+1 of its oldest
		// calls have left it, i.e. when that call's start is W old.
		leaves := q.at(first+inWindow-lim.Calls) + int64(lim.Window)
		wait = max(wait, time.Duration(leaves-t))
	}
	if wait > 0 {
		return false, wait
	}
	q.push(t)
	return true, 0
}
