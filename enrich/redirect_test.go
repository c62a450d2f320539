package enrich

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestGetUserCrossHostRedirectRefused(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		writeUser(w)
	}))
	t.Cleanup(other.Close)
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	})
	res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrRedirect) {
		t.Fatalf("got %v, want a rejected redirect", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests (and so the token), want 0", n)
	}
	if res.Attempts != 1 || s.apiCount() != 1 {
		t.Errorf("got %d attempts, %d requests, want 1 (no retry)", res.Attempts, s.apiCount())
	}
}

func TestGetUserSameHostRedirectFollowed(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(s *stubAPI, w http.ResponseWriter, r *http.Request, n int) {
		if !strings.HasPrefix(r.URL.Path, "/moved/") {
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		userOr401(s, w, r, n) // the token came along
	})
	lim := &recLimiter{}
	res, err := s.client(t, func(o *Options) { o.Limiter = lim }).GetUser(context.Background(), stubAlertID)
	if err != nil || !res.Found {
		t.Fatalf("got %+v, %v; want found behind a same-host redirect", res, err)
	}
	if waits, _ := lim.counts(); waits != 2 || s.apiCount() != 2 {
		t.Errorf("got %d limiter waits for %d requests, want 2 and 2 (a hop is a request)", waits, s.apiCount())
	}
}

func TestGetUserRedirectLoopStops(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, "/again"+r.URL.Path, http.StatusFound)
	})
	_, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrRedirect) {
		t.Fatalf("got %v, want a rejected redirect", err)
	}
	if n := s.apiCount(); n != MaxRedirects+1 {
		t.Errorf("got %d requests, want %d", n, MaxRedirects+1)
	}
}

func TestGetUserOverTLS(t *testing.T) {
	t.Parallel()
	var tokens atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"tls-token"}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer tls-token" {
			writeError(w, 401)
			return
		}
		writeUser(w)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the unknown-CA handshake below is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	opts := Options{BaseURL: srv.URL, TokenURL: srv.URL + "/t/oauth2/v2.0/token", ClientID: "id", ClientSecret: "s",
		HTTPClient: srv.Client(), Attempts: 1}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.GetUser(context.Background(), stubAlertID); err != nil || !res.Found {
		t.Fatalf("got %+v, %v; want found over TLS with the test CA", res, err)
	}
	if tokens.Load() != 1 {
		t.Errorf("got %d token requests, want 1", tokens.Load())
	}

	// Without the test CA, verification fails: no user, a transient error.
	opts.HTTPClient = nil
	c, err = NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.GetUser(context.Background(), stubAlertID); err == nil || res.Found {
		t.Fatalf("got %+v, %v; want a failure against an unknown CA", res, err)
	}

	// A client that skips verification is refused.
	opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if _, err := NewClient(opts); err == nil {
		t.Fatal("NewClient accepted an http client that skips certificate verification")
	}
}
