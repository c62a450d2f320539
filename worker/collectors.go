package worker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/enricher/enricher/config"
)

// Figures read from the attached runtime at scrape time.
var (
	descReady = prometheus.NewDesc("enricher_ready",
		"1 when NATS is connected and the consumer is bound (what /readyz answers), else 0.", nil, nil)
	descInFlight = prometheus.NewDesc("enricher_in_flight_messages",
		"Messages being handled by this worker now (fetched, not yet settled).", nil, nil)
	descQuotaRemaining = prometheus.NewDesc("enricher_quota_remaining",
		"Calls the shared quota still admits in the current window of each limit, as of the last quota state this worker saw.",
		[]string{"limit"}, nil)
	descQuotaPaused = prometheus.NewDesc("enricher_quota_paused_seconds_total",
		"Time this worker's calls spent waiting because of a Retry-After pause (a 429 seen by any worker).", nil, nil)
	descQuotaGranted = prometheus.NewDesc("enricher_quota_granted_total",
		"API calls the shared quota granted to this worker.", nil, nil)
	descQuotaWaiters = prometheus.NewDesc("enricher_quota_waiters",
		"Calls of this worker waiting for the shared quota now.", nil, nil)
	descQuotaConflicts = prometheus.NewDesc("enricher_quota_cas_conflicts_total",
		"Quota state writes of this worker lost to another worker's write (retried at once).", nil, nil)
	descLocalHits = prometheus.NewDesc("enricher_cache_local_hits_total",
		"Outcome-cache look-ups of this worker served from its in-process tier (no NATS round trip); they count as hits in enricher_cache_requests_total too.", nil, nil)
	descLocalEntries = prometheus.NewDesc("enricher_cache_local_entries",
		"Outcomes held in this worker's in-process cache tier (at most cache.local_entries; 0 while the tier is off).", nil, nil)
)

// runtimeCollector reads the attached runtime's figures when scraped, so
// they are never stale and no goroutine copies them.
type runtimeCollector struct{ m *Metrics }

// Describe implements prometheus.Collector.
func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReady, descInFlight, descQuotaRemaining, descQuotaPaused,
		descQuotaGranted, descQuotaWaiters, descQuotaConflicts, descLocalHits, descLocalEntries} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.m.runtime.Load()
	ready := 0.0
	if r.Ready() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
	if r == nil {
		return
	}
	if r.worker != nil {
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(r.worker.InFlight()))
	}
	if r.Local != nil {
		ch <- prometheus.MustNewConstMetric(descLocalHits, prometheus.CounterValue, float64(r.Local.Hits()))
		ch <- prometheus.MustNewConstMetric(descLocalEntries, prometheus.GaugeValue, float64(r.Local.Len()))
	}
	if r.Quota == nil {
		return
	}
	s := r.Quota.Stats()
	for _, w := range s.Remaining {
		ch <- prometheus.MustNewConstMetric(descQuotaRemaining, prometheus.GaugeValue, float64(w.Remaining), formatLimit(w.Limit))
	}
	ch <- prometheus.MustNewConstMetric(descQuotaPaused, prometheus.CounterValue, s.Paused.Seconds())
	ch <- prometheus.MustNewConstMetric(descQuotaGranted, prometheus.CounterValue, float64(s.Granted))
	ch <- prometheus.MustNewConstMetric(descQuotaWaiters, prometheus.GaugeValue, float64(s.Waiting))
	ch <- prometheus.MustNewConstMetric(descQuotaConflicts, prometheus.CounterValue, float64(s.CASConflicts))
}

// formatLimit writes a limit as it is configured: "100/1m", "1500/1h",
// "10/1h30m", "5/500ms".
func formatLimit(l config.Limit) string {
	return strconv.Itoa(l.Calls) + "/" + shortDuration(l.Window)
}

// shortDuration is d.String() without zero trailing units ("1m", not "1m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// refreshConsumerStats copies the consumer's pending and ack-pending counts
// into the metrics now and every statsInt until the returned stop is
// called. While NATS is unreachable the last figures stay.
func (r *Runtime) refreshConsumerStats(ctx context.Context) (stop func()) {
	if r.metrics == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.statsInt)
		defer t.Stop()
		for {
			r.readConsumerStats(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (r *Runtime) readConsumerStats(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, max(r.statsInt, time.Second))
	defer cancel()
	c, err := r.js.Consumer(ictx, r.cfg.Input.Stream, r.cfg.Input.Consumer)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Debug().Err(err).Msg("consumer info for metrics not read")
		}
		return
	}
	info := c.CachedInfo()
	r.metrics.SetConsumer(info.NumPending, info.NumAckPending)
}

// joinObservers returns an Observer telling both (either may be nil).
func joinObservers(a, b Observer) Observer {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return observers{a, b}
}

type observers []Observer

func (os observers) Settled(kind, value, source string) {
	for _, o := range os {
		o.Settled(kind, value, source)
	}
}
