package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/worker"
)

// newLogger builds the zerolog logger of the log block: JSON lines or
// console text on w.
func newLogger(level, format string, w io.Writer) zerolog.Logger {
	return worker.NewLogger(level, format, w)
}

// logStartup writes the start-up line: the version and the effective
// configuration with its secrets redacted; and a warning when plain http
// is allowed to a non-loopback API host.
func logStartup(log zerolog.Logger, cfg *config.Config) {
	log.Info().Str("version", version).Interface("config", cfg.Redacted()).Msg("enricher starting")
	if cfg.Defender.AllowInsecureHTTP {
		log.Warn().Msg("defender.allow_insecure_http is on: the API and token URLs may be plain http to a non-loopback host; use it for the simulator only")
	}
}

// cmdRun runs one worker until SIGINT or SIGTERM.
func cmdRun(args []string, stderr io.Writer) int {
	fs, path := newFlagSet("run", stderr)
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitUsage
	}
	log := newLogger(cfg.Log.Level, cfg.Log.Format, stderr)
	if err := cfg.CheckFiles(); err != nil {
		var diags config.Diagnostics
		errors.As(err, &diags)
		for _, d := range diags {
			log.Error().Str("config", cfg.File).Msg(d.String())
		}
		log.Error().Msg("configuration error: a file the configuration names cannot be read; exiting")
		return exitUsage
	}
	logStartup(log, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runWorker(ctx, cfg, log)
}

// runWorker starts the ops listener and the runtime, and runs until ctx
// ends. It returns the exit code.
func runWorker(ctx context.Context, cfg *config.Config, log zerolog.Logger) int {
	metrics := worker.NewMetrics()
	var rt atomic.Pointer[worker.Runtime]
	ready := func() bool { return rt.Load().Ready() } // false until bound
	var ops *http.Server
	if cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			log.Error().Err(err).Str("listen", cfg.HTTP.Listen).Msg("cannot listen for /metrics, /healthz and /readyz (port in use?); exiting")
			return exitFatal
		}
		ops = &http.Server{Handler: worker.OpsHandler(metrics, ready), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ops.Serve(ln) }()
		log.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz")
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = ops.Shutdown(sctx)
		}()
	}
	if cfg.NATS.URL == "" {
		// One process holds the NATS server too: bound its memory (see
		// memlimit.go; GOMEMLIMIT overrides).
		defer governMemory(ctx, log)()
	}
	r, err := worker.StartRuntime(ctx, worker.RuntimeOptions{Config: cfg, Logger: log, Metrics: metrics})
	if err != nil {
		if ctx.Err() != nil {
			log.Info().Err(err).Msg("stopped by a signal during start-up")
			return exitOK
		}
		msg, code := startupFailure(err)
		log.Error().Err(err).Msg(msg)
		return code
	}
	rt.Store(r)
	log.Info().Msg("worker running; SIGINT or SIGTERM drains and stops it")
	if err := r.Run(ctx); err != nil {
		log.Error().Err(err).Msg("worker stopped with an error")
		return exitFatal
	}
	log.Info().Msg("drained; bye")
	return exitOK
}

// startupFailure says which start-up error stopped run, and its exit code:
// 2 for what the configuration asks that cannot be done, 1 otherwise.
func startupFailure(err error) (string, int) {
	switch {
	case errors.Is(err, worker.ErrInsecureListen), errors.Is(err, worker.ErrEmbeddedAuth):
		return "configuration error: the embedded NATS server cannot run as configured", exitUsage
	case errors.Is(err, worker.ErrListen):
		return "fatal start-up error: the embedded NATS server cannot listen (port in use?)", exitFatal
	case errors.Is(err, worker.ErrNATSRefused):
		return "fatal start-up error: NATS refused the credentials or the TLS handshake", exitFatal
	case errors.Is(err, worker.ErrResources):
		return "fatal start-up error: the NATS resources are missing or different", exitFatal
	default:
		return "fatal start-up error: " + err.Error(), exitFatal
	}
}
