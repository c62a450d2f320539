package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enricher/enricher/schemas"
)

// TestCLIVersion: `enricher version` exits 0 and names the program.
func TestCLIVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runBin(t, 30*time.Second, "version")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.HasPrefix(out, "enricher ") || strings.TrimSpace(strings.TrimPrefix(out, "enricher ")) == "" {
		t.Errorf("stdout %q, want \"enricher <version>\"", out)
	}
}

// TestCLIDemo: `enricher demo -alerts 20` exits 0 and prints exactly 20
// lines, each a distinct alert's event valid against enriched-alert.v1.json.
func TestCLIDemo(t *testing.T) {
	t.Parallel()
	schema, err := schemas.Compile(schemas.EnrichedAlertV1)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBin(t, 90*time.Second, "demo", "-alerts", "20")
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d stdout lines, want 20:\n%s", len(lines), out)
	}
	seen := map[string]bool{}
	for i, l := range lines {
		if err := schemas.ValidateJSON(schema, []byte(l)); err != nil {
			t.Errorf("line %d is not a valid enriched alert: %v\n%s", i+1, err, l)
			continue
		}
		var ev schemas.EnrichedAlert
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Errorf("line %d: %v", i+1, err)
			continue
		}
		if seen[ev.AlertID] {
			t.Errorf("alert %s printed twice", ev.AlertID)
		}
		seen[ev.AlertID] = true
	}
	if !strings.Contains(errOut, "demo: 20 alerts") {
		t.Errorf("stderr has no summary line:\n%s", errOut)
	}
}

// validConfig is a complete configuration holding a secret.
const validConfig = `defender {
  tenant_id     = "tenant"
  client_id     = "client"
  client_secret = "` + testClientSecret + `"
}
`

// invalidConfig has an unknown attribute (line 4) and a malformed
// duration (line 3), next to a secret.
const invalidConfig = `input {
  stream   = "ALERTS"
  ack_wait = "30 seconds"
  bogus    = 1
}

defender {
  client_secret = "` + testClientSecret + `"
}
`

// TestCLIValidate: a valid file exits 0; a file with an unknown attribute
// and a malformed duration exits 2 with both as FILE:LINE:COL lines at
// the right lines; the client secret is never printed.
func TestCLIValidate(t *testing.T) {
	t.Parallel()
	t.Run("valid", func(t *testing.T) {
		path := writeFile(t, "good.hcl", validConfig)
		code, out, errOut := runBin(t, 30*time.Second, "validate", "-config", path)
		if code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", code, errOut)
		}
		if !strings.Contains(out, "valid") {
			t.Errorf("stdout %q does not say the configuration is valid", out)
		}
		assertNoSecret(t, out+errOut)
	})
	t.Run("invalid", func(t *testing.T) {
		path := writeFile(t, "bad.hcl", invalidConfig)
		code, out, errOut := runBin(t, 30*time.Second, "validate", "-config", path)
		if code != 2 {
			t.Fatalf("exit %d, want 2; stderr:\n%s", code, errOut)
		}
		assertNoSecret(t, out+errOut)
		diag := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:(\d+):(\d+): (.+)$`)
		found := map[string]string{} // line -> message
		for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
			if m := diag.FindStringSubmatch(l); m != nil {
				found[m[1]] = m[3]
			}
		}
		if msg := found["3"]; !strings.Contains(msg, "ack_wait") || !strings.Contains(msg, "30 seconds") {
			t.Errorf("no FILE:3:COL diagnostic about the malformed ack_wait; stderr:\n%s", errOut)
		}
		if msg := found["4"]; !strings.Contains(msg, "bogus") {
			t.Errorf("no FILE:4:COL diagnostic about the unknown attribute bogus; stderr:\n%s", errOut)
		}
	})
}

// TestCLIValidateUnreadableFile: a file the configuration names that
// cannot be read makes validate exit 2, as it makes run exit 2, with the
// attribute's position.
func TestCLIValidateUnreadableFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "nosecret.hcl", "defender {\n  client_id = \"c\"\n  tenant_id = \"t\"\n  client_secret_file = \"/nonexistent/secret\"\n}\n")
	code, out, errOut := runBin(t, 30*time.Second, "validate", "-config", path)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stdout %q, stderr:\n%s", code, out, errOut)
	}
	want := path + `:4:24: defender.client_secret_file "/nonexistent/secret" cannot be read`
	if !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr:\n%s\nwant a line starting %s", errOut, want)
	}
	if strings.Contains(out, "valid") {
		t.Errorf("stdout says valid: %q", out)
	}
}

// TestCLIValidateDefaultFile: with neither -config nor $ENRICHER_CONFIG,
// validate reads enricher.hcl of the working directory and names it so in
// its diagnostics.
func TestCLIValidateDefaultFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "enricher.hcl"), []byte(invalidConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(enricherBin, "validate")
	cmd.Dir = dir
	cmd.Env = childEnv() // no $ENRICHER_CONFIG
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("validate: %v, want exit 2; stderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	diag := regexp.MustCompile(`^enricher\.hcl:\d+:\d+: `)
	n := 0
	for _, l := range lines {
		if diag.MatchString(l) {
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d lines start with enricher.hcl:LINE:COL, want the 2 problems; stderr:\n%s", n, stderr.String())
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, testClientSecret) {
		t.Errorf("the client secret was printed:\n%s", s)
	}
}

// TestCLIRunExitCodes: `enricher run` exits 2 for a config error and 1 for
// a fatal start-up error, with a message saying which.
func TestCLIRunExitCodes(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyAddr := busy.Addr().String()

	cases := []struct {
		name string
		cfg  func(t *testing.T) string
		code int
		want []string // substrings of stderr
	}{
		{"invalid config", func(t *testing.T) string { return writeFile(t, "bad.hcl", invalidConfig) }, 2, []string{"bad.hcl:3:", "bad.hcl:4:"}},
		{"unreadable secret file", func(t *testing.T) string {
			return writeFile(t, "nosecret.hcl", "nats {\n  url = \"nats://127.0.0.1:1\"\n}\ndefender {\n  client_id = \"c\"\n  tenant_id = \"t\"\n  client_secret_file = \"/nonexistent/secret\"\n}\n")
		}, 2, []string{"defender.client_secret_file", "/nonexistent/secret", "configuration error"}},
		{"http.listen in use", func(t *testing.T) string {
			return workerConfig{NATSURL: "nats://127.0.0.1:1", HTTPListen: busyAddr}.write(t)
		}, 1, []string{"port in use", busyAddr}},
		{"embedded nats listen in use", func(t *testing.T) string {
			extra := fmt.Sprintf("  embedded {\n    listen    = %q\n    store_dir = %q\n  }\n", busyAddr, t.TempDir())
			return workerConfig{NATSURL: "", NATSExtra: extra}.write(t)
		}, 1, []string{"cannot listen", "port in use", busyAddr}},
		{"nats refuses the password", func(t *testing.T) string {
			opts := natsOptions(-1, t.TempDir())
			opts.Username, opts.Password = "enricher", "right-password"
			s := startNATS(t, opts)
			extra := "  user     = \"enricher\"\n  password = \"wrong-password-Xy7\"\n"
			return workerConfig{NATSURL: s.ClientURL(), NATSExtra: extra}.write(t)
		}, 1, []string{"refused the credentials"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.cfg(t)
			code, _, errOut := runBin(t, 30*time.Second, "run", "-config", path)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			assertNoSecret(t, errOut)
			if strings.Contains(errOut, "wrong-password-Xy7") {
				t.Errorf("the NATS password was printed:\n%s", errOut)
			}
		})
	}
}

// TestCLIStrayArgumentIsAUsageError: a word left over after the flags
// (a config path without -config) is refused, not silently ignored.
func TestCLIStrayArgumentIsAUsageError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"validate", "bad.hcl"}, {"run", "my.hcl"}, {"validate", "x", "-config", "y.hcl"}} {
		code, _, errOut := runBin(t, 10*time.Second, args...)
		if code != 2 || !strings.Contains(errOut, "unexpected argument") {
			t.Errorf("enricher %v: exit %d, stderr %q; want 2 and \"unexpected argument\"", args, code, errOut)
		}
	}
	if code, _, _ := runBin(t, 10*time.Second, "plan", "extra"); code != 1 {
		t.Errorf("enricher plan extra: exit %d, want 1", code)
	}
	// demo reads no configuration: no hint about -config.
	if code, _, errOut := runBin(t, 10*time.Second, "demo", "extra"); code != 2 || strings.Contains(errOut, "-config") {
		t.Errorf("enricher demo extra: exit %d, stderr %q; want 2 without a -config hint", code, errOut)
	}
}

// TestCLISimRefusesBadOptions: simulator options out of range are a usage
// error, not silently replaced.
func TestCLISimRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-latency", "-1s"}, {"-fail-rate", "1.5"}, {"-token-ttl", "-1m"}} {
		code, _, errOut := runBin(t, 10*time.Second, append([]string{"sim", "-listen", "127.0.0.1:0"}, args...)...)
		if code != 2 || !strings.Contains(errOut, "bad simulator options") {
			t.Errorf("enricher sim %v: exit %d, stderr %q; want 2 and the reason", args, code, errOut)
		}
	}
}
