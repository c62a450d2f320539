package worker

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/enrich/sim"
)

// opsGet returns the status and body of GET base+path.
func opsGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// waitStatus polls GET base+path until it answers want.
func waitStatus(t *testing.T, base, path string, want int, timeout time.Duration, what string) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		code, _ := opsGet(t, base, path)
		return code == want
	})
}

// TestReadiness: /readyz answers 503 before the runtime exists, 503 once
// started but before the consumer is bound, 200 once bound, 503 while
// NATS is down and 200 again once it is back (same port, same store);
// /healthz answers 200 throughout.
func TestReadiness(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	e := newEnv(t, sim.Options{Alerts: 20}, func(o *server.Options) { o.StoreDir = store })

	// No runtime yet, as in `enricher run` while it connects.
	var rt atomic.Pointer[Runtime]
	m := NewMetrics()
	ops := httptest.NewServer(OpsHandler(m, func() bool { return rt.Load().Ready() }))
	defer ops.Close()
	if code, _ := opsGet(t, ops.URL, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before the runtime started, want 503", code)
	}
	if code, body := opsGet(t, ops.URL, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q before the runtime started, want 200 ok", code, body)
	}

	o, run := opsStart(t, e, zerolog.Nop(), false)
	rt.Store(o.rt)
	for _, base := range []string{ops.URL, o.ops.URL} {
		if code, _ := opsGet(t, base, "/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d before the consumer is bound, want 503", code)
		}
	}
	run()
	waitStatus(t, o.ops.URL, "/readyz", http.StatusOK, 10*time.Second, "/readyz 200 once the consumer is bound")
	if code, body := opsGet(t, ops.URL, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz = %d %q through the run wiring, want 200 ready", code, body)
	}

	// NATS goes away.
	port := e.srv.Addr().(*net.TCPAddr).Port
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	waitStatus(t, o.ops.URL, "/readyz", http.StatusServiceUnavailable, 10*time.Second, "/readyz 503 while NATS is down")
	if code, _ := opsGet(t, o.ops.URL, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while NATS is down, want 200 (the process is alive)", code)
	}
	if got := o.scrape(t).value("enricher_ready"); got != 0 {
		t.Errorf("enricher_ready = %v while NATS is down, want 0", got)
	}

	// NATS comes back on the same port with the same store.
	e.srv = startNATS(t, func(so *server.Options) { so.Port = port; so.StoreDir = store })
	waitStatus(t, o.ops.URL, "/readyz", http.StatusOK, 60*time.Second, "/readyz 200 once NATS is back")

	// And the worker works again: a message published now gets its outcome.
	id := e.Sim.AlertIDs(1)[0]
	waitFor(t, 60*time.Second, "the test connection back", e.nc.IsConnected)
	e.publish([]byte(id))
	outputs, _ := e.waitSettled(60 * time.Second)
	if len(outputs) != 1 {
		t.Errorf("%d outputs after NATS came back, want 1", len(outputs))
	}
}

// TestOpsEndpointsServeOnlyFigures: the three endpoints show no
// configuration value (URLs, client ID, secret), and nothing else is
// served.
func TestOpsEndpointsServeOnlyFigures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 20})
	o, _ := opsStart(t, e, zerolog.Nop(), true)
	waitStatus(t, o.ops.URL, "/readyz", http.StatusOK, 10*time.Second, "ready")
	e.publish([]byte(e.Sim.AlertIDs(1)[0]))
	e.waitSettled(30 * time.Second)
	secrets := []string{e.Cfg.Defender.ClientSecret, e.Cfg.Defender.ClientID, e.Cfg.NATS.URL,
		strings.TrimPrefix(e.Cfg.Defender.BaseURL, "http://")}
	secrets = append(secrets, o.tokens.all()...)
	if len(o.tokens.all()) == 0 {
		t.Fatal("no token was used: the run did not call the API")
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		code, body := opsGet(t, o.ops.URL, path)
		if code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows the configuration value %q", path, s)
			}
		}
	}
	for _, path := range []string{"/", "/config", "/debug/pprof/", "/metrics/x"} {
		if code, _ := opsGet(t, o.ops.URL, path); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}
	resp, err := http.Post(o.ops.URL+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
}
