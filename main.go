// Command enricher enriches Microsoft Defender for Endpoint alerts with
// their related user, from a NATS JetStream subject to another, under one
// API quota shared by every worker. See README.md.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes of CONTRACT section 1.
const (
	exitOK      = 0
	exitFatal   = 1
	exitUsage   = 2
	exitChanges = 3
)

const usage = `enricher: enrich Defender alerts with their user, NATS in and out.

Usage:
  enricher run      [-config FILE]        run one worker until SIGINT/SIGTERM
  enricher demo     [-alerts N] [-workers K]
                                          embedded NATS + simulator + K workers, N alerts
  enricher sim      [-listen ADDR] [flags] run the Defender API simulator
  enricher bench    [-alerts N] [-workers K] [-rate R] [-cache-warm] [-json] [flags]
                                          measure throughput, latency and RSS against a plain JetStream loop
  enricher validate [-config FILE]        check the configuration
  enricher plan     [-config FILE] [-format text|json]
                                          show what apply would change (exit 3 if anything)
  enricher apply    [-config FILE]        create or update the NATS resources
  enricher dlq list   [-config FILE] [-format text|json]
  enricher dlq replay [-config FILE] (-all | -seq N)
  enricher version

-config defaults to $ENRICHER_CONFIG, then ./enricher.hcl if present, then built-in defaults.
`

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI dispatches a command line and returns the exit code.
func runCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "sim":
		return cmdSim(rest, stderr)
	case "bench":
		return cmdBench(rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "plan":
		return cmdPlan(rest, stdout, stderr)
	case "apply":
		return cmdApply(rest, stdout, stderr)
	case "dlq":
		return cmdDLQ(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "enricher", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "enricher: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}
