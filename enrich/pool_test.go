package enrich

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdlePoolSizedToConcurrency: 100 GetUser calls at once, twice (the
// API answers a round only when all 100 are in, so each round holds 100
// connections). With Connections = 100 the second round reuses every
// connection of the first; with the default pool of 64, 36 are opened
// again.
func TestIdlePoolSizedToConcurrency(t *testing.T) {
	t.Parallel()
	const calls = 100
	for _, tc := range []struct {
		conns, wantReopened int
	}{{calls, 0}, {0, calls - defaultConnections}} {
		t.Run(fmt.Sprintf("connections=%d", tc.conns), func(t *testing.T) {
			t.Parallel()
			var opened atomic.Int64
			var mu sync.Mutex
			arrived, release := 0, make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("POST /tenant-1/oauth2/v2.0/token", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`))
			})
			mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				arrived++
				wait := release
				if arrived == calls {
					close(release)
					arrived, release = 0, make(chan struct{})
				}
				mu.Unlock()
				<-wait
				writeUser(w)
			})
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					opened.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c, err := NewClient(Options{
				BaseURL: srv.URL, TokenURL: srv.URL + "/tenant-1/oauth2/v2.0/token",
				ClientID: stubClientID, ClientSecret: stubSecret, Timeout: 10 * time.Second,
				Attempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Connections: tc.conns,
			})
			if err != nil {
				t.Fatal(err)
			}
			round := func() {
				var wg sync.WaitGroup
				for range calls {
					wg.Go(func() {
						if _, err := c.GetUser(context.Background(), stubAlertID); err != nil {
							t.Errorf("GetUser: %v", err)
						}
					})
				}
				wg.Wait()
			}
			round()
			first := opened.Load()
			if first < calls {
				t.Fatalf("first round opened %d connections, want at least %d", first, calls)
			}
			round()
			if got := opened.Load() - first; got != int64(tc.wantReopened) {
				t.Errorf("second round opened %d connections, want %d", got, tc.wantReopened)
			}
		})
	}
}
