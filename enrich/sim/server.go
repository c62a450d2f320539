package sim

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is the simulated Defender API. It implements http.Handler and is
// safe for concurrent use.
type Server struct {
	opts Options
	data *dataset

	mu       sync.Mutex
	last     time.Time        // latest clock reading, so time never goes back
	rng      *rand.Rand       // FailRate, BadResponseRate, LatencyJitter
	tokens   map[string]token // access token -> holder
	limiter  *limiter
	stats    *statsState
	calls    map[string]int // alert ID -> authorised calls, for Options.Fault
	badCycle int            // next kind of BadMixed
}

// New returns a simulator for opts (see Options for the defaults).
func New(opts Options) *Server {
	opts = opts.withDefaults()
	seed := uint64(opts.Seed)
	return &Server{
		opts:    opts,
		data:    newDataset(opts.Alerts),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		tokens:  make(map[string]token),
		limiter: newLimiter(opts.Limits),
		stats:   newStatsState(opts.Limits, opts.RequestLog),
		calls:   make(map[string]int),
	}
}

// ServeHTTP routes a request (see the package documentation for the routes).
// Unknown paths answer 404 and known paths with the wrong method 405, both
// with the error envelope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "api" && parts[1] == "alerts" && parts[3] == "user" && parts[2] != "":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.serveUser(w, r, parts[2])
	case len(parts) == 4 && parts[0] != "" && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		s.serveToken(w, r, false)
	case len(parts) == 3 && parts[0] != "" && parts[1] == "oauth2" && parts[2] == "token":
		s.serveToken(w, r, true)
	case len(parts) == 2 && parts[0] == "_sim":
		s.serveControl(w, r, parts[1])
	default:
		errorResponse(http.StatusNotFound, "NotFound", "The requested resource was not found.").write(w)
	}
}

// allow answers 405 and returns false unless r uses method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	errorResponse(http.StatusMethodNotAllowed, "BadRequest",
		"The HTTP method "+r.Method+" is not allowed for this resource.").write(w)
	return false
}

// Requests returns the most recent API requests (GET /api/alerts/{id}/user,
// token requests excluded), oldest first, at most Options.RequestLog of them.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.requests()
}

// Stats returns the counters served at GET /_sim/stats.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.snapshot()
}

// Reset clears the counters, the request log, the window maxima, the rate
// limiter's memory and the per-alert call counts of Options.Fault. Issued
// tokens stay valid; the data set and the random sequence are unchanged.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStatsState(s.opts.Limits, s.opts.RequestLog)
	s.limiter = newLimiter(s.opts.Limits)
	s.calls = make(map[string]int)
}

// clock reads Options.Now, never going back in time. Call with s.mu held.
func (s *Server) clock() time.Time {
	now := s.opts.Now()
	if now.Before(s.last) {
		now = s.last
	}
	s.last = now
	return now
}

// response is an answer decided under the lock and written after it.
type response struct {
	status int
	header http.Header
	body   []byte
	delay  time.Duration
}

func (r response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body) // the client may be gone; nothing to do about it
}
