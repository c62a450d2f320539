package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/enricher/enricher/worker"
)

// cmdDLQ lists or replays dead letters.
func cmdDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprint(stderr, "usage: enricher dlq list [-config FILE] [-format text|json]\n       enricher dlq replay [-config FILE] (-all | -seq N)\n")
		return exitFatal
	}
	sub := args[0]
	fs, path := newFlagSet("dlq "+sub, stderr)
	format := fs.String("format", "text", "list output: text or json")
	all := fs.Bool("all", false, "replay every dead letter")
	seq := fs.Uint64("seq", 0, "replay the dead letter with this sequence")
	if err := parseFlags(fs, args[1:]); err != nil {
		return exitFatal
	}
	cfg, nc, js, ok := openNATS("dlq "+sub, *path, stderr)
	if !ok {
		return exitFatal
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if sub == "list" {
		dls, err := worker.ListDeadLetters(ctx, js, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "enricher dlq list: %v\n", err)
			return exitFatal
		}
		if *format == "json" {
			enc := json.NewEncoder(stdout)
			if dls == nil {
				dls = []worker.DeadLetter{}
			}
			_ = enc.Encode(dls)
			return exitOK
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tCLASS\tALERT\tDELIVERIES\tREASON")
		for _, d := range dls {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.Sequence, d.Time.UTC().Format(time.RFC3339), d.Class, orDash(d.AlertID), d.Deliveries, d.Reason)
		}
		_ = tw.Flush()
		fmt.Fprintf(stdout, "%d dead letter(s) in %s\n", len(dls), cfg.DeadLetter.Stream)
		return exitOK
	}
	if *all == (*seq != 0) {
		fmt.Fprintln(stderr, "enricher dlq replay: give exactly one of -all or -seq N")
		return exitFatal
	}
	var seqs []uint64
	if !*all {
		seqs = []uint64{*seq}
	}
	done, err := worker.Replay(ctx, js, cfg, seqs)
	for _, d := range done {
		fmt.Fprintf(stdout, "replayed dead letter %d (alert %s, %s)\n", d.Sequence, orDash(d.AlertID), d.Class)
	}
	if err != nil {
		fmt.Fprintf(stderr, "enricher dlq replay: %v\n", err)
		return exitFatal
	}
	fmt.Fprintf(stdout, "%d dead letter(s) replayed onto %s\n", len(done), cfg.Input.Stream)
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
