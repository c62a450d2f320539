package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/enricher/enricher/config"
)

// newFlagSet returns a flag set that reports errors on stderr and does not
// exit, with the -config flag every config-reading command takes.
func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("enricher "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "HCL configuration file (default $ENRICHER_CONFIG, then enricher.hcl, then built-in defaults)")
	return fs, path
}

// parseFlags parses args and refuses words left over, so that a config
// path given without -config is not silently ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		hint := ""
		if fs.Lookup("config") != nil {
			hint = " (give the configuration with -config FILE)"
		}
		err := fmt.Errorf("unexpected argument %q%s", fs.Arg(0), hint)
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		return err
	}
	return nil
}

// loadConfig resolves -config and loads it, printing every diagnostic as
// FILE:LINE:COL: message on stderr.
func loadConfig(flagPath string, stderr io.Writer) (*config.Config, bool) {
	path := config.ResolvePath(flagPath, os.LookupEnv, fileExists)
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		printConfigError(stderr, err)
		return nil, false
	}
	return cfg, true
}

// printConfigError prints a configuration error: each diagnostic as
// FILE:LINE:COL: message on its own line.
func printConfigError(stderr io.Writer, err error) {
	var diags config.Diagnostics
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		return
	}
	fmt.Fprintf(stderr, "enricher: %v\n", err)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// cmdValidate checks the configuration, including that the files it
// names can be read here: exit 0 valid, 2 invalid. What is missing to call
// the real API is printed as warnings.
func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlagSet("validate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitUsage
	}
	if err := cfg.CheckFiles(); err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	name := cfg.File
	if name == "" {
		name = "(built-in defaults)"
	}
	for _, p := range cfg.CredentialProblems() {
		fmt.Fprintf(stderr, "%s: warning: %s (enricher run starts, but every API call fails until it is set)\n", name, p)
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", name)
	return exitOK
}

// splitComma splits a comma-separated flag value.
func splitComma(s string) []string { return strings.Split(s, ",") }
