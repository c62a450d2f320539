package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// newSecureEnv is newEnv for a NATS server that requires credentials or
// TLS: mods configure the server, adminOpts are the options of the test's
// own connection (publishing inputs, reading outputs). e.Cfg has no NATS
// credentials yet: each test sets those it is about.
func newSecureEnv(t *testing.T, simOpts sim.Options, adminOpts []nats.Option, mods ...func(*server.Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, srv: startNATS(t, mods...), log: &syncBuffer{}}
	if simOpts.ClientID == "" {
		simOpts.ClientID, simOpts.ClientSecret = "test-client", "s3cr3t-test-value"
	}
	e.Sim = sim.New(simOpts)
	e.api = httptest.NewServer(e.Sim)
	t.Cleanup(e.api.Close)
	e.Cfg = testConfig(e.srv.ClientURL(), e.api.URL, simOpts.ClientID, simOpts.ClientSecret)
	var err error
	e.nc, err = nats.Connect(e.srv.ClientURL(), adminOpts...)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(e.nc.Close)
	if e.js, err = jetstream.New(e.nc); err != nil {
		t.Fatal(err)
	}
	return e
}

// testConfig is the configuration newEnv builds: NATS at natsURL, the
// simulator at apiURL, test-sized timings.
func testConfig(natsURL, apiURL, clientID, secret string) *config.Config {
	c := config.Default()
	c.NATS.URL = natsURL
	c.Defender.BaseURL = apiURL
	c.Defender.TokenURL = apiURL + "/tenant/oauth2/v2.0/token"
	c.Defender.TenantID = "tenant"
	c.Defender.ClientID = clientID
	c.Defender.ClientSecret = secret
	c.Quota.Limits = []config.Limit{{Calls: 10000, Window: time.Second}}
	c.Quota.Margin = 0
	c.Retry.BaseDelay = 5 * time.Millisecond
	c.Retry.MaxDelay = 50 * time.Millisecond
	c.HTTP.Listen = ""
	c.Log.Level = "debug"
	return c
}

// runAlerts publishes n alerts that have a user, waits until all are
// settled and fails unless each gave one enriched event and no dead letter.
func (e *testEnv) runAlerts(n int) {
	e.t.Helper()
	var bodies [][]byte
	for _, id := range e.Sim.AlertIDs(-1) {
		if len(bodies) == n {
			break
		}
		if e.Sim.HasUser(id) {
			bodies = append(bodies, []byte(id))
		}
	}
	e.publish(bodies...)
	outputs, dead := e.waitSettled(60 * time.Second)
	if len(dead) != 0 {
		e.t.Fatalf("got %d dead letters, want 0; first: %s", len(dead), dead[0].Header.Get(HeaderError))
	}
	if len(outputs) != n {
		e.t.Fatalf("got %d output events, want %d", len(outputs), n)
	}
	for _, m := range outputs {
		if got := m.Header.Get(HeaderStatus); got != "enriched" {
			e.t.Errorf("event %s has status %q, want enriched", m.Header.Get(HeaderAlertID), got)
		}
	}
}

// startRuntimeErr starts one runtime on cfg with its log in buf, expecting an
// error: it returns that error (nil when the runtime started, which it
// then stops).
func startRuntimeErr(t *testing.T, cfg *config.Config, buf io.Writer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := StartRuntime(ctx, RuntimeOptions{Config: cfg, Logger: zerolog.New(buf), ShutdownGrace: time.Second})
	if err == nil {
		rctx, rcancel := context.WithCancel(context.Background())
		rcancel()
		_ = rt.Run(rctx)
	}
	return err
}

// wantRefused asserts that err wraps ErrNATSRefused (so `run` exits 1 at
// once instead of retrying) and says what was refused.
func wantRefused(t *testing.T, err error, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("the runtime started; want it refused")
	}
	if !errors.Is(err, ErrNATSRefused) {
		t.Fatalf("error does not wrap ErrNATSRefused: %v", err)
	}
	t.Logf("refused as expected: %v", err)
	msg := strings.ToLower(err.Error())
	for _, m := range mentions {
		if !strings.Contains(msg, strings.ToLower(m)) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

// assertNoSecret fails if any secret appears in text.
func assertNoSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%d characters starting %q)", where, len(s), s[:min(3, len(s))])
		}
	}
}

// writeFile writes data to name in dir with mode 0600 and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustRead returns the content of a file.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEmbeddedRefusesOpenNonLoopback: StartEmbedded refuses every address
// beyond loopback (all interfaces included) without authentication, binds
// nothing, and accepts loopback ones.
func TestEmbeddedRefusesOpenNonLoopback(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0", "nats.example.com:0"} {
		_, err := StartEmbedded(EmbeddedOptions{Listen: listen, StoreDir: t.TempDir(), Logger: zerolog.Nop()})
		if !errors.Is(err, ErrInsecureListen) {
			t.Errorf("listen %s: got %v, want ErrInsecureListen", listen, err)
		}
	}
	// A user without a password, or TLS without client verification, is not
	// authentication.
	for name, o := range map[string]EmbeddedOptions{
		"user without password": {User: "enricher"},
		"tls without ca_file":   {TLS: config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}},
	} {
		o.Listen, o.StoreDir, o.Logger = "0.0.0.0:0", t.TempDir(), zerolog.Nop()
		if _, err := StartEmbedded(o); !errors.Is(err, ErrInsecureListen) {
			t.Errorf("%s: got %v, want ErrInsecureListen", name, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		srv, err := StartEmbedded(EmbeddedOptions{Listen: listen, StoreDir: t.TempDir(), Logger: zerolog.Nop()})
		if errors.Is(err, ErrListen) && listen == "[::1]:0" {
			continue // no IPv6 loopback on this machine
		}
		if err != nil {
			t.Errorf("listen %s: %v", listen, err)
			continue
		}
		srv.Shutdown()
	}
}

// TestEmbeddedAllInterfacesWithPassword: with a user and password the
// embedded server listens on every interface, its client URL is the
// loopback one, and it refuses anonymous clients.
func TestEmbeddedAllInterfacesWithPassword(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv, err := StartEmbedded(EmbeddedOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Logger: zerolog.New(&logs),
		User: "enricher", Password: "all-interfaces-pw-123"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("ClientURL = %s, want nats://127.0.0.1:port", srv.ClientURL())
	}
	if _, err := nats.Connect(srv.ClientURL()); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous connect: got %v, want an authorization violation", err)
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("enricher", "all-interfaces-pw-123"))
	if err != nil {
		t.Fatalf("connect with the password: %v", err)
	}
	nc.Close()
	if !strings.Contains(logs.String(), "clear text") {
		t.Error("no warning that a non-loopback listener without TLS sends credentials in clear text")
	}
	assertNoSecret(t, "the embedded server's log", logs.String(), "all-interfaces-pw-123")
}

// TestValidateEmbeddedListen: `validate` rejects a non-loopback embedded
// listen address without authentication, positioned at nats.embedded.listen,
// and the other embedded-server rules at their attribute.
func TestValidateEmbeddedListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, needle, want string // want "" = valid
	}{
		{"all interfaces, no auth", "nats {\n  embedded {\n    listen = \"0.0.0.0:4222\"\n  }\n}\n", `"0.0.0.0`, "nats.embedded.listen \"0.0.0.0:4222\" is not a loopback address"},
		{"empty host, no auth", "nats {\n  embedded { listen = \":4222\" }\n}\n", `":4222"`, "without authentication"},
		{"host name, no auth", "nats {\n  embedded { listen = \"nats.internal:4222\" }\n}\n", `"nats.internal`, "without authentication"},
		{"user without password", "nats {\n  user = \"enricher\"\n  embedded { listen = \"0.0.0.0:4222\" }\n}\n", `"0.0.0.0`, "without authentication"},
		{"tls without ca", "nats {\n  tls {\n    cert_file = \"c.pem\"\n    key_file = \"k.pem\"\n  }\n  embedded { listen = \"0.0.0.0:4222\" }\n}\n", `"0.0.0.0`, "without authentication"},
		{"password", "nats {\n  user = \"enricher\"\n  password = \"pw\"\n  embedded { listen = \"0.0.0.0:4222\" }\n}\n", "", ""},
		{"token", "nats {\n  token = \"tok\"\n  embedded { listen = \":4222\" }\n}\n", "", ""},
		{"mutual tls", "nats {\n  tls {\n    ca_file = \"ca.pem\"\n    cert_file = \"c.pem\"\n    key_file = \"k.pem\"\n  }\n  embedded { listen = \"0.0.0.0:4222\" }\n}\n", "", ""},
		{"loopback, no auth", "nats {\n  embedded { listen = \"127.0.0.1:4222\" }\n}\n", "", ""},
		{"remote server, any listen", "nats {\n  url = \"nats://n:4222\"\n  embedded { listen = \"0.0.0.0:4222\" }\n}\n", "", ""},
		{"user only for the embedded server", "nats {\n  user = \"enricher\"\n}\n", `"enricher"`, "nats.user needs nats.password for the embedded server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "enricher.hcl", []byte(tt.src))
			_, err := config.Load(path, func(string) (string, bool) { return "", false })
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var ds config.Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("got %v, want diagnostics", err)
			}
			i := strings.Index(tt.src, tt.needle)
			line := strings.Count(tt.src[:i], "\n") + 1
			col := i - strings.LastIndex(tt.src[:i], "\n")
			for _, d := range ds {
				if strings.Contains(d.Message, tt.want) {
					if d.File != path || d.Line != line || d.Col != col {
						t.Errorf("diagnostic at %s:%d:%d, want %s:%d:%d", d.File, d.Line, d.Col, path, line, col)
					}
					return
				}
			}
			t.Errorf("no diagnostic contains %q; got:\n%v", tt.want, ds)
		})
	}
}

// TestOpsListenerShowsNoConfigNames runs a worker with metrics, then
// reads /metrics, /healthz and /readyz: none shows a secret, a URL, a
// host:port, a path or an identifier of the configuration.
func TestOpsListenerShowsNoConfigNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 50, ClientID: "ops-client-id-7f3a", ClientSecret: "ops-secret-value-91b2"})
	e.Cfg.Defender.TenantID = "ops-tenant-5c1d"
	e.Cfg.Defender.TokenURL = e.api.URL + "/ops-tenant-5c1d/oauth2/v2.0/token"
	e.Cfg.Input.Subjects = []string{"ops.in.d9e1"}
	e.Cfg.Output.Subject = "ops.out.d9e1"
	e.Cfg.Quota.Bucket, e.Cfg.Cache.Bucket = "opsquota_d9e1", "opscache_d9e1"
	metrics := NewMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := StartRuntime(ctx, RuntimeOptions{Config: e.Cfg, Logger: zerolog.New(e.log), ShutdownGrace: time.Second, Metrics: metrics})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	e.runAlerts(5)

	ops := httptest.NewServer(OpsHandler(metrics, rt.Ready))
	t.Cleanup(ops.Close)
	natsHostPort := strings.TrimPrefix(e.Cfg.NATS.URL, "nats://")
	apiHostPort := strings.TrimPrefix(e.api.URL, "http://")
	forbidden := []string{
		e.Cfg.Defender.ClientSecret, e.Cfg.Defender.ClientID, e.Cfg.Defender.TenantID,
		natsHostPort, apiHostPort, e.Cfg.Input.Subjects[0], e.Cfg.Output.Subject, e.Cfg.Quota.Bucket, e.Cfg.Cache.Bucket, e.Cfg.QuotaKey(),
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get(ops.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		for _, f := range forbidden {
			if strings.Contains(string(body), f) {
				t.Errorf("GET %s shows the configuration value %q", path, f)
			}
		}
		if path == "/metrics" && !strings.Contains(string(body), `enricher_messages_total{outcome="enriched",source="api"} 5`) {
			t.Errorf("GET /metrics does not count the 5 enriched alerts:\n%s", body)
		}
	}
	assertNoSecret(t, "the worker's log", e.log.String(), e.Cfg.Defender.ClientSecret)
}

// TestRedactedConfigHidesSecrets: the effective configuration as the
// start-up log prints it (zerolog's Interface of Config.Redacted) holds no
// client secret, NATS password or token, nor the password of a NATS URL,
// but keeps the file paths so an operator can see where secrets come from.
func TestRedactedConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.NATS.URL = "nats://enricher:url-password-3e8f@nats-1:4222,nats://nats-2:4222"
	c.NATS.User, c.NATS.Password = "enricher", "nats-password-d41c"
	c.NATS.Token = "nats-token-77ab"
	c.NATS.CredsFile = "/etc/enricher/nats.creds"
	c.Defender.ClientSecret = "client-secret-0c9e"
	c.Defender.ClientSecretFile = "/run/secrets/defender"
	var buf strings.Builder
	log := zerolog.New(&buf)
	log.Info().Interface("config", c.Redacted()).Msg("enricher starting")
	out := buf.String()
	assertNoSecret(t, "the start-up log line", out, "url-password-3e8f", "nats-password-d41c", "nats-token-77ab", "client-secret-0c9e")
	var line struct {
		Config struct {
			NATS     map[string]any `json:"nats"`
			Defender map[string]any `json:"defender"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, out)
	}
	for key, want := range map[string]any{
		"password": config.Redaction, "token": config.Redaction, "user": "enricher", "creds_file": "/etc/enricher/nats.creds",
	} {
		if got := line.Config.NATS[key]; got != want {
			t.Errorf("nats.%s = %v, want %v", key, got, want)
		}
	}
	if got := line.Config.Defender["client_secret"]; got != config.Redaction {
		t.Errorf("defender.client_secret = %v, want %s", got, config.Redaction)
	}
	if got := line.Config.Defender["client_secret_file"]; got != "/run/secrets/defender" {
		t.Errorf("defender.client_secret_file = %v, want the path", got)
	}
	if got, _ := line.Config.NATS["url"].(string); !strings.Contains(got, config.Redaction) || !strings.Contains(got, "nats-1:4222") {
		t.Errorf("nats.url = %q, want the hosts with the user information redacted", got)
	}
}
