package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// enricherBin is the path of the enricher binary that TestMain builds once
// (without -race, so that spawned workers stay fast) for every
// process-level test of this package. It is set before any test runs and
// never changed afterwards.
var enricherBin string

// TestMain builds the binary into a temporary directory, runs the tests
// and removes the directory.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "enricher-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "temp dir for the binary: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	enricherBin = filepath.Join(dir, "enricher")
	cmd := exec.Command(goTool(), "build", "-o", enricherBin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s .: %v\n", enricherBin, err)
		return 1
	}
	return m.Run()
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
