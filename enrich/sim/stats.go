package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enricher/enricher/config"
)

// Request is one API call (GET /api/alerts/{id}/user) as the server saw it.
type Request struct {
	// Time is when the call was decided (received, to within the lock).
	Time time.Time `json:"time"`
	// AlertID is the {id} of the path.
	AlertID string `json:"alertId"`
	// Status is the HTTP status answered.
	Status int `json:"status"`
	// ClientID is the client the bearer token was issued to ("" for a 401).
	ClientID string `json:"clientId,omitempty"`
}

// Stats are the counters served at GET /_sim/stats.
type Stats struct {
	// Requests counts API calls, whatever their answer (token requests excluded).
	Requests int `json:"requests"`
	// ByStatus counts API calls by HTTP status (JSON keys are "200", "429"...).
	ByStatus map[int]int `json:"byStatus"`
	// Tokens counts requests to the token endpoints, whatever their answer.
	Tokens int `json:"tokens"`
	// TokensIssued counts the tokens issued.
	TokensIssued int `json:"tokensIssued"`
	// Limits has one entry per configured limit, in order.
	Limits []LimitStats `json:"limits"`
}

// LimitStats are the window maxima for one limit N/W, over all clients.
type LimitStats struct {
	// Limit is the limit, e.g. "100/1m".
	Limit string `json:"limit"`
	// MaxInWindow is the most API calls (any status) that started within any
	// interval of length W (half-open, as the limiter counts them).
	MaxInWindow int `json:"maxInWindow"`
	// MaxAdmittedInWindow is the same for the calls not answered 429.
	MaxAdmittedInWindow int `json:"maxAdmittedInWindow"`
	// Saturated is true when more than 2^20 calls fell in one window, so
	// that the maxima above are lower bounds.
	Saturated bool `json:"saturated,omitempty"`
}

// statsState accumulates Stats and the request log. Guarded by Server.mu.
type statsState struct {
	limits       []config.Limit
	requestsN    int
	byStatus     map[int]int
	tokens       int
	tokensIssued int
	all          []*slidingMax // per limit, every call
	admitted     []*slidingMax // per limit, calls not answered 429
	log          []Request
	logCap       int
}

func newStatsState(limits []config.Limit, logCap int) *statsState {
	st := &statsState{limits: limits, byStatus: make(map[int]int), logCap: logCap}
	for _, l := range limits {
		st.all = append(st.all, newSlidingMax(l.Window))
		st.admitted = append(st.admitted, newSlidingMax(l.Window))
	}
	return st
}

// record counts one API call; calls arrive in time order (Server.clock).
func (st *statsState) record(r Request) {
	st.requestsN++
	st.byStatus[r.Status]++
	t := r.Time.UnixNano()
	for i := range st.all {
		st.all[i].add(t)
		if r.Status != http.StatusTooManyRequests {
			st.admitted[i].add(t)
		}
	}
	st.log = append(st.log, r)
	if len(st.log) >= 2*st.logCap { // keep the newest logCap, amortised O(1)
		n := copy(st.log, st.log[len(st.log)-st.logCap:])
		st.log = st.log[:n]
	}
}

func (st *statsState) requests() []Request {
	from := max(len(st.log)-st.logCap, 0)
	return append([]Request(nil), st.log[from:]...)
}

func (st *statsState) snapshot() Stats {
	out := Stats{
		Requests:     st.requestsN,
		ByStatus:     make(map[int]int, len(st.byStatus)),
		Tokens:       st.tokens,
		TokensIssued: st.tokensIssued,
		Limits:       make([]LimitStats, len(st.limits)),
	}
	for k, v := range st.byStatus {
		out.ByStatus[k] = v
	}
	for i, l := range st.limits {
		out.Limits[i] = LimitStats{
			Limit:               FormatLimit(l),
			MaxInWindow:         st.all[i].max,
			MaxAdmittedInWindow: st.admitted[i].max,
			Saturated:           st.all[i].saturated || st.admitted[i].saturated,
		}
	}
	return out
}

// FormatLimit writes a limit the way it is configured: "100/1m", "1500/1h",
// "20/1s", "5/1m30s".
func FormatLimit(l config.Limit) string {
	d := l.Window.String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return strconv.Itoa(l.Calls) + "/" + d
}
