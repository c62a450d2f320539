package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/worker"
)

// natsURL is nats.url, or the embedded server's address that a running
// `enricher run` serves when nats.url is empty.
func natsURL(cfg *config.Config) string {
	if cfg.NATS.URL != "" {
		return cfg.NATS.URL
	}
	return "nats://" + cfg.NATS.Embedded.Listen
}

// connectOnce connects for a one-shot command: no waiting for an
// unreachable server.
func connectOnce(cfg *config.Config) (*nats.Conn, jetstream.JetStream, error) {
	opts := append(worker.ConnectOptions(cfg.NATS, "enricher cli", zerolog.Nop()), nats.Timeout(5*time.Second), nats.MaxReconnects(0))
	nc, err := nats.Connect(natsURL(cfg), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats at %s: %w", config.RedactURLs(natsURL(cfg)), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// openNATS loads the configuration and connects for the one-shot command
// cmd. On failure it says why on stderr and returns ok false.
func openNATS(cmd, path string, stderr io.Writer) (cfg *config.Config, nc *nats.Conn, js jetstream.JetStream, ok bool) {
	if cfg, ok = loadConfig(path, stderr); !ok {
		return nil, nil, nil, false
	}
	nc, js, err := connectOnce(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "enricher %s: %v\n", cmd, err)
		return nil, nil, nil, false
	}
	return cfg, nc, js, true
}

// cmdPlan prints what apply would change: exit 0 none, 3 pending, 1 error.
func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlagSet("plan", stderr)
	format := fs.String("format", "text", "output format: text or json")
	if err := parseFlags(fs, args); err != nil {
		return exitFatal
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "enricher plan: -format must be text or json, not %q\n", *format)
		return exitFatal
	}
	cfg, nc, js, ok := openNATS("plan", *path, stderr)
	if !ok {
		return exitFatal
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	changes, err := worker.Plan(ctx, js, worker.DeclaredResources(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "enricher plan: %v\n", err)
		return exitFatal
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Pending bool            `json:"pending"`
			Changes []worker.Change `json:"changes"`
		}{worker.Pending(changes), changes})
	} else {
		fmt.Fprint(stdout, worker.FormatPlan(changes))
	}
	if worker.Pending(changes) {
		return exitChanges
	}
	return exitOK
}

// cmdApply creates or updates the declared resources.
func cmdApply(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlagSet("apply", stderr)
	if err := parseFlags(fs, args); err != nil {
		return exitFatal
	}
	cfg, nc, js, ok := openNATS("apply", *path, stderr)
	if !ok {
		return exitFatal
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	changes, err := worker.Apply(ctx, js, worker.DeclaredResources(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "enricher apply: %v\n", err)
		return exitFatal
	}
	adds, updates := 0, 0
	for _, c := range changes {
		switch c.Action {
		case worker.ActionCreate:
			adds++
		case worker.ActionUpdate:
			updates++
		default:
			continue
		}
		fmt.Fprintf(stdout, "%sd %s\n", c.Action, worker.Resource{Kind: c.Kind, Name: c.Name, Stream: c.Stream}.ID())
	}
	fmt.Fprintf(stdout, "Apply complete! Resources: %d added, %d changed, 0 destroyed.\n", adds, updates)
	return exitOK
}
