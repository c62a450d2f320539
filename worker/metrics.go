package worker

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/enricher/enricher/enrich"
)

// Label values of enricher_cache_requests_total.
const (
	CacheHit   = "hit"
	CacheMiss  = "miss"
	CacheError = "error"
)

// codeNoAnswer is the code label of an API attempt that got no answer
// (timeout, refused or reset connection).
const codeNoAnswer = "error"

// quotaWaitBuckets span a free quota (ms) to an exhausted hourly window.
var quotaWaitBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600}

// Metrics holds the worker's Prometheus figures on a registry of its own.
// It implements Observer. Pass it as RuntimeOptions.Metrics so the runtime
// wires the API, quota, cache and consumer figures too; the figures read
// from a runtime (quota, in flight, ready) describe the last runtime
// started with it, so use one Metrics per runtime.
type Metrics struct {
	reg                *prometheus.Registry
	messages           *prometheus.CounterVec
	deadLetters        *prometheus.CounterVec
	retries            prometheus.Counter
	apiRequests        *prometheus.CounterVec
	apiDuration        prometheus.Histogram
	apiRetries         prometheus.Counter
	quotaWait          prometheus.Histogram
	cacheRequests      *prometheus.CounterVec
	consumerPending    prometheus.Gauge
	consumerAckPending prometheus.Gauge
	runtime            atomic.Pointer[Runtime]
}

// NewMetrics registers the enricher's metrics, plus the Go and process
// collectors, on a registry of its own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_messages_total",
			Help: "Input messages settled, by outcome (enriched, not_found, expired, dead_letter, retry) and source (api, cache, none).",
		}, []string{"outcome", "source"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_dead_letters_total",
			Help: "Dead letters published, by class (invalid_input, api_rejected, retries_exhausted).",
		}, []string{"class"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_message_retries_total",
			Help: "Messages handed back for a later delivery (Nak or NakWithDelay).",
		}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_api_requests_total",
			Help: `HTTP attempts to the Defender API, by status code ("error" when no answer arrived).`,
		}, []string{"code"}),
		apiDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_api_request_duration_seconds",
			Help:    "Duration of one HTTP attempt to the Defender API, quota wait excluded.",
			Buckets: prometheus.DefBuckets,
		}),
		apiRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_api_retries_total",
			Help: "HTTP attempts after the first within one alert's call (backoff, Retry-After, or a fresh token after a 401).",
		}),
		quotaWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enricher_quota_wait_seconds",
			Help:    "Time one API call waited for the shared quota before it was granted.",
			Buckets: quotaWaitBuckets,
		}),
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enricher_cache_requests_total",
			Help: "Outcome cache look-ups, by result (hit, miss, error).",
		}, []string{"result"}),
		consumerPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_consumer_pending",
			Help: "Messages of the input stream not yet delivered to any worker (consumer info, refreshed periodically).",
		}),
		consumerAckPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "enricher_consumer_ack_pending",
			Help: "Messages delivered to workers and not yet acknowledged (consumer info, refreshed periodically).",
		}),
	}
	m.reg.MustRegister(m.messages, m.deadLetters, m.retries, m.apiRequests, m.apiDuration, m.apiRetries,
		m.quotaWait, m.cacheRequests, m.consumerPending, m.consumerAckPending, &runtimeCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known series start at zero, so rates and alerts work from the start.
	for _, pair := range [][2]string{{"enriched", "api"}, {"enriched", "cache"}, {"not_found", "api"},
		{"not_found", "cache"}, {"expired", "none"}, {"dead_letter", "none"}, {"retry", "none"}} {
		m.messages.WithLabelValues(pair[0], pair[1])
	}
	for _, c := range []string{ClassInvalidInput, ClassAPIRejected, ClassRetriesExhausted} {
		m.deadLetters.WithLabelValues(c)
	}
	for _, r := range []string{CacheHit, CacheMiss, CacheError} {
		m.cacheRequests.WithLabelValues(r)
	}
	return m
}

// Registry is where further collectors register.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Settled implements Observer.
func (m *Metrics) Settled(kind, value, source string) {
	switch kind {
	case "output":
		m.messages.WithLabelValues(value, source).Inc()
	case "dead_letter":
		m.messages.WithLabelValues("dead_letter", "none").Inc()
		m.deadLetters.WithLabelValues(value).Inc()
	default:
		m.messages.WithLabelValues("retry", "none").Inc()
		m.retries.Inc()
	}
}

// ObserveAttempt records one HTTP attempt to the API; it is the Defender
// client's enrich.Options.OnAttempt.
func (m *Metrics) ObserveAttempt(a enrich.AttemptInfo) {
	code := codeNoAnswer
	if a.Status > 0 {
		code = strconv.Itoa(a.Status)
	}
	m.apiRequests.WithLabelValues(code).Inc()
	m.apiDuration.Observe(a.Elapsed.Seconds())
	if a.Number > 1 {
		m.apiRetries.Inc()
	}
}

// SetConsumer records the consumer's pending and ack-pending counts.
func (m *Metrics) SetConsumer(pending uint64, ackPending int) {
	m.consumerPending.Set(float64(pending))
	m.consumerAckPending.Set(float64(ackPending))
}

// attach makes r the runtime whose quota, in-flight count and readiness
// are reported.
func (m *Metrics) attach(r *Runtime) { m.runtime.Store(r) }

// Limiter wraps l so that the time each granted Wait took is recorded in
// enricher_quota_wait_seconds. Pause passes through.
func (m *Metrics) Limiter(l enrich.Limiter) enrich.Limiter {
	return timedLimiter{l: l, wait: m.quotaWait}
}

// Cache wraps c so that its look-ups are counted in
// enricher_cache_requests_total.
func (m *Metrics) Cache(c OutcomeCache) OutcomeCache {
	return countingCache{c: c, count: m.cacheRequests}
}

// timedLimiter measures Wait.
type timedLimiter struct {
	l    enrich.Limiter
	wait prometheus.Observer
}

func (t timedLimiter) Wait(ctx context.Context) error {
	start := time.Now()
	err := t.l.Wait(ctx)
	if err == nil {
		t.wait.Observe(time.Since(start).Seconds())
	}
	return err
}

func (t timedLimiter) Pause(ctx context.Context, until time.Time) error { return t.l.Pause(ctx, until) }

// countingCache counts Get results.
type countingCache struct {
	c     OutcomeCache
	count *prometheus.CounterVec
}

func (c countingCache) Get(ctx context.Context, alertID string) (CachedOutcome, bool, error) {
	o, ok, err := c.c.Get(ctx, alertID)
	switch {
	case err != nil:
		c.count.WithLabelValues(CacheError).Inc()
	case ok:
		c.count.WithLabelValues(CacheHit).Inc()
	default:
		c.count.WithLabelValues(CacheMiss).Inc()
	}
	return o, ok, err
}

func (c countingCache) Put(ctx context.Context, alertID string, o CachedOutcome) error {
	return c.c.Put(ctx, alertID, o)
}
