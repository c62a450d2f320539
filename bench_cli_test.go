package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkPhase asserts what holds for any complete phase: every alert done,
// positive rate and duration, ordered percentiles.
func checkPhase(t *testing.T, p benchPhase, alerts int) {
	t.Helper()
	if !p.Complete || p.Done != alerts || p.Alerts != alerts || p.DeadLetters != 0 {
		t.Errorf("%s: complete %v, done %d of %d, %d dead letters; want all %d done, none dead", p.Name, p.Complete, p.Done, p.Alerts, p.DeadLetters, alerts)
	}
	if p.Seconds <= 0 || p.PerSecond <= 0 {
		t.Errorf("%s: %v s, %v alerts/s; want both positive", p.Name, p.Seconds, p.PerSecond)
	}
	l := p.LatencyMs
	if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s: latency %+v; want 0 < p50 <= p95 <= p99 <= max", p.Name, l)
	}
	if p.CPUPerAlertUs <= 0 {
		t.Errorf("%s: CPU per alert %v µs; want positive", p.Name, p.CPUPerAlertUs)
	}
	if runtime.GOOS == "linux" && p.PeakRSSMiB <= 0 {
		t.Errorf("%s: peak RSS %v MiB; want positive on Linux", p.Name, p.PeakRSSMiB)
	}
}

func TestBenchJSONReport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runCLI([]string{"bench", "-alerts", "200", "-workers", "2", "-concurrency", "8", "-cache-warm", "-json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	var r benchReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("report is not the JSON of a benchReport: %v", err)
	}
	if r.Alerts != 200 || r.Workers != 2 || r.Concurrency != 8 || r.CPUs < 1 || r.GoVersion == "" || r.SimLimits != "none" || r.QuotaLimits != benchDefaultQuota {
		t.Errorf("report header %+v does not echo the run's settings", r)
	}
	var names []string
	for _, p := range r.Phases {
		names = append(names, p.Name)
		checkPhase(t, p, 200)
	}
	if got, want := strings.Join(names, ","), phaseBaseline+","+phaseEnricher+","+phaseCache; got != want {
		t.Fatalf("phases %s, want %s", got, want)
	}
	base, api, cache := r.Phases[0], r.Phases[1], r.Phases[2]
	if base.VsBaseline != 1 || api.VsBaseline <= 0 || cache.VsBaseline <= 0 {
		t.Errorf("vs baseline: %v, %v, %v; want 1 and two positive ratios", base.VsBaseline, api.VsBaseline, cache.VsBaseline)
	}
	// Every alert is new to the cache in the first pass (one call each: no
	// failures, no limits) and cached in the second.
	if base.APICalls != 0 || api.APICalls != 200 || cache.APICalls != 0 {
		t.Errorf("API calls baseline %d, enricher %d, cache pass %d; want 0, 200, 0", base.APICalls, api.APICalls, cache.APICalls)
	}
}

func TestBenchAtRate(t *testing.T) {
	const alerts, rate = 100, 400.0
	var stdout, stderr bytes.Buffer
	code := runCLI([]string{"bench", "-alerts", "100", "-rate", "400", "-json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	var r benchReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 2 || r.Rate != rate {
		t.Fatalf("report %+v; want 2 phases (no cache pass without -cache-warm) at rate %v", r, rate)
	}
	// The schedule: the last alert is published (alerts-1)/rate after the
	// start, so no phase can end sooner.
	floor := time.Duration(float64(alerts-1) / rate * float64(time.Second)).Seconds()
	for _, p := range r.Phases {
		checkPhase(t, p, alerts)
		if p.Seconds < floor {
			t.Errorf("%s lasted %v s, less than the publishing schedule's %v s", p.Name, p.Seconds, floor)
		}
		// Every alert was published after the start, so none can have
		// waited longer than the phase lasted (1 ms of rounding allowed).
		if p.LatencyMs.Max > p.Seconds*1000+1 {
			t.Errorf("%s: max latency %v ms over the phase's %v s", p.Name, p.LatencyMs.Max, p.Seconds)
		}
	}
}

func TestBenchTable(t *testing.T) {
	t.Parallel()
	r := benchReport{Alerts: 100, Workers: 1, Concurrency: 16, Rate: 400, SimLatency: "0s", SimLimits: "none", QuotaLimits: benchDefaultQuota, CPUs: 2, GoVersion: "go1.x",
		Phases: []benchPhase{
			{Name: phaseBaseline, Alerts: 100, Done: 100, Complete: true, Seconds: 0.25, PerSecond: 400, LatencyMs: benchLatency{P50: 0.2, P95: 0.3, P99: 0.4, Max: 0.5}, CPUPerAlertUs: 30},
			{Name: phaseEnricher, Alerts: 100, Done: 60, Seconds: 0.25, PerSecond: 240, QuotaWaitUs: 84, APICalls: 61, PeakRSSMiB: 48.5, RSSMiB: []float64{40, 48.5}},
		}}
	r.compare()
	var out bytes.Buffer
	if err := r.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"publishing 400 alerts/s", "quota 100/1ms", "alerts/s", "vs baseline", "p99 ms", "CPU µs/alert", "peak RSS MiB",
		"\n  baseline  ", "100%", "\n  enricher  ", "60/100", "60%", " 84 ", " 61 ", "48.5",
		"enricher RSS MiB, once a second: 40.0 48.5",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-alerts", "0"},
		{"-workers", "-1"},
		{"-rate", "-5"},
		{"-limits", "lots"},
		{"-quota", ""},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runCLI(append([]string{"bench"}, args...), &stdout, &stderr); code != exitUsage {
			t.Errorf("bench %v: exit %d, want %d", args, code, exitUsage)
		}
		if stdout.Len() != 0 {
			t.Errorf("bench %v printed a report: %s", args, stdout.String())
		}
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 100 ms down to 1 ms, unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := benchLatency{P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Errorf("percentiles of 1..100 ms = %+v, want %+v", got, want)
	}
	if got := percentiles(nil); got != (benchLatency{}) {
		t.Errorf("percentiles of nothing = %+v, want zeros", got)
	}
	if got := percentiles([]time.Duration{1500 * time.Microsecond}); got != (benchLatency{P50: 1.5, P95: 1.5, P99: 1.5, Max: 1.5}) {
		t.Errorf("percentiles of one 1.5 ms sample = %+v", got)
	}
}

// TestMedianReport: with -repeat, each phase is its median run (by rate),
// with every run's rate kept in run order; vs baseline is the median of
// each run's own ratio, latency and CPU are medians of the runs'.
func TestMedianReport(t *testing.T) {
	t.Parallel()
	run := func(base, api, p99 float64) *benchReport {
		return &benchReport{Alerts: 10, Phases: []benchPhase{
			{Name: phaseBaseline, PerSecond: base, CPUPerAlertUs: base / 10},
			{Name: phaseEnricher, PerSecond: api, CPUPerAlertUs: api / 10, LatencyMs: benchLatency{P50: 1, P95: 2, P99: p99, Max: 9}},
		}}
	}
	// Ratios of each run to its own baseline: 0.3, 0.6, 0.15.
	r := medianReport([]*benchReport{run(300, 90, 5), run(100, 60, 1), run(200, 30, 3)})
	if r.Repeat != 3 {
		t.Errorf("repeat %d, want 3", r.Repeat)
	}
	base, api := r.Phases[0], r.Phases[1]
	if base.PerSecond != 200 || base.CPUPerAlertUs != 20 || api.PerSecond != 60 || api.CPUPerAlertUs != 6 {
		t.Errorf("medians %+v / %+v; want the 200/s baseline run and the 60/s enricher run", base, api)
	}
	if !slices.Equal(base.RunsPerSecond, []float64{300, 100, 200}) || !slices.Equal(api.RunsPerSecond, []float64{90, 60, 30}) {
		t.Errorf("runs %v / %v; want every rate in run order", base.RunsPerSecond, api.RunsPerSecond)
	}
	if api.VsBaseline != 0.3 || base.VsBaseline != 1 {
		t.Errorf("vs baseline %v / %v, want the median of the runs' own ratios (0.3) and 1", api.VsBaseline, base.VsBaseline)
	}
	if api.LatencyMs.P99 != 3 {
		t.Errorf("p99 %v, want the median of the runs' p99 (3)", api.LatencyMs.P99)
	}
	var out bytes.Buffer
	if err := r.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 runs; each phase shows its median run", "enricher alerts/s, run by run: 90 60 30"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if one := run(1, 2, 3); medianReport([]*benchReport{one}) != one {
		t.Error("one run is not returned as it is")
	}
}
