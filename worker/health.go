package worker

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsHandler serves the operations endpoints on http.listen:
//   - GET /metrics: m's registry in the Prometheus exposition format;
//   - GET /healthz: 200 while the process is alive;
//   - GET /readyz: 200 when ready() is true (NATS connected and the
//     consumer bound), 503 otherwise, as before the consumer is bound or
//     while NATS is unreachable.
//
// It exposes no configuration value, only the figures of m.
func OpsHandler(m *Metrics, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w)
		if ready == nil || !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

func plain(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

// Ready reports whether r's NATS connection is up and its consumer bound;
// false for a nil Runtime (not started yet). It is what /readyz answers.
func (r *Runtime) Ready() bool {
	return r != nil && r.worker != nil && r.worker.Ready()
}
