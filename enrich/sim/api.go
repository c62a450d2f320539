package sim

import (
	"context"
	"net/http"
	"time"
)

// serveUser answers GET /api/alerts/{id}/user.
func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, alertID string) {
	resp := s.userResponse(r, alertID)
	if !sleep(r.Context(), resp.delay) {
		return // the caller went away during the latency
	}
	resp.write(w)
}

// userResponse decides the answer to one API call and records it. The order
// of the checks: bearer token (401), Options.Fault, the limits (429),
// FailRate (503), the data set (404), then the user entity (200, possibly
// replaced by a bad response).
func (s *Server) userResponse(r *http.Request, alertID string) response {
	s.mu.Lock()
	now := s.clock()
	clientID, problem := s.authorise(r, now)
	if problem != "" {
		resp := unauthorized(problem)
		s.finish(&resp, now, alertID, "")
		s.mu.Unlock()
		return resp
	}
	call := 0
	if s.opts.Fault != nil {
		s.calls[alertID]++
		call = s.calls[alertID]
	}
	s.mu.Unlock()

	var fault *Fault
	if s.opts.Fault != nil {
		fault = s.opts.Fault(alertID, call) // outside the lock: it may call s
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.clock()
	var resp response
	if fault != nil && fault.Status != 0 {
		resp = s.faultResponse(alertID, fault)
	} else {
		resp = s.decide(alertID, clientID, now)
	}
	s.finish(&resp, now, alertID, clientID)
	return resp
}

// decide answers an authorised call that no Fault forced. Call with s.mu held.
func (s *Server) decide(alertID, clientID string, now time.Time) response {
	if ok, wait := s.limiter.admit(clientID, now); !ok {
		return tooMany(wait)
	}
	if s.opts.FailRate > 0 && s.rng.Float64() < s.opts.FailRate {
		return errorResponse(http.StatusServiceUnavailable, "", "")
	}
	idx, known := s.data.index[alertID]
	if !known || s.data.noUser[idx] {
		return notFound(alertID, known)
	}
	if s.opts.BadResponseRate > 0 && s.rng.Float64() < s.opts.BadResponseRate {
		return s.badResponse(idx)
	}
	return response{status: http.StatusOK, header: http.Header{}, body: s.data.userJSON(idx)}
}

// finish records the call in the statistics and draws its latency. Call with
// s.mu held.
func (s *Server) finish(resp *response, now time.Time, alertID, clientID string) {
	s.stats.record(Request{Time: now, AlertID: alertID, Status: resp.status, ClientID: clientID})
	resp.delay = s.opts.Latency
	if j := s.opts.LatencyJitter; j > 0 {
		resp.delay += time.Duration(s.rng.Int64N(int64(j) + 1))
	}
}

// sleep waits d, or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
