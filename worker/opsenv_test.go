package worker

// Helpers of the operations tests (metrics, health, logging): a runtime
// started with Metrics and its ops endpoints, a parsed scrape, and a run of
// known composition.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// opsRuntime is one runtime started with Metrics, its ops endpoints over
// real HTTP, and the bearer tokens it sent to the API.
type opsRuntime struct {
	rt      *Runtime
	metrics *Metrics
	ops     *httptest.Server
	tokens  *tokenRecorder
}

// opsStart starts one runtime on e.Cfg with metrics, logging to log; it
// stops at test cleanup. run=false leaves it started but not running (the
// consumer unbound); call opsRun then.
func opsStart(t *testing.T, e *testEnv, log zerolog.Logger, run bool) (*opsRuntime, func()) {
	t.Helper()
	if err := e.Cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	o := &opsRuntime{metrics: NewMetrics(), tokens: &tokenRecorder{next: http.DefaultTransport}}
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := StartRuntime(ctx, RuntimeOptions{
		Config: e.Cfg, Logger: log, ShutdownGrace: 2 * time.Second, Metrics: o.metrics,
		StatsInterval: 20 * time.Millisecond, HTTPClient: &http.Client{Transport: o.tokens},
	})
	if err != nil {
		cancel()
		t.Fatalf("start runtime: %v", err)
	}
	o.rt = rt
	o.ops = httptest.NewServer(OpsHandler(o.metrics, rt.Ready))
	done := make(chan struct{})
	var once sync.Once
	runIt := func() { once.Do(func() { go func() { defer close(done); _ = rt.Run(ctx) }() }) }
	if run {
		runIt()
	}
	t.Cleanup(func() {
		cancel()
		runIt() // a runtime never run still closes its connection
		<-done
		o.ops.Close()
	})
	return o, runIt
}

// scrape fetches /metrics and parses it.
func (o *opsRuntime) scrape(t *testing.T) scraped {
	t.Helper()
	resp, err := http.Get(o.ops.URL + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: parse: %v", err)
	}
	return scraped(fams)
}

// scraped is one parsed scrape.
type scraped map[string]*dto.MetricFamily

// value is the value of the series of family name with exactly the labels
// given as "k=v" pairs (a histogram's sample count), or NaN if absent.
func (s scraped) value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return math.NaN()
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return math.NaN()
}

// sum adds every series of a counter family.
func (s scraped) sum(name string) float64 {
	total := 0.0
	for _, m := range s[name].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// tokenRecorder is a real transport that remembers every bearer token and
// access token it carries, to search the logs for them.
type tokenRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		r.mu.Lock()
		if r.seen == nil {
			r.seen = map[string]bool{}
		}
		r.seen[tok] = true
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *tokenRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for tok := range r.seen {
		out = append(out, tok)
	}
	return out
}

// composition is a run of known make-up: what was sent and what came out.
type composition struct {
	e                                  *testEnv
	o                                  *opsRuntime
	log                                *syncBuffer
	enriched, notFound, rejected       []string
	faulted503                         []string
	expired, bad, dupEnriched, dupNone int
	outputs, deadLetters               []*jetstream.RawStreamMsg
}

// runComposition runs, through one worker with metrics: 20 alerts with a
// user (5 of them answered 503 once, one 429 with Retry-After 1s once, one
// whose call revokes every token so that calls in flight get a 401 and
// refresh), 5 alerts without a user and 3 unknown ones (404), 2 rejected
// with a 403, 4 expired, 3 bad inputs; then, once settled, 4 of the
// enriched and 1 of the not-found again (answered by the cache).
func runComposition(t *testing.T) *composition {
	t.Helper()
	c := &composition{log: &syncBuffer{}}
	var srv atomic.Pointer[sim.Server]
	faults := map[string]string{}
	var mu sync.Mutex
	fault := func(id string, call int) *sim.Fault {
		mu.Lock()
		kind := faults[id]
		mu.Unlock()
		switch {
		case kind == "503" && call == 1:
			return &sim.Fault{Status: http.StatusServiceUnavailable}
		case kind == "429" && call == 1:
			return &sim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}
		case kind == "403":
			return &sim.Fault{Status: http.StatusForbidden}
		case kind == "expire" && call == 1:
			srv.Load().ExpireTokens()
		}
		return nil
	}
	c.e = newEnv(t, sim.Options{Alerts: 200, Fault: fault, LatencyJitter: 2 * time.Millisecond, Seed: 3})
	srv.Store(c.e.Sim)
	c.e.Cfg.Quota.Limits = []config.Limit{{Calls: 1000, Window: time.Hour}}
	var noUser []string
	var withUser []string
	for _, id := range c.e.Sim.AlertIDs(200) {
		if c.e.Sim.HasUser(id) {
			withUser = append(withUser, id)
		} else {
			noUser = append(noUser, id)
		}
	}
	if len(withUser) < 34 || len(noUser) < 5 {
		t.Fatalf("data set too small: %d with a user, %d without", len(withUser), len(noUser))
	}
	c.enriched, c.rejected = withUser[:20], withUser[20:22]
	c.faulted503 = c.enriched[:5]
	c.notFound = append(noUser[:5:5], "unknown_alert_1", "unknown_alert_2", "unknown_alert_3")
	mu.Lock()
	for _, id := range c.faulted503 {
		faults[id] = "503"
	}
	faults[c.enriched[5]] = "429"
	faults[c.enriched[6]] = "expire"
	for _, id := range c.rejected {
		faults[id] = "403"
	}
	mu.Unlock()

	var bodies [][]byte
	for _, id := range append(append(append([]string{}, c.enriched...), c.notFound...), c.rejected...) {
		bodies = append(bodies, []byte(id))
	}
	for i := range 4 {
		bodies = append(bodies, fmt.Appendf(nil, `{"id":%q,"lastUpdateTime":"2001-01-0%dT00:00:00Z"}`, withUser[30+i], i+1))
	}
	c.expired = 4
	bad := [][]byte{[]byte("not a valid id!"), []byte(`{"id": 5}`), []byte(`{"id":"x"`)}
	c.bad = len(bad)
	bodies = append(bodies, bad...)

	c.o, _ = opsStart(t, c.e, zerolog.New(c.log).Level(zerolog.DebugLevel).With().Timestamp().Logger(), true)
	c.e.publish(bodies...)
	c.e.waitSettled(60 * time.Second)
	c.dupEnriched, c.dupNone = 4, 1
	c.e.publish([]byte(c.enriched[10]), []byte(c.enriched[11]), []byte(c.enriched[12]), []byte(c.enriched[13]), []byte(c.notFound[0]))
	c.outputs, c.deadLetters = c.e.waitSettled(60 * time.Second)
	return c
}
