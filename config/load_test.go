package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadReadsEnvironment(t *testing.T) {
	t.Parallel()
	src := `nats { url = env.NATS_URL }
defender {
  client_id     = "id-${env.CLIENT}"
  client_secret = env["SECRET"]
}
worker { concurrency = env.WORKERS }
`
	path := writeConfig(t, src)
	env := envMap(map[string]string{
		"NATS_URL": "nats://n1:4222", "CLIENT": "abc", "SECRET": "s3cr3t-value", "WORKERS": "7",
	})
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.NATS.URL, "nats://n1:4222"; got != want {
		t.Errorf("nats.url = %q, want %q", got, want)
	}
	if got, want := c.Defender.ClientID, "id-abc"; got != want {
		t.Errorf("defender.client_id = %q, want %q", got, want)
	}
	if got, want := c.Defender.ClientSecret, "s3cr3t-value"; got != want {
		t.Errorf("defender.client_secret = %q, want %q", got, want)
	}
	if got, want := c.Worker.Concurrency, 7; got != want {
		t.Errorf("worker.concurrency = %d, want %d (a string converts to a number)", got, want)
	}
}

func TestLoadUnsetEnvironmentVariable(t *testing.T) {
	t.Parallel()
	src := "log {\n  level = env.LOG_LEVEL\n  format = env.LOG_FORMAT\n}\n"
	path := writeConfig(t, src)
	_, err := Load(path, envMap(map[string]string{"LOG_FORMAT": "console"}))
	ds := diagnosticsOf(t, err)
	wantDiagAt(t, ds, path, src, "env.LOG_LEVEL", "environment variable LOG_LEVEL is not set")
	if len(ds) != 1 {
		t.Errorf("got %d diagnostics, want 1:\n%v", len(ds), ds)
	}
}

func TestOverridesWinOverFile(t *testing.T) {
	t.Parallel()
	src := `nats { url = "nats://file:4222" }
defender {
  base_url           = "https://file.example"
  token_url          = "https://file.example/token"
  tenant_id          = "file-tenant"
  client_id          = "file-client"
  client_secret_file = "/run/secret"
}
quota { limits = ["1/1s"] }
worker { concurrency = 2 }
http { listen = "127.0.0.1:1" }
log {
  level = "error"
  format = "json"
}
`
	path := writeConfig(t, src)
	env := envMap(map[string]string{
		"ENRICHER_NATS_URL":               "nats://env-1:4222,nats://env-2:4222",
		"ENRICHER_DEFENDER_BASE_URL":      "http://127.0.0.1:8089",
		"ENRICHER_DEFENDER_TOKEN_URL":     "http://localhost:8089/t/oauth2/v2.0/token",
		"ENRICHER_DEFENDER_TENANT_ID":     "env-tenant",
		"ENRICHER_DEFENDER_CLIENT_ID":     "env-client",
		"ENRICHER_DEFENDER_CLIENT_SECRET": "env-secret-value",
		"ENRICHER_QUOTA_LIMITS":           "10/1s, 200/1m",
		"ENRICHER_WORKER_CONCURRENCY":     "64",
		"ENRICHER_HTTP_LISTEN":            ":9999",
		"ENRICHER_LOG_LEVEL":              "debug",
		"ENRICHER_LOG_FORMAT":             "console",
	})
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.NATS.URL, c.Defender.BaseURL, c.Defender.TokenURL, c.Defender.TenantID, c.Defender.ClientID,
		c.Defender.ClientSecret, c.Defender.ClientSecretFile, c.Quota.Limits, c.Worker.Concurrency, c.HTTP.Listen,
		c.Log.Level, c.Log.Format}
	want := []any{"nats://env-1:4222,nats://env-2:4222", "http://127.0.0.1:8089", "http://localhost:8089/t/oauth2/v2.0/token",
		"env-tenant", "env-client", "env-secret-value", "", []Limit{{10, time.Second}, {200, time.Minute}}, 64, ":9999",
		"debug", "console"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestEmptyOverrides: an empty ENRICHER_HTTP_LISTEN turns the HTTP
// listener off, as http.listen = "" does; every other empty variable
// counts as unset, so the file's value stands (an empty placeholder must
// not select the embedded server, no quota or no secret).
func TestEmptyOverrides(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `nats { url = "nats://file:4222" }
quota { limits = ["1/1s"] }
http { listen = "127.0.0.1:1" }
`)
	vars := map[string]string{}
	for _, o := range Overrides() {
		vars[o.Env] = ""
	}
	c, err := Load(path, envMap(vars))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "" {
		t.Errorf("http.listen = %q with ENRICHER_HTTP_LISTEN empty, want \"\" (off)", c.HTTP.Listen)
	}
	if c.NATS.URL != "nats://file:4222" || !reflect.DeepEqual(c.Quota.Limits, []Limit{{1, time.Second}}) {
		t.Errorf("empty variables replaced the file's values: nats.url %q, quota.limits %v", c.NATS.URL, c.Quota.Limits)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the result does not validate: %v", err)
	}
}

func TestBadOverridesNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, value, want string
	}{
		{"ENRICHER_WORKER_CONCURRENCY", "many", `ENRICHER_WORKER_CONCURRENCY: worker.concurrency: want a whole number, got "many"`},
		{"ENRICHER_WORKER_CONCURRENCY", "0", "ENRICHER_WORKER_CONCURRENCY: worker.concurrency must be between 1 and 1024, got 0"},
		{"ENRICHER_QUOTA_LIMITS", "100/1m,oops", `ENRICHER_QUOTA_LIMITS: quota.limits: bad limit "oops"`},
		{"ENRICHER_QUOTA_LIMITS", " , ", "ENRICHER_QUOTA_LIMITS: quota.limits must hold at least one limit"},
		{"ENRICHER_LOG_LEVEL", "loud", `ENRICHER_LOG_LEVEL: log.level must be debug, info, warn or error, got "loud"`},
		{"ENRICHER_LOG_FORMAT", "xml", `ENRICHER_LOG_FORMAT: log.format must be json or console, got "xml"`},
		{"ENRICHER_HTTP_LISTEN", "9090", `ENRICHER_HTTP_LISTEN: http.listen "9090": is not host:port`},
		{"ENRICHER_NATS_URL", "http://n:4222", `ENRICHER_NATS_URL: nats.url: entry 1: scheme "http" is not one of`},
		{"ENRICHER_DEFENDER_BASE_URL", "http://api.example", "ENRICHER_DEFENDER_BASE_URL: defender.base_url: \"http://api.example\": plain http://"},
		{"ENRICHER_DEFENDER_TOKEN_URL", "/token", "ENRICHER_DEFENDER_TOKEN_URL: defender.token_url: \"/token\" must be an absolute URL"},
		{"ENRICHER_DEFENDER_TENANT_ID", "a/b", `ENRICHER_DEFENDER_TENANT_ID: defender.tenant_id "a/b" may only hold`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			// The file sets the same attribute validly: the override's value is what is judged.
			path := writeConfig(t, "worker { concurrency = 4 }\nlog { level = \"info\" }\n")
			_, err := Load(path, envMap(map[string]string{tt.env: tt.value}))
			ds := diagnosticsOf(t, err)
			if len(ds) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%v", len(ds), ds)
			}
			if d := ds[0]; !strings.HasPrefix(d.String(), tt.want) || d.Line != 0 {
				t.Errorf("got %q (line %d), want a message starting %q without a position", d.String(), d.Line, tt.want)
			}
		})
	}
}

// TestAllProblemsInOneRun is the brief's acceptance case: an unknown
// attribute and a malformed duration, both reported with FILE:LINE:COL.
func TestAllProblemsInOneRun(t *testing.T) {
	t.Parallel()
	src := `input {
  stream   = "ALERTS"
  ack_wiat = "30s"
  ack_wait = "30 seconds"
}
output { duplicate_window = "-1m" }
retry { attempts = 0 }
`
	path := writeConfig(t, src)
	_, err := Load(path, nil)
	ds := diagnosticsOf(t, err)
	wantDiagAt(t, ds, path, src, "ack_wiat", `Unsupported argument: An argument named "ack_wiat" is not expected here.`)
	wantDiagAt(t, ds, path, src, `"30 seconds"`, `input.ack_wait: bad duration "30 seconds"`)
	wantDiagAt(t, ds, path, src, `"-1m"`, "output.duplicate_window must be a positive duration, got -1m0s")
	wantDiagAt(t, ds, path, src, "0 }", "retry.attempts must be at least 1, got 0")
	if len(ds) != 4 {
		t.Errorf("got %d diagnostics, want 4:\n%v", len(ds), ds)
	}
	// Error() prints them one per line in file order, as `validate` will.
	lines := strings.Split(err.Error(), "\n")
	if want := path + ":3:3: Unsupported argument"; !strings.HasPrefix(lines[0], want) {
		t.Errorf("first line %q, want prefix %q", lines[0], want)
	}
	if len(lines) != 4 {
		t.Errorf("Error() has %d lines, want 4", len(lines))
	}
}

func TestLoadStructuralProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, needle, want string
	}{
		{"unknown block", "inputs {\n  stream = \"A\"\n}\n", "inputs", `Blocks of type "inputs" are not expected here. Did you mean "input"?`},
		{"unknown nested block", "nats {\n  tsl {}\n}\n", "tsl", `Blocks of type "tsl" are not expected here. Did you mean "tls"?`},
		{"unknown nested attribute", "nats {\n  embedded { port = 1 }\n}\n", "port", `An argument named "port" is not expected here.`},
		{"unknown top-level attribute", "concurrency = 4\n", "concurrency", `An argument named "concurrency" is not expected here.`},
		{"duplicate block", "log { level = \"info\" }\nlog { format = \"json\" }\n", "log { format", "duplicate log block: it is already defined at line 1"},
		{"block label", "worker \"a\" { concurrency = 2 }\n", `"a"`, "Extraneous label for worker"},
		{"attribute as block", "http {\n  listen {}\n}\n", "listen", `Blocks of type "listen" are not expected here.`},
		{"syntax error", "log {\n  level = \n}\n", "\n}", "Invalid expression"},
		{"wrong type", "input { subjects = \"alerts.new\" }\n", `"alerts.new"`, "input.subjects: unsuitable value: list of string required"},
		{"fractional int", "worker { concurrency = 2.5 }\n", "2.5", "worker.concurrency: a whole number is required"},
		{"bool from text", "nats { manage_resources = \"maybe\" }\n", `"maybe"`, "nats.manage_resources: unsuitable value"},
		{"bad limit element", "quota { limits = [\"100/1m\", \"5 per hour\"] }\n", `"5 per hour"`, `quota.limits[1]: bad limit "5 per hour"`},
		{"null element", "input { subjects = [\"a.b\", null] }\n", "null", "input.subjects[1]: must not be null"},
		{"unknown variable", "log { level = var.level }\n", "var.level", "Unknown variable"},
		{"function call", "log { level = lower(\"INFO\") }\n", "lower", "Function calls not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.src)
			c, err := Load(path, nil)
			if c != nil {
				t.Errorf("got a Config with an error")
			}
			ds := diagnosticsOf(t, err)
			wantDiagAt(t, ds, path, tt.src, tt.needle, tt.want)
		})
	}
}

func TestNullKeepsDefault(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "worker { concurrency = null }\nlog { level = null }\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Worker.Concurrency != 16 || c.Log.Level != "info" {
		t.Errorf("null did not keep the defaults: concurrency %d, level %q", c.Worker.Concurrency, c.Log.Level)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	const path = "no/such/enricher.hcl"
	_, err := Load(path, nil)
	ds := diagnosticsOf(t, err)
	want := "no/such/enricher.hcl: cannot read the configuration file: no such file or directory"
	if len(ds) != 1 || ds[0].String() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestDiagnosticString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "a.hcl", Line: 3, Col: 7, Message: "m"}, "a.hcl:3:7: m"},
		{Diagnostic{File: "a.hcl", Message: "m"}, "a.hcl: m"},
		{Diagnostic{Message: "ENRICHER_X: m"}, "ENRICHER_X: m"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	var err error = Diagnostics{tests[0].d, tests[1].d}
	if got, want := err.Error(), "a.hcl:3:7: m\na.hcl: m"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrBadLimit) {
		t.Errorf("Diagnostics must match ErrInvalid and nothing else")
	}
}
