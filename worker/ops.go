package worker

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the worker's Prometheus figures. It implements Observer.
type Metrics struct {
	reg         *prometheus.Registry
	messages    *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	retries     prometheus.Counter
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
			Help: "Dead letters published, by class.",
		}, []string{"class"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enricher_message_retries_total",
			Help: "Messages handed back for a later delivery (NakWithDelay).",
		}),
	}
	m.reg.MustRegister(m.messages, m.deadLetters, m.retries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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

// OpsHandler serves /metrics, /healthz (the process is alive) and /readyz
// (ready() is true: NATS connected and consumer bound). It exposes no
// configuration value.
func OpsHandler(m *Metrics, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready == nil || !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
