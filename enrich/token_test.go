package enrich

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestTokenRequestFormAndCache(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	c := s.client(t, nil)
	for range 10 {
		if _, err := c.GetUser(context.Background(), stubAlertID); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
	}
	if n := s.tokenCount(); n != 1 {
		t.Fatalf("got %d token requests for 10 calls, want 1", n)
	}
	s.mu.Lock()
	form, auth := s.tokenForms[0], s.tokenAuth[0]
	s.mu.Unlock()
	for k, want := range map[string]string{
		"grant_type": "client_credentials", "client_id": stubClientID,
		"client_secret": stubSecret, "scope": DefaultScope,
	} {
		if got := form.Get(k); got != want {
			t.Errorf("token form %s: got %q, want %q", k, got, want)
		}
	}
	if auth != "" {
		t.Errorf("token request had Authorization %q, want credentials in the form only", auth)
	}
}

// fakeClock returns a clock running offset ahead of real time.
func fakeClock(offset *atomic.Int64) func() time.Time {
	return func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
}

func TestTokenRefreshedNearExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		expiresIn     int
		cached, renew time.Duration // clock offsets: still cached, then renewed
	}{
		{"hour token, 2 min margin", 3599, 3599*time.Second - 2*time.Minute - 5*time.Second, 3599*time.Second - 2*time.Minute + 5*time.Second},
		{"minute token, half-life margin", 60, 25 * time.Second, 35 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, userOr401)
			s.mu.Lock()
			s.expiresIn = tc.expiresIn
			s.mu.Unlock()
			o := s.options()
			ts, err := NewTokenSource(TokenConfig{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret})
			if err != nil {
				t.Fatal(err)
			}
			var offset atomic.Int64
			ts.now = fakeClock(&offset)
			ctx := context.Background()
			first, err := ts.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			offset.Store(int64(tc.cached))
			if got, err := ts.Token(ctx); err != nil || got != first || s.tokenCount() != 1 {
				t.Fatalf("at +%s: got %q, %v after %d fetches, want the cached token", tc.cached, got, err, s.tokenCount())
			}
			offset.Store(int64(tc.renew))
			second, err := ts.Token(ctx)
			if err != nil || second == first || s.tokenCount() != 2 {
				t.Fatalf("at +%s: got %q, %v after %d fetches, want a new token", tc.renew, second, err, s.tokenCount())
			}
		})
	}
}

func TestTokenSecretFileReread(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("old-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.setSecret("old-secret")
	c := s.client(t, func(o *Options) { o.ClientSecret = ""; o.ClientSecretFile = path })
	if _, err := c.GetUser(context.Background(), stubAlertID); err != nil {
		t.Fatalf("GetUser with the old secret: %v", err)
	}
	// Rotate: the endpoint accepts only the new secret; the file changes.
	s.setSecret("new-secret")
	if err := os.WriteFile(path, []byte("  new-secret \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Tokens().Invalidate()
	if _, err := c.GetUser(context.Background(), stubAlertID); err != nil {
		t.Fatalf("GetUser after rotation: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokenForms) != 2 || s.tokenForms[1].Get("client_secret") != "new-secret" {
		t.Errorf("got %d token requests, want 2, the second with the rotated secret", len(s.tokenForms))
	}
}

func TestTokenRotatedSecretPickedUpAfter401(t *testing.T) {
	t.Parallel()
	// The API revokes the old token when the secret rotates; the 401 makes
	// the client fetch with the new file content, with no restart.
	s := newStub(t, userOr401)
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(stubSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := s.client(t, func(o *Options) { o.ClientSecret = ""; o.ClientSecretFile = path })
	if _, err := c.GetUser(context.Background(), stubAlertID); err != nil {
		t.Fatal(err)
	}
	s.setSecret("rotated")
	if err := os.WriteFile(path, []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.tokens = append(s.tokens, "revokes-the-old-one") // the cached token is no longer the current one
	s.mu.Unlock()
	res, err := c.GetUser(context.Background(), stubAlertID)
	if err != nil || !res.Found || res.Attempts != 2 {
		t.Fatalf("got %+v, %v; want found after a 401 and a fresh token", res, err)
	}
}

func TestTokenErrorHidesSecret(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	s.setSecret("the-right-one")
	res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrTransient) || !errors.Is(err, ErrToken) {
		t.Fatalf("got %v, want a transient token error", err)
	}
	var te *TokenError
	if !errors.As(err, &te) || te.StatusCode != 401 || te.Code != "invalid_client" {
		t.Fatalf("got %#v, want a TokenError 401 invalid_client", te)
	}
	if strings.Contains(err.Error(), stubSecret) {
		t.Errorf("error %q holds the secret", err)
	}
	if !strings.Contains(te.Description, "AADSTS7000215") {
		t.Errorf("description %q lost the AADSTS code", te.Description)
	}
	if s.apiCount() != 0 || res.Attempts != 0 || s.tokenCount() != 3 {
		t.Errorf("got %d API requests, %d token requests, want 0 and 3", s.apiCount(), s.tokenCount())
	}
}

func TestTokenWaitEndsWithContextFetchGoesOn(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	s.mu.Lock()
	s.tokenDelay = 300 * time.Millisecond
	s.mu.Unlock()
	c := s.client(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Tokens().Token(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrToken) {
		t.Fatalf("got %v, want a token wait ended by the deadline", err)
	}
	if _, err := c.Tokens().Token(context.Background()); err != nil {
		t.Fatalf("Token: %v", err)
	}
	if n := s.tokenCount(); n != 1 {
		t.Errorf("got %d token requests, want 1 (the abandoned fetch is reused)", n)
	}
}

func TestTokenEndpointRedirectRefused(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redir.Close)
	ts, err := NewTokenSource(TokenConfig{TokenURL: redir.URL + "/token", ClientID: "id", ClientSecret: stubSecret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(context.Background())
	if !errors.Is(err, ErrToken) || err == nil || strings.Contains(err.Error(), stubSecret) {
		t.Fatalf("got %v, want a token error without the secret", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}
