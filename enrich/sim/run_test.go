package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := zerolog.New(&syncWriter{b: &logs}).Level(zerolog.DebugLevel)
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, log) }()

	ts := &httptest.Server{URL: "http://" + ln.Addr().String()}
	tok := getToken(t, ts, "app", "secret-value")
	if r := getUser(t, ts, tok, firstWithUser(t, s)); r.status != http.StatusOK {
		t.Fatalf("status %d through Serve", r.status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(ts.URL + "/_sim/stats"); err == nil {
		t.Error("still answering after shutdown")
	}
	out := logs.String()
	if !strings.Contains(out, ln.Addr().String()) || !strings.Contains(out, `"status":200`) {
		t.Errorf("logs lack the address or the request line:\n%s", out)
	}
	if strings.Contains(out, tok) || strings.Contains(out, "secret-value") {
		t.Error("a token or secret was logged")
	}
}

func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), ln.Addr().String(), Options{}, zerolog.Nop())
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !strings.Contains(err.Error(), "listen for the simulator") {
		t.Errorf("Run on a busy port = %v, want a wrapped listen error", err)
	}
}

// syncWriter guards a strings.Builder shared by the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
