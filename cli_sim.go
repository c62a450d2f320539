package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/enricher/enricher/enrich/sim"
)

// cmdSim runs the Defender API simulator until SIGINT or SIGTERM.
func cmdSim(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("enricher sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", sim.DefaultListen, "address to listen on (host:port)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "json", "log format: json or console")
	opts := sim.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "enricher sim: %v\n", err)
		return exitUsage
	}
	log := newLogger(*level, *format, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := sim.Run(ctx, *listen, *opts, log); err != nil {
		log.Error().Err(err).Str("listen", *listen).Msg("simulator stopped")
		return exitFatal
	}
	return exitOK
}
