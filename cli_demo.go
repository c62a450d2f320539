package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
	"github.com/enricher/enricher/worker"
)

// cmdDemo runs the whole pipeline in one process: embedded NATS, the
// simulator, K workers; it publishes N alerts and prints each outcome.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enricher demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alerts := fs.Int("alerts", 20, "number of sample alerts to publish")
	workers := fs.Int("workers", 2, "number of workers")
	limits := fs.String("limits", "100/1s", "API limits of the simulator and the shared quota (e.g. 100/1m,1500/1h for the real ones)")
	failRate := fs.Float64("fail-rate", 0, "share of simulated API calls answered 503")
	level := fs.String("log-level", "warn", "log level of the workers (console format, on stderr)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0 = derived from -alerts and -limits)")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	lims, err := config.ParseLimits(splitComma(*limits))
	if err != nil || len(lims) == 0 || *alerts < 1 || *workers < 1 || *failRate < 0 || *failRate >= 1 {
		fmt.Fprintln(stderr, "enricher demo: -alerts and -workers must be positive, -limits like 100/1m,1500/1h, -fail-rate in [0,1)")
		return exitUsage
	}
	log := newLogger(*level, "console", stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d := demo{alerts: *alerts, workers: *workers, limits: lims, failRate: *failRate, log: log, stdout: stdout, stderr: stderr}
	limit := *timeout
	if limit <= 0 {
		limit = d.expectedDuration() + time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "enricher demo: %v\n", err)
		return exitFatal
	}
	return exitOK
}

type demo struct {
	alerts, workers int
	limits          []config.Limit
	failRate        float64
	log             zerolog.Logger
	stdout, stderr  io.Writer
}

// expectedDuration is how long the quota needs for all alerts.
func (d demo) expectedDuration() time.Duration {
	var longest time.Duration
	for _, l := range d.limits {
		longest = max(longest, time.Duration(d.alerts/l.Calls+1)*l.Window)
	}
	return longest
}

func (d demo) run(ctx context.Context) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "enricher-demo-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, err := worker.StartEmbedded(worker.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir, Logger: d.log.With().Str("component", "nats-server").Logger()})
	if err != nil {
		return err
	}
	defer srv.Shutdown()

	simSrv := sim.New(sim.Options{Alerts: max(d.alerts, 1000), Limits: d.limits, FailRate: d.failRate, ClientID: "demo-client", ClientSecret: "demo-secret"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("simulator listener: %w", err)
	}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = simSrv.Serve(simCtx, ln, d.log) }()
	defer func() { stopSim(); <-simDone }()

	cfg := d.config(srv.ClientURL(), "http://"+ln.Addr().String())
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	runCtx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	for i := 0; i < d.workers; i++ {
		rt, err := worker.StartRuntime(ctx, worker.RuntimeOptions{Config: cfg, Logger: d.log.With().Int("worker", i+1).Logger(), ID: fmt.Sprintf("%s-w%d", worker.DefaultID(), i+1), ShutdownGrace: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("start worker %d: %w", i+1, err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(runCtx) }()
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return fmt.Errorf("demo client: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("demo client: %w", err)
	}
	ids := simSrv.AlertIDs(d.alerts)
	for i, id := range ids {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: cfg.Input.Subjects[0], Data: sampleBody(i, id)}); err != nil {
			return fmt.Errorf("publish alert %s: %w", id, err)
		}
	}
	counts, err := d.collect(ctx, js, cfg, len(ids))
	if err != nil {
		return err
	}
	st := simSrv.Stats()
	fmt.Fprintf(d.stderr, "demo: %d alerts, %d workers, %s: %d enriched, %d not_found, %d expired, %d dead letters; %d API calls; %s\n",
		len(ids), d.workers, time.Since(start).Round(time.Millisecond), counts["enriched"], counts["not_found"], counts["expired"], counts["dead_letter"], st.Requests, limitsString(d.limits))
	return nil
}

// sampleBody makes a mix of inputs: bare IDs, JSON objects with extra
// fields, and every tenth alert updated 45 days ago (status expired).
func sampleBody(i int, id string) []byte {
	switch {
	case i%10 == 9:
		b, _ := json.Marshal(map[string]any{"id": id, "title": "Old alert", "lastUpdateTime": time.Now().Add(-45 * 24 * time.Hour).UTC().Format(time.RFC3339)})
		return b
	case i%3 == 1:
		b, _ := json.Marshal(map[string]any{"id": id, "title": "Suspicious PowerShell command line", "severity": "Medium", "lastUpdateTime": time.Now().UTC().Format(time.RFC3339)})
		return b
	default:
		return []byte(id)
	}
}

func (d demo) config(natsURL, simURL string) *config.Config {
	cfg := config.Default()
	cfg.NATS.URL = natsURL
	cfg.Defender.BaseURL = simURL
	cfg.Defender.TokenURL = simURL + "/demo-tenant/oauth2/v2.0/token"
	cfg.Defender.ClientID = "demo-client"
	cfg.Defender.ClientSecret = "demo-secret"
	cfg.Defender.TenantID = "demo-tenant"
	cfg.Quota.Limits = d.limits
	cfg.Quota.Margin = 50 * time.Millisecond
	cfg.Retry.BaseDelay = 50 * time.Millisecond
	cfg.Retry.MaxDelay = time.Second
	cfg.HTTP.Listen = ""
	return cfg
}

// collect prints each output event on stdout (and each dead letter on
// stderr) until want outcomes have been seen.
func (d demo) collect(ctx context.Context, js jetstream.JetStream, cfg *config.Config, want int) (map[string]int, error) {
	counts := map[string]int{}
	out, err := js.OrderedConsumer(ctx, cfg.Output.Stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read outputs: %w", err)
	}
	dlq, err := js.OrderedConsumer(ctx, cfg.DeadLetter.Stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	seen := 0
	for seen < want {
		if ctx.Err() != nil {
			return counts, fmt.Errorf("only %d of %d alerts got their outcome: %w", seen, want, ctx.Err())
		}
		for _, c := range []jetstream.Consumer{out, dlq} {
			batch, err := c.FetchNoWait(100)
			if err != nil {
				continue
			}
			for m := range batch.Messages() {
				seen++
				if c == dlq {
					counts["dead_letter"]++
					fmt.Fprintf(d.stderr, "dead letter (%s): %s\n", m.Headers().Get(worker.HeaderErrorClass), m.Headers().Get(worker.HeaderError))
					continue
				}
				var ev schemas.EnrichedAlert
				if err := json.Unmarshal(m.Data(), &ev); err != nil {
					return counts, fmt.Errorf("unparsable output event: %w", err)
				}
				counts[string(ev.Enrichment.Status)]++
				fmt.Fprintf(d.stdout, "%s\n", m.Data())
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	if seen != want {
		return counts, errors.New("more outcomes than alerts")
	}
	return counts, nil
}

func limitsString(ls []config.Limit) string {
	s := "limits"
	for _, l := range ls {
		s += " " + l.String()
	}
	return s
}
