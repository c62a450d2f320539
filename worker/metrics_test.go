package worker

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// TestMetricsAfterKnownRun: after a run of known composition, a scrape of
// /metrics shows every family with the values the run implies, and the
// API figures match the simulator's own counts.
func TestMetricsAfterKnownRun(t *testing.T) {
	t.Parallel()
	c := runComposition(t)
	o := c.o
	// In-flight drops once handlers return, just after the last ack; the
	// consumer figures are refreshed every 20ms.
	waitFor(t, 10*time.Second, "in flight 0 and consumer figures at 0", func() bool {
		s := o.scrape(t)
		return s.value("enricher_in_flight_messages") == 0 && s.value("enricher_consumer_pending") == 0 &&
			s.value("enricher_consumer_ack_pending") == 0
	})
	s := o.scrape(t)
	st := c.e.Sim.Stats()
	requests := float64(st.Requests)

	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check(`enricher_messages_total{outcome="enriched",source="api"}`, s.value("enricher_messages_total", "outcome=enriched", "source=api"), float64(len(c.enriched)))
	check(`enricher_messages_total{outcome="not_found",source="api"}`, s.value("enricher_messages_total", "outcome=not_found", "source=api"), float64(len(c.notFound)))
	check(`enricher_messages_total{outcome="expired",source="none"}`, s.value("enricher_messages_total", "outcome=expired", "source=none"), float64(c.expired))
	check(`enricher_messages_total{outcome="enriched",source="cache"}`, s.value("enricher_messages_total", "outcome=enriched", "source=cache"), float64(c.dupEnriched))
	check(`enricher_messages_total{outcome="not_found",source="cache"}`, s.value("enricher_messages_total", "outcome=not_found", "source=cache"), float64(c.dupNone))
	check(`enricher_messages_total{outcome="dead_letter",source="none"}`, s.value("enricher_messages_total", "outcome=dead_letter", "source=none"), float64(c.bad+len(c.rejected)))
	check(`enricher_messages_total{outcome="retry",source="none"}`, s.value("enricher_messages_total", "outcome=retry", "source=none"), 0)
	check("enricher_message_retries_total", s.value("enricher_message_retries_total"), 0)
	check(`enricher_dead_letters_total{class="invalid_input"}`, s.value("enricher_dead_letters_total", "class=invalid_input"), float64(c.bad))
	check(`enricher_dead_letters_total{class="api_rejected"}`, s.value("enricher_dead_letters_total", "class=api_rejected"), float64(len(c.rejected)))
	check(`enricher_dead_letters_total{class="retries_exhausted"}`, s.value("enricher_dead_letters_total", "class=retries_exhausted"), 0)
	check("dead letters stored", float64(len(c.deadLetters)), s.sum("enricher_dead_letters_total"))
	check("outputs stored", float64(len(c.outputs)), s.sum("enricher_messages_total")-s.sum("enricher_dead_letters_total"))

	// Every HTTP attempt, by code, as the simulator counted them.
	if requests == 0 || st.ByStatus[http.StatusServiceUnavailable] != len(c.faulted503) || st.ByStatus[http.StatusTooManyRequests] != 1 ||
		st.ByStatus[http.StatusUnauthorized] == 0 || st.ByStatus[http.StatusForbidden] != len(c.rejected) {
		t.Fatalf("the run did not go as planned: simulator counts %v", st.ByStatus)
	}
	for code, n := range st.ByStatus {
		check(fmt.Sprintf(`enricher_api_requests_total{code="%d"}`, code), s.value("enricher_api_requests_total", "code="+strconv.Itoa(code)), float64(n))
	}
	check("sum of enricher_api_requests_total", s.sum("enricher_api_requests_total"), requests)
	check("enricher_api_request_duration_seconds count", s.value("enricher_api_request_duration_seconds"), requests)
	perAlert := map[string]int{}
	for _, r := range c.e.Sim.Requests() {
		perAlert[r.AlertID]++
	}
	retries := 0
	for _, n := range perAlert {
		retries += n - 1 // one GetUser per alert: every call after the first is a retry
	}
	check("enricher_api_retries_total", s.value("enricher_api_retries_total"), float64(retries))
	t.Logf("simulator: %d API calls by status %v, %d retries", st.Requests, st.ByStatus, retries)

	// The quota: one grant and one measured wait per attempt.
	check("enricher_quota_wait_seconds count", s.value("enricher_quota_wait_seconds"), requests)
	check("enricher_quota_granted_total", s.value("enricher_quota_granted_total"), requests)
	check(`enricher_quota_remaining{limit="1000/1h"}`, s.value("enricher_quota_remaining", "limit=1000/1h"), 1000-requests)
	if v := s.value("enricher_quota_paused_seconds_total"); math.IsNaN(v) || v < 0 {
		t.Errorf("enricher_quota_paused_seconds_total = %v, want a number >= 0", v)
	}
	check("enricher_quota_waiters", s.value("enricher_quota_waiters"), 0)

	// The cache: every valid, unexpired input of the first round missed, the
	// second round hit.
	check(`enricher_cache_requests_total{result="miss"}`, s.value("enricher_cache_requests_total", "result=miss"), float64(len(c.enriched)+len(c.notFound)+len(c.rejected)))
	check(`enricher_cache_requests_total{result="hit"}`, s.value("enricher_cache_requests_total", "result=hit"), float64(c.dupEnriched+c.dupNone))
	check(`enricher_cache_requests_total{result="error"}`, s.value("enricher_cache_requests_total", "result=error"), 0)
	// One worker: every repeat came from its in-process tier, which holds
	// every outcome the API gave.
	check("enricher_cache_local_hits_total", s.value("enricher_cache_local_hits_total"), float64(c.dupEnriched+c.dupNone))
	check("enricher_cache_local_entries", s.value("enricher_cache_local_entries"), float64(len(c.enriched)+len(c.notFound)))

	check("enricher_ready", s.value("enricher_ready"), 1)
	assertDeployNamesExist(t, s)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if _, ok := s[name]; !ok {
			t.Errorf("family %s missing: Go or process collector not registered", name)
		}
	}
}

// assertDeployNamesExist checks that every enricher_ metric the suggested
// alerts and the Grafana dashboard use is one the scrape shows.
func assertDeployNamesExist(t *testing.T, s scraped) {
	t.Helper()
	re := regexp.MustCompile(`enricher_[a-z_]+`)
	for _, file := range []string{"../deploy/alerts.yml", "../deploy/grafana/enricher-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := re.FindAllString(string(b), -1)
		if len(names) < 5 {
			t.Errorf("%s uses only %d enricher_ metrics", file, len(names))
		}
		for _, n := range names {
			base := n
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && s[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if _, ok := s[base]; !ok {
				t.Errorf("%s uses %s, which /metrics does not show", file, n)
			}
		}
	}
}

// TestConsumerFiguresShowBacklog: with messages published before the
// consumer is bound, the refreshed consumer figures report them pending.
func TestConsumerFiguresShowBacklog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 20})
	o, run := opsStart(t, e, zerolog.Nop(), false)
	ids := e.Sim.AlertIDs(7)
	for _, id := range ids {
		e.publish([]byte(id))
	}
	o.rt.readConsumerStats(context.Background())
	s := o.scrape(t)
	if got := s.value("enricher_consumer_pending"); got != 7 {
		t.Errorf("enricher_consumer_pending = %v before any worker ran, want 7", got)
	}
	if got := s.value("enricher_consumer_ack_pending"); got != 0 {
		t.Errorf("enricher_consumer_ack_pending = %v before any worker ran, want 0", got)
	}
	if got := s.value("enricher_ready"); got != 0 {
		t.Errorf("enricher_ready = %v before the consumer is bound, want 0", got)
	}
	run()
	e.waitSettled(30 * time.Second)
	waitFor(t, 10*time.Second, "consumer_pending back to 0", func() bool {
		return o.scrape(t).value("enricher_consumer_pending") == 0
	})
}

// TestQuotaPauseIsMeasured: a Retry-After pause recorded on the quota
// makes the next grant wait; the wait shows in the wait histogram and in
// the paused-seconds counter.
func TestQuotaPauseIsMeasured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 5})
	o, _ := opsStart(t, e, zerolog.Nop(), false)
	ctx := context.Background()
	const pause = 300 * time.Millisecond
	if err := o.rt.Quota.Pause(ctx, time.Now().Add(pause)); err != nil {
		t.Fatal(err)
	}
	lim := o.metrics.Limiter(o.rt.Quota)
	if err := lim.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	s := o.scrape(t)
	if got := s.value("enricher_quota_paused_seconds_total"); got < (pause - 50*time.Millisecond).Seconds() {
		t.Errorf("enricher_quota_paused_seconds_total = %v, want about %v", got, pause.Seconds())
	}
	h := s["enricher_quota_wait_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() < (pause-50*time.Millisecond).Seconds() {
		t.Errorf("enricher_quota_wait_seconds: count %d sum %v, want 1 wait of about %v", h.GetSampleCount(), h.GetSampleSum(), pause.Seconds())
	}
	if got := s.value("enricher_quota_granted_total"); got != 1 {
		t.Errorf("enricher_quota_granted_total = %v, want 1", got)
	}
}

// TestMetricNames: every family of ours follows the Prometheus
// conventions: the enricher_ prefix, counters end in _total, durations
// in _seconds, and each has help text.
func TestMetricNames(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	srv := httptest.NewServer(OpsHandler(m, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	ours := 0
	for name, f := range fams {
		if !strings.HasPrefix(name, "enricher_") {
			continue
		}
		ours++
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if f.GetType() != dto.MetricType_COUNTER && strings.HasSuffix(name, "_total") {
			t.Errorf("%s ends in _total but is a %s", name, f.GetType())
		}
		if f.GetType() == dto.MetricType_HISTOGRAM && !strings.HasSuffix(name, "_seconds") {
			t.Errorf("histogram %s is not in _seconds", name)
		}
	}
	// Before any runtime: the counters with known labels, the consumer
	// gauges and enricher_ready.
	if ours < 8 {
		t.Errorf("only %d enricher_ families exposed before a runtime started:\n%s", ours, body)
	}
}

// TestFormatLimit: the limit label reads as configured.
func TestFormatLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
	}{{"100/1m", "100/1m"}, {"1500/1h", "1500/1h"}, {"10/90m", "10/1h30m"}, {"5/500ms", "5/500ms"}, {"3/1m30s", "3/1m30s"}, {"2/10s", "2/10s"}} {
		l, err := config.ParseLimit(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatLimit(l); got != tc.want {
			t.Errorf("formatLimit(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
