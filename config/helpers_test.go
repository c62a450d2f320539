package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envMap is a lookupEnv over a fixed map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeConfig writes src to a file in a fresh temporary directory and
// returns its path.
func writeConfig(t testing.TB, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "enricher.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// posOf returns the 1-based line and column of the first occurrence of
// needle in the ASCII text src.
func posOf(t testing.TB, src, needle string) (line, col int) {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q not found in the test source", needle)
	}
	line = strings.Count(src[:i], "\n") + 1
	col = i - strings.LastIndex(src[:i], "\n")
	return line, col
}

// diagnosticsOf asserts that err is a Diagnostics error matching ErrInvalid.
func diagnosticsOf(t testing.TB, err error) Diagnostics {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want diagnostics")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %T is not Diagnostics: %v", err, err)
	}
	return ds
}

// findDiag returns the diagnostic whose message contains sub.
func findDiag(ds Diagnostics, sub string) (Diagnostic, bool) {
	for _, d := range ds {
		if strings.Contains(d.Message, sub) {
			return d, true
		}
	}
	return Diagnostic{}, false
}

// wantDiagAt asserts a diagnostic containing sub at file:line:col of needle.
func wantDiagAt(t testing.TB, ds Diagnostics, file, src, needle, sub string) {
	t.Helper()
	d, ok := findDiag(ds, sub)
	if !ok {
		t.Fatalf("no diagnostic contains %q; got:\n%v", sub, ds)
	}
	line, col := posOf(t, src, needle)
	want := Diagnostic{File: file, Line: line, Col: col, Message: d.Message}
	if d != want {
		t.Errorf("diagnostic %q at %s:%d:%d, want %s:%d:%d", sub, d.File, d.Line, d.Col, file, line, col)
	}
}
