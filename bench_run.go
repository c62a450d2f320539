package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/worker"
)

// benchOptions configures one bench run.
type benchOptions struct {
	// Alerts is the number of alerts queued per phase.
	Alerts int
	// Workers is the number of workers (and of baseline loops), each with
	// its own NATS connection; Concurrency the messages each handles at once.
	Workers, Concurrency int
	// Latency is added by the simulator to every API call.
	Latency time.Duration
	// Limits are the simulator's limits and the workers' quota; nil means
	// an unlimited simulator and the quota Quota.
	Limits []config.Limit
	// Quota is the workers' quota when Limits is nil: it must not bind.
	Quota []config.Limit
	// CacheWarm runs the enricher twice on the same alert IDs and reports
	// the second pass, served from the outcome cache, too.
	CacheWarm bool
	// Rate publishes at this many alerts/s while the consumers run; 0
	// queues every alert before they start.
	Rate float64
	// Duration cuts each phase short after this long (0 = until done).
	Duration time.Duration
	// Baseline runs the plain JetStream loop first.
	Baseline bool
	// Log receives the logs of the workers and the embedded server.
	Log zerolog.Logger
	// CPUProfile, when set, is the path prefix of one CPU profile per
	// phase (PREFIX.PHASE.pprof), covering the measured window only.
	CPUProfile string
}

// Fixed names of the bench's simulator credentials.
const (
	benchClientID     = "bench-client"
	benchClientSecret = "bench-secret"
)

// bench is one run's shared parts: the embedded NATS server, the
// simulator, and a client connection that publishes and reads back.
type bench struct {
	o         benchOptions
	sim       *sim.Server
	cfg       *config.Config
	js        jetstream.JetStream
	url       string
	ids       []string
	pubErrors atomic.Int64
}

// runBench runs the phases of a bench and returns their report.
func runBench(ctx context.Context, o benchOptions) (*benchReport, error) {
	dir, err := os.MkdirTemp("", "enricher-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, err := worker.StartEmbedded(worker.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir, Logger: o.Log.With().Str("component", "nats-server").Logger()})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	// The same soft memory limit as `enricher run` with its embedded
	// server (memlimit.go), for the duration of the bench.
	defer governMemory(ctx, o.Log)()

	b := &bench{o: o, url: srv.ClientURL()}
	b.sim = sim.New(sim.Options{Alerts: o.Alerts, Limits: o.Limits, Latency: o.Latency, ClientID: benchClientID, ClientSecret: benchClientSecret, RequestLog: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator listener: %w", err)
	}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = b.sim.Serve(simCtx, ln, zerolog.Nop()) }()
	defer func() { stopSim(); <-simDone }()

	b.cfg = b.config("http://" + ln.Addr().String())
	if err := b.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	nc, err := nats.Connect(b.url, nats.Name("enricher bench"))
	if err != nil {
		return nil, fmt.Errorf("bench client: %w", err)
	}
	defer nc.Close()
	b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { b.pubErrors.Add(1) }))
	if err != nil {
		return nil, fmt.Errorf("bench client: %w", err)
	}
	b.ids = b.sim.AlertIDs(o.Alerts)

	r := &benchReport{
		Alerts: o.Alerts, Workers: o.Workers, Concurrency: o.Concurrency, Rate: o.Rate,
		SimLatency: o.Latency.String(), SimLimits: limitsText(o.Limits), QuotaLimits: limitsText(b.cfg.Quota.Limits),
		CPUs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
	}
	var phases []consumers
	if o.Baseline {
		phases = append(phases, &baseline{b: b})
	}
	api := &enricherPhase{b: b, name: phaseEnricher}
	phases = append(phases, api)
	if o.CacheWarm {
		// The same workers again: both tiers of their outcome cache (in
		// process and the KV bucket) hold every alert of the first pass.
		api.keep = true
		phases = append(phases, &enricherPhase{b: b, name: phaseCache, from: api})
		defer api.close()
	}
	for _, c := range phases {
		p, err := b.runPhase(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("%s phase: %w", c.phaseName(), err)
		}
		r.Phases = append(r.Phases, p)
	}
	r.compare()
	return r, nil
}

// config is the workers' configuration, built in code as the demo does.
func (b *bench) config(simURL string) *config.Config {
	cfg := config.Default()
	cfg.NATS.URL = b.url
	cfg.Defender.BaseURL = simURL
	cfg.Defender.TokenURL = simURL + "/bench-tenant/oauth2/v2.0/token"
	cfg.Defender.ClientID = benchClientID
	cfg.Defender.ClientSecret = benchClientSecret
	cfg.Defender.TenantID = "bench-tenant"
	cfg.Quota.Limits = b.o.Quota
	cfg.Quota.Margin = 0
	if len(b.o.Limits) > 0 {
		cfg.Quota.Limits = b.o.Limits
		cfg.Quota.Margin = 50 * time.Millisecond
	}
	cfg.Retry.BaseDelay = 50 * time.Millisecond
	cfg.Retry.MaxDelay = time.Second
	cfg.Worker.Concurrency = b.o.Concurrency
	// The in-process tier holds every alert of the run, so that the second
	// pass of -cache-warm finds them all (an LRU smaller than a pass in
	// order keeps none of it).
	cfg.Cache.LocalEntries = max(cfg.Cache.LocalEntries, b.o.Alerts)
	cfg.HTTP.Listen = ""
	return cfg
}

// consumers is what one phase measures: the enricher's workers or the
// baseline loops.
type consumers interface {
	phaseName() string
	// prepare creates what must exist before the alerts are queued.
	prepare(ctx context.Context) error
	// run consumes until ctx ends, then stops and releases everything
	// prepare made. It is called once, even after prepare failed.
	run(ctx context.Context)
	// subject is where the alerts are published; input the stream
	// storing them; outputs the streams where their outcomes land.
	subject() string
	input() string
	outputs() []span
	// quotaStats sums the quota figures of the phase: grants, time spent
	// waiting for them, lost compare-and-sets (zeros for the baseline).
	quotaStats() (granted uint64, waited time.Duration, conflicts uint64)
}

func limitsText(ls []config.Limit) string {
	if len(ls) == 0 {
		return "none"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = sim.FormatLimit(l)
	}
	return strings.Join(parts, ",")
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
