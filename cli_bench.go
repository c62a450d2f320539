package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/enricher/enricher/config"
)

// benchDefaultQuota is the workers' quota when -limits is not given: high
// enough never to bind on one machine, small enough to keep the quota's KV
// value (one timestamp per call of N) as small as a real one.
const benchDefaultQuota = "100/1ms"

// cmdBench measures the enricher against a plain JetStream loop on the same
// embedded server, and prints the table (or JSON with -json).
func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enricher bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alerts := fs.Int("alerts", 10000, "alerts queued per phase")
	workers := fs.Int("workers", 1, "workers (and baseline loops), each with its own NATS connection")
	concurrency := fs.Int("concurrency", config.Default().Worker.Concurrency, "messages each worker (and baseline loop) handles at once")
	latency := fs.Duration("latency", 0, "latency the simulator adds to every API call")
	limits := fs.String("limits", "", "API limits of the simulator and the workers' quota, e.g. 25/1m (\"\" = an unlimited simulator)")
	quota := fs.String("quota", benchDefaultQuota, "the workers' quota when -limits is empty")
	cacheWarm := fs.Bool("cache-warm", false, "run the enricher a second time on the same alert IDs, served from the outcome cache")
	rate := fs.Float64("rate", 0, "publish at this many alerts/s while the consumers run (0 = queue every alert first)")
	duration := fs.Duration("duration", 0, "cut each phase short after this long (0 = until every alert has its outcome)")
	withBaseline := fs.Bool("baseline", true, "run the plain JetStream loop first")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of each phase to PREFIX.PHASE.pprof")
	repeat := fs.Int("repeat", 1, "run the whole bench this many times (a fresh server each time) and show each phase's median run")
	level := fs.String("log-level", "error", "log level of the workers and the embedded server (console format, on stderr)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	lims, err := config.ParseLimits(splitComma(*limits))
	if err != nil {
		fmt.Fprintf(stderr, "enricher bench: -limits: %v\n", err)
		return exitUsage
	}
	quotaLims, err := config.ParseLimits(splitComma(*quota))
	if err != nil || len(quotaLims) == 0 {
		fmt.Fprintln(stderr, "enricher bench: -quota must hold a limit such as 100/1ms")
		return exitUsage
	}
	if fs.NArg() > 0 || *alerts < 1 || *workers < 1 || *concurrency < 1 || *repeat < 1 || *latency < 0 || *rate < 0 || *duration < 0 {
		fmt.Fprintln(stderr, "enricher bench: -alerts, -workers, -concurrency and -repeat must be positive; -latency, -rate and -duration not negative")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var runs []*benchReport
	for i := range *repeat {
		prof := *cpuProfile
		if prof != "" && *repeat > 1 {
			prof += "." + strconv.Itoa(i+1)
		}
		r, err := runBench(ctx, benchOptions{
			Alerts: *alerts, Workers: *workers, Concurrency: *concurrency, Latency: *latency,
			Limits: lims, Quota: quotaLims, CacheWarm: *cacheWarm, Rate: *rate, Duration: *duration,
			Baseline: *withBaseline, Log: newLogger(*level, "console", stderr), CPUProfile: prof,
		})
		if err != nil {
			fmt.Fprintf(stderr, "enricher bench: %v\n", err)
			return exitFatal
		}
		runs = append(runs, r)
	}
	r := medianReport(runs)
	if *asJSON {
		err = r.writeJSON(stdout)
	} else {
		err = r.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "enricher bench: %v\n", err)
		return exitFatal
	}
	return exitOK
}
