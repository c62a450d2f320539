package enrich

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenRefreshMargin is how long before its expiry a cached token is
// replaced (at most half of the token's lifetime, for short-lived tokens).
const TokenRefreshMargin = 2 * time.Minute

// defaultTokenLifetime is assumed for a token answered without expires_in.
const defaultTokenLifetime = 5 * time.Minute

// TokenConfig says how to obtain client-credentials tokens.
type TokenConfig struct {
	TokenURL         string // the v2.0 token endpoint
	ClientID         string
	ClientSecret     string // or ClientSecretFile
	ClientSecretFile string // read at every fetch; surrounding white space trimmed
	Scope            string
	Timeout          time.Duration // per token request; 0 = 10s
	HTTPClient       *http.Client  // nil = the hardened default; redirects are always refused
}

// TokenSource hands out a cached bearer token, fetched with the OAuth2
// client-credentials grant and replaced before it expires. It is safe for
// concurrent use: concurrent callers that need a new token share one fetch.
type TokenSource struct {
	cfg    TokenConfig
	client *http.Client
	now    func() time.Time // the clock (tests move it)

	mu       sync.Mutex
	cur      *cachedToken
	inflight *tokenFetch
}

type cachedToken struct {
	value     string
	fetchedAt time.Time
	expiry    time.Time
}

type tokenFetch struct {
	done  chan struct{}
	value string
	err   error
}

// NewTokenSource checks cfg and returns a TokenSource. It fetches nothing;
// a secret file is read (to fail early) but not kept.
func NewTokenSource(cfg TokenConfig) (*TokenSource, error) {
	var errs []error
	if err := checkURL(cfg.TokenURL); err != nil {
		errs = append(errs, fmt.Errorf("token url: %w", err))
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("client id is empty"))
	}
	switch {
	case cfg.ClientSecret != "" && cfg.ClientSecretFile != "":
		errs = append(errs, errors.New("client secret and client secret file are both set"))
	case cfg.ClientSecret == "" && cfg.ClientSecretFile == "":
		errs = append(errs, errors.New("client secret (or client secret file) is empty"))
	case cfg.ClientSecretFile != "":
		if _, err := readSecretFile(cfg.ClientSecretFile); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Timeout < 0 {
		errs = append(errs, errors.New("token timeout is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrich: token source: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	// The form carries the secret: no redirect is ever followed.
	tc, err := hardenClient(cfg.HTTPClient, cfg.Timeout, 0, func(*http.Request, []*http.Request) error {
		return fmt.Errorf("token endpoint: %w", ErrRedirect)
	})
	if err != nil {
		return nil, fmt.Errorf("enrich: token source: %w", err)
	}
	return &TokenSource{cfg: cfg, client: tc, now: time.Now}, nil
}

// Token returns a valid access token, from the cache or from one fetch
// shared by all concurrent callers. The fetch runs with its own timeout and
// does not stop when ctx ends; the wait for it does. Errors wrap ErrToken
// and never contain the secret or a token.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if c := s.cur; c != nil && s.fresh(c) {
		s.mu.Unlock()
		return c.value, nil
	}
	f := s.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight = f
		go s.fetch(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("enrich: wait for %w: %w", ErrToken, ctx.Err())
	}
}

// Invalidate drops the cached token, so the next Token call fetches a new
// one (after a 401, for example).
func (s *TokenSource) Invalidate() {
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
}

// invalidate drops the cached token only if it is still value: a token
// refreshed meanwhile by another caller is kept.
func (s *TokenSource) invalidate(value string) {
	s.mu.Lock()
	if s.cur != nil && s.cur.value == value {
		s.cur = nil
	}
	s.mu.Unlock()
}

// fresh reports whether c has more than its refresh margin of life left.
// Called with s.mu held.
func (s *TokenSource) fresh(c *cachedToken) bool {
	margin := min(TokenRefreshMargin, c.expiry.Sub(c.fetchedAt)/2)
	return s.now().Before(c.expiry.Add(-margin))
}

// fetch asks the token endpoint for a token and publishes the outcome.
func (s *TokenSource) fetch(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.retrieve(ctx)
	s.mu.Lock()
	if err == nil {
		s.cur = c
		f.value = c.value
	}
	f.err = err
	s.inflight = nil
	s.mu.Unlock()
	close(f.done)
}

func (s *TokenSource) retrieve(ctx context.Context) (*cachedToken, error) {
	secret := s.cfg.ClientSecret
	if s.cfg.ClientSecretFile != "" {
		var err error
		if secret, err = readSecretFile(s.cfg.ClientSecretFile); err != nil {
			return nil, fmt.Errorf("enrich: %w: %w", ErrToken, err)
		}
	}
	cc := &clientcredentials.Config{
		ClientID:     s.cfg.ClientID,
		ClientSecret: secret,
		TokenURL:     s.cfg.TokenURL,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	if s.cfg.Scope != "" {
		cc.Scopes = []string{s.cfg.Scope}
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return nil, sanitizeTokenError(err, secret)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") && tok.TokenType != "" {
		return nil, &TokenError{StatusCode: http.StatusOK, Code: "unsupported_token_type",
			Description: cleanText(tok.TokenType, 32, []string{secret, tok.AccessToken})}
	}
	// x/oauth2 set Expiry from the real clock on receipt; carry the time
	// left over to s.now (which tests move).
	now, lifetime := s.now(), defaultTokenLifetime
	if !tok.Expiry.IsZero() {
		lifetime = time.Until(tok.Expiry)
	}
	return &cachedToken{value: tok.AccessToken, fetchedAt: now, expiry: now.Add(lifetime)}, nil
}

// TokenError is a failure of the token endpoint. It keeps only the status,
// the OAuth error code and its description: never the body, the secret or
// a token.
type TokenError struct {
	StatusCode  int    // 0 when no answer was received
	Code        string // OAuth "error", e.g. "invalid_client"
	Description string // OAuth "error_description", truncated
	err         error  // the cause, when it was not an answer
}

// Error describes the failure in one lower-case line.
func (e *TokenError) Error() string {
	if e.StatusCode == 0 && e.Code == "" {
		return fmt.Sprintf("enrich: %s: %v", ErrToken, e.err)
	}
	s := fmt.Sprintf("enrich: %s: token endpoint answered status %d", ErrToken, e.StatusCode)
	if e.Code != "" {
		s += ", error " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap returns ErrToken and the transport cause, if any.
func (e *TokenError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrToken, e.err}
	}
	return []error{ErrToken}
}

// sanitizeTokenError turns what x/oauth2 returned into a TokenError that
// holds no body and no secret.
func sanitizeTokenError(err error, secret string) *TokenError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{
			Code:        cleanText(re.ErrorCode, 64, []string{secret}),
			Description: cleanText(re.ErrorDescription, maxErrorText, []string{secret}),
		}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		return te
	}
	// Only the text of the cause is kept (cleaned), plus the context error
	// it may wrap, so errors.Is still sees a timeout.
	ce := &cleanError{msg: cleanText(err.Error(), maxErrorText, []string{secret})}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		ce.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		ce.cause = context.Canceled
	}
	return &TokenError{err: ce}
}

// cleanError is an error's cleaned text, keeping only a context error as
// its cause.
type cleanError struct {
	msg   string
	cause error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.cause }

// readSecretFile reads a client secret file, trimming surrounding white space.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read client secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("client secret file %s is empty", path)
	}
	return s, nil
}
