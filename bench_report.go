package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Names of the phases of a bench run, in the order they run.
const (
	phaseBaseline = "baseline"       // plain JetStream loop: consume, republish with Nats-Msg-Id, ack
	phaseEnricher = "enricher"       // the workers, every alert new to the outcome cache
	phaseCache    = "enricher-cache" // the same alert IDs again, served from the outcome cache
)

// benchReport is everything one `enricher bench` run measured.
type benchReport struct {
	// Alerts is the number of alerts queued in each phase.
	Alerts int `json:"alerts"`
	// Workers and Concurrency are the workers (and baseline loops) run, and
	// the messages each handles at once.
	Workers     int `json:"workers"`
	Concurrency int `json:"concurrency"`
	// Rate is the publishing rate in alerts/s; 0 means every alert was
	// queued before the workers started.
	Rate float64 `json:"rate"`
	// SimLatency is the simulator's added latency per API call.
	SimLatency string `json:"simLatency"`
	// SimLimits are the simulator's limits ("none" for unlimited).
	SimLimits string `json:"simLimits"`
	// QuotaLimits are the workers' shared quota limits.
	QuotaLimits string `json:"quotaLimits"`
	// CPUs is GOMAXPROCS; GoVersion the toolchain of the binary.
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	// Repeat is the number of runs; each phase shows its median run.
	Repeat int `json:"repeat,omitempty"`
	// Phases are the measured phases, baseline first.
	Phases []benchPhase `json:"phases"`
}

// benchPhase is the measure of one phase.
type benchPhase struct {
	// Name is one of the phase* constants.
	Name string `json:"name"`
	// Alerts is the number queued; Done the number whose outcome (output
	// event or dead letter) was stored before the phase ended; DeadLetters
	// the dead letters among them.
	Alerts      int `json:"alerts"`
	Done        int `json:"done"`
	DeadLetters int `json:"deadLetters"`
	// Complete is false when the phase was cut short by -duration.
	Complete bool `json:"complete"`
	// Seconds runs from the start of the consumers (or of publishing, with
	// -rate) to the last stored outcome.
	Seconds float64 `json:"seconds"`
	// PerSecond is Done / Seconds.
	PerSecond float64 `json:"perSecond"`
	// VsBaseline is PerSecond over the baseline's (0 without a baseline).
	VsBaseline float64 `json:"vsBaseline,omitempty"`
	// LatencyMs is the distribution of (stored time of the output) minus
	// (stored time of the input), both on the NATS server's clock.
	LatencyMs benchLatency `json:"latencyMs"`
	// CPUPerAlertUs is the process's CPU time (user + system: the server,
	// the simulator and the consumers together) per alert done, in µs; less
	// sensitive than the rate to other load on the machine.
	CPUPerAlertUs float64 `json:"cpuPerAlertUs"`
	// QuotaWaitUs is the mean time a quota grant took (Quota.Wait: KV
	// round trips, turns behind the worker's other waiters, and any wait
	// for the limits), in µs; QuotaConflicts counts lost compare-and-sets.
	// Enricher phases only.
	QuotaWaitUs    float64 `json:"quotaWaitUs,omitempty"`
	QuotaConflicts uint64  `json:"quotaConflicts,omitempty"`
	// APICalls is the number of API calls the simulator saw in the phase.
	APICalls int `json:"apiCalls"`
	// PeakRSSMiB is the process's peak resident set (VmHWM) during the
	// phase; the process holds the NATS server and the simulator too.
	PeakRSSMiB float64 `json:"peakRssMiB"`
	// RSSMiB samples the resident set (VmRSS) once a second.
	RSSMiB []float64 `json:"rssMiB,omitempty"`
	// RunsPerSecond are the rates of every run, in run order, when the
	// bench ran more than once (-repeat); the phase's figures are then
	// those of its median run, but for the latency, the CPU per alert and
	// vs baseline, which are the medians of every run's.
	RunsPerSecond []float64 `json:"runsPerSecond,omitempty"`
}

// medianReport merges the reports of repeated runs of the same bench:
// each phase is its run with the median rate (the lower middle one for an
// even count), with every run's rate in RunsPerSecond; its latency
// percentiles, CPU per alert and vs baseline are the medians of the runs'
// own (a phase's ratio to the baseline of the same run, so that a fast and
// a slow run are never mixed).
func medianReport(runs []*benchReport) *benchReport {
	if len(runs) == 1 {
		return runs[0]
	}
	for _, run := range runs {
		run.compare()
	}
	r := *runs[0]
	r.Repeat = len(runs)
	r.Phases = make([]benchPhase, len(runs[0].Phases))
	for i := range r.Phases {
		ps := make([]benchPhase, len(runs))
		var rates []float64
		for j, run := range runs {
			ps[j] = run.Phases[i]
			rates = append(rates, ps[j].PerSecond)
		}
		of := func(f func(benchPhase) float64) float64 {
			vs := make([]float64, len(ps))
			for j, p := range ps {
				vs[j] = f(p)
			}
			slices.Sort(vs)
			return vs[(len(vs)-1)/2]
		}
		byRate := slices.Clone(ps)
		slices.SortStableFunc(byRate, func(a, b benchPhase) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
		p := byRate[(len(byRate)-1)/2]
		p.RunsPerSecond = rates
		p.VsBaseline = of(func(p benchPhase) float64 { return p.VsBaseline })
		p.CPUPerAlertUs = of(func(p benchPhase) float64 { return p.CPUPerAlertUs })
		p.LatencyMs = benchLatency{
			P50: of(func(p benchPhase) float64 { return p.LatencyMs.P50 }),
			P95: of(func(p benchPhase) float64 { return p.LatencyMs.P95 }),
			P99: of(func(p benchPhase) float64 { return p.LatencyMs.P99 }),
			Max: of(func(p benchPhase) float64 { return p.LatencyMs.Max }),
		}
		r.Phases[i] = p
	}
	return &r
}

// benchLatency are percentiles in milliseconds.
type benchLatency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles computes the nearest-rank percentiles of ds (sorted in
// place).
func percentiles(ds []time.Duration) benchLatency {
	if len(ds) == 0 {
		return benchLatency{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		i = min(max(i, 0), len(ds)-1)
		return ms(ds[i])
	}
	return benchLatency{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// phase returns the named phase, or nil.
func (r *benchReport) phase(name string) *benchPhase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// compare fills VsBaseline of every phase from the baseline's rate.
func (r *benchReport) compare() {
	base := r.phase(phaseBaseline)
	if base == nil || base.PerSecond <= 0 {
		return
	}
	for i := range r.Phases {
		r.Phases[i].VsBaseline = math.Round(r.Phases[i].PerSecond/base.PerSecond*1000) / 1000
	}
}

// writeJSON writes the report as indented JSON.
func (r *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// writeTable writes the report as a text table, one row per phase.
func (r *benchReport) writeTable(w io.Writer) error {
	rate := "all queued first"
	if r.Rate > 0 {
		rate = strconv.FormatFloat(r.Rate, 'f', -1, 64) + " alerts/s"
	}
	fmt.Fprintf(w, "enricher bench: %d alerts, %d worker(s) x concurrency %d, publishing %s\n", r.Alerts, r.Workers, r.Concurrency, rate)
	fmt.Fprintf(w, "simulator latency %s, limits %s; quota %s; %d CPUs, %s\n", r.SimLatency, r.SimLimits, r.QuotaLimits, r.CPUs, r.GoVersion)
	if r.Repeat > 1 {
		fmt.Fprintf(w, "%d runs; each phase shows its median run by rate, and the medians of the runs' latencies, CPU and ratios to their own baseline\n", r.Repeat)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("phase")
	for _, p := range r.Phases {
		width = max(width, len(p.Name))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-len(s)) } // the first column reads left-aligned
	fmt.Fprintln(tw, left("phase")+"\tdone\tseconds\talerts/s\tvs baseline\tp50 ms\tp95 ms\tp99 ms\tmax ms\tCPU µs/alert\tquota wait µs\tAPI calls\tpeak RSS MiB\t")
	for _, p := range r.Phases {
		done := strconv.Itoa(p.Done)
		if !p.Complete {
			done += "/" + strconv.Itoa(p.Alerts)
		}
		vs := "-"
		if p.VsBaseline > 0 {
			vs = strconv.FormatFloat(p.VsBaseline*100, 'f', 0, 64) + "%"
		}
		quota := "-"
		if p.QuotaWaitUs > 0 {
			quota = strconv.FormatFloat(p.QuotaWaitUs, 'f', 0, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.0f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%s\t%d\t%.1f\t\n",
			left(p.Name), done, p.Seconds, p.PerSecond, vs, p.LatencyMs.P50, p.LatencyMs.P95, p.LatencyMs.P99, p.LatencyMs.Max, p.CPUPerAlertUs, quota, p.APICalls, p.PeakRSSMiB)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	for _, p := range r.Phases {
		if len(p.RunsPerSecond) > 1 {
			fmt.Fprintf(w, "\n%s alerts/s, run by run: %s\n", p.Name, joinFloats(p.RunsPerSecond, 0))
		}
	}
	for _, p := range r.Phases {
		if len(p.RSSMiB) > 1 {
			fmt.Fprintf(w, "\n%s RSS MiB, once a second: %s\n", p.Name, joinFloats(p.RSSMiB, 1))
		}
	}
	return nil
}

func joinFloats(fs []float64, decimals int) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', decimals, 64)
	}
	return strings.Join(parts, " ")
}
