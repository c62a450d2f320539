package enrich

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/enricher/enricher/schemas"
)

func TestGetUserFound(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	c := s.client(t, nil)
	res, err := c.GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !res.Found || string(res.User) != stubUserCompact {
		t.Errorf("got Found=%v User=%s, want Found=true User=%s", res.Found, res.User, stubUserCompact)
	}
	if res.Attempts != 1 || !slices.Equal(res.StatusCodes, []int{200}) {
		t.Errorf("got Attempts=%d StatusCodes=%v, want 1 [200]", res.Attempts, res.StatusCodes)
	}
	reqs := s.requests()
	if want := "/api/alerts/" + stubAlertID + "/user"; len(reqs) != 1 || reqs[0].path != want {
		t.Fatalf("got requests %+v, want one to %s", reqs, want)
	}
	if want := "Bearer " + s.issued()[0]; reqs[0].auth != want {
		t.Errorf("got Authorization %q, want %q", reqs[0].auth, want)
	}
}

func TestGetUserNotFound(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, _ int) { writeError(w, 404) })
	res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if res.Found || res.User != nil || res.Attempts != 1 || s.apiCount() != 1 {
		t.Errorf("got %+v after %d requests, want not found after 1", res, s.apiCount())
	}
}

func TestGetUserPermanentStatusNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status   int
		sentinel error
	}{
		{400, ErrBadRequest},
		{403, ErrForbidden},
		{405, ErrBadRequest},
		{409, ErrBadRequest},
		{501, ErrServer},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, _ int) {
				if _, ok := stubErrors[tc.status]; ok {
					writeError(w, tc.status)
					return
				}
				w.WriteHeader(tc.status)
			})
			res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
			if !errors.Is(err, ErrRejected) || errors.Is(err, ErrTransient) || !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want rejected and %v, not transient", err, tc.sentinel)
			}
			if n := s.apiCount(); n != 1 || res.Attempts != 1 {
				t.Errorf("got %d requests, Attempts %d, want 1 and 1", n, res.Attempts)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != tc.status {
				t.Fatalf("got %#v, want an *APIError with status %d", ae, tc.status)
			}
			if e, ok := stubErrors[tc.status]; ok && (ae.Code != e[0] || ae.Message != e[1] || ae.Target != stubTarget) {
				t.Errorf("got envelope %q %q %q, want %q %q %q", ae.Code, ae.Message, ae.Target, e[0], e[1], stubTarget)
			}
		})
	}
}

func TestGetUserRetriesServerErrorsThenSucceeds(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		switch n {
		case 1:
			writeError(w, 503)
		case 2:
			writeError(w, 500)
		default:
			writeUser(w)
		}
	})
	lim := &recLimiter{}
	res, err := s.client(t, func(o *Options) { o.Attempts = 5; o.Limiter = lim }).GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !res.Found || res.Attempts != 3 || !slices.Equal(res.StatusCodes, []int{503, 500, 200}) {
		t.Errorf("got %+v, want found after attempts [503 500 200]", res)
	}
	if waits, _ := lim.counts(); waits != 3 || s.apiCount() != 3 {
		t.Errorf("got %d limiter waits for %d requests, want 3 and 3", waits, s.apiCount())
	}
	if s.tokenCount() != 1 {
		t.Errorf("got %d token requests, want 1", s.tokenCount())
	}
}

func TestGetUserTransientAfterAllAttempts(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 503, 504, 429, 408} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, _ int) {
				if _, ok := stubErrors[status]; ok {
					writeError(w, status)
					return
				}
				w.WriteHeader(status)
			})
			res, err := s.client(t, func(o *Options) { o.Attempts = 4 }).GetUser(context.Background(), stubAlertID)
			if !errors.Is(err, ErrTransient) || errors.Is(err, ErrRejected) {
				t.Fatalf("got %v, want transient only", err)
			}
			if n := s.apiCount(); n != 4 || res.Attempts != 4 || len(res.StatusCodes) != 4 {
				t.Errorf("got %d requests, %+v, want exactly 4 attempts", n, res)
			}
		})
	}
}

func TestGetUser401FreshTokenThenSuccess(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(s *stubAPI, w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 { // the token was revoked
			writeError(w, 401)
			return
		}
		userOr401(s, w, r, n)
	})
	lim := &recLimiter{}
	res, err := s.client(t, func(o *Options) { o.Attempts = 1; o.Limiter = lim }).GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !res.Found || res.Attempts != 2 || !slices.Equal(res.StatusCodes, []int{401, 200}) {
		t.Errorf("got %+v, want found after [401 200] (the fresh-token retry needs no retry budget)", res)
	}
	toks, reqs := s.issued(), s.requests()
	if len(toks) != 2 || reqs[1].auth != "Bearer "+toks[1] {
		t.Errorf("got tokens %v, second request with %q, want the second token", toks, reqs[1].auth)
	}
	if waits, _ := lim.counts(); waits != 2 {
		t.Errorf("got %d limiter waits, want 2 (one per API attempt)", waits)
	}
}

func TestGetUserTwo401sRejected(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, _ int) { writeError(w, 401) })
	res, err := s.client(t, func(o *Options) { o.Attempts = 5 }).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrTransient) {
		t.Fatalf("got %v, want rejected unauthorized", err)
	}
	if s.apiCount() != 2 || s.tokenCount() != 2 || res.Attempts != 2 {
		t.Errorf("got %d requests, %d tokens, Attempts %d; want 2, 2, 2", s.apiCount(), s.tokenCount(), res.Attempts)
	}
}

func TestGetUserInvalidIDsSendNothing(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	lim := &recLimiter{}
	c := s.client(t, func(o *Options) { o.Limiter = lim })
	long := make([]byte, schemas.MaxAlertIDLength+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, id := range []string{"", "../x", "a/b", "%2e%2e", "?", "#", "a b", "a\x00", "é", string(long)} {
		res, err := c.GetUser(context.Background(), id)
		if !errors.Is(err, schemas.ErrInvalidAlertID) || !errors.Is(err, ErrRejected) || errors.Is(err, ErrTransient) {
			t.Errorf("GetUser(%q): got %v, want rejected invalid id", id, err)
		}
		if res.Attempts != 0 {
			t.Errorf("GetUser(%q): got %d attempts, want 0", id, res.Attempts)
		}
	}
	if waits, _ := lim.counts(); s.apiCount() != 0 || s.tokenCount() != 0 || waits != 0 {
		t.Errorf("got %d API requests, %d token requests, %d waits; want none", s.apiCount(), s.tokenCount(), waits)
	}
}

func TestGetUserRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(s *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			s.mark()
			writeError(w, 429)
			return
		}
		writeUser(w)
	})
	lim := &recLimiter{}
	res, err := s.client(t, func(o *Options) { o.Limiter = lim }).GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !res.Found || !slices.Equal(res.StatusCodes, []int{429, 200}) {
		t.Fatalf("got %+v, want found after [429 200]", res)
	}
	reqs, marks := s.requests(), s.marked()
	if gap := reqs[1].at.Sub(marks[0]); gap < time.Second {
		t.Errorf("second attempt came %s after the 429, want at least 1s", gap)
	}
	waits, pauses := lim.counts()
	if waits != 2 || len(pauses) != 1 {
		t.Fatalf("got %d waits and pauses %v, want 2 waits and one pause", waits, pauses)
	}
	if d := pauses[0].Sub(marks[0]); d < time.Second || d > 30*time.Second {
		t.Errorf("pause until %s after the 429, want 1s (and not absurdly more)", d)
	}
}

func TestGetUserLimiterFailureIsTransientAndSendsNothing(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	lim := &recLimiter{waitErr: errors.New("kv unavailable")}
	res, err := s.client(t, func(o *Options) { o.Limiter = lim }).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrTransient) || errors.Is(err, ErrRejected) {
		t.Fatalf("got %v, want transient", err)
	}
	if s.apiCount() != 0 || res.Attempts != 0 {
		t.Errorf("got %d requests, %d attempts, want 0", s.apiCount(), res.Attempts)
	}
}

func TestGetUserCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	first := make(chan struct{})
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		writeError(w, 503)
		if n == 1 {
			close(first)
		}
	})
	c := s.client(t, func(o *Options) { o.Attempts = 5; o.BaseDelay = time.Minute; o.MaxDelay = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-first; cancel() }()
	start := time.Now()
	res, err := c.GetUser(ctx, stubAlertID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("returned after %s, want promptly (the backoff was a minute)", d)
	}
	if res.Attempts != 1 || s.apiCount() != 1 {
		t.Errorf("got %d attempts, %d requests, want 1", res.Attempts, s.apiCount())
	}
}

func TestGetUserCancelDuringRetryAfter(t *testing.T) {
	t.Parallel()
	first := make(chan struct{})
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeError(w, 429)
		if n == 1 {
			close(first)
		}
	})
	c := s.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-first; cancel() }()
	_, err := c.GetUser(ctx, stubAlertID)
	if !errors.Is(err, context.Canceled) || s.apiCount() != 1 {
		t.Fatalf("got %v after %d requests, want context.Canceled after 1", err, s.apiCount())
	}
}

func TestGetUserAttemptTimeout(t *testing.T) {
	t.Parallel()
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done() // never answers in time
	})
	res, err := s.client(t, func(o *Options) { o.Timeout = 50 * time.Millisecond; o.Attempts = 2 }).
		GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrTransient) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want transient timeout", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v: a per-attempt timeout must not look like the caller's deadline", err)
	}
	if res.Attempts != 2 || !slices.Equal(res.StatusCodes, []int{0, 0}) {
		t.Errorf("got %+v, want 2 attempts without answers", res)
	}
}

func TestGetUserConnectionErrorsAreTransient(t *testing.T) {
	t.Parallel()
	// The first two requests lose their connection before any answer (two,
	// because net/http itself resends a GET once on a reused connection).
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, _ *http.Request, n int) {
		if n <= 2 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		writeUser(w)
	})
	res, err := s.client(t, nil).GetUser(context.Background(), stubAlertID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	codes := res.StatusCodes
	if !res.Found || len(codes) < 2 || codes[0] != 0 || codes[len(codes)-1] != 200 {
		t.Errorf("got %+v, want found after a dropped connection (status 0)", res)
	}

	// Nobody listening at the API (the token endpoint works): transient
	// after every attempt.
	dead := newStub(t, userOr401)
	dead.srv.Close()
	res, err = s.client(t, func(o *Options) { o.BaseURL = dead.srv.URL }).GetUser(context.Background(), stubAlertID)
	if !errors.Is(err, ErrTransient) || errors.Is(err, ErrToken) || !slices.Equal(res.StatusCodes, []int{0, 0, 0}) {
		t.Errorf("got %+v, %v; want transient after 3 refused connections", res, err)
	}
}

func TestGetUserConcurrentCallersShareOneToken(t *testing.T) {
	t.Parallel()
	s := newStub(t, userOr401)
	s.mu.Lock()
	s.tokenDelay = 50 * time.Millisecond
	s.mu.Unlock()
	c := s.client(t, nil)
	errs := make(chan error, 32)
	for range 32 {
		go func() {
			_, err := c.GetUser(context.Background(), stubAlertID)
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Errorf("GetUser: %v", err)
		}
	}
	if n := s.tokenCount(); n != 1 {
		t.Errorf("got %d token requests for 32 concurrent calls, want 1", n)
	}
	if n := s.apiCount(); n != 32 {
		t.Errorf("got %d API requests, want 32", n)
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	good := Options{BaseURL: "https://api.securitycenter.microsoft.com", TokenURL: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
		ClientID: "id", ClientSecret: stubSecret}
	if _, err := NewClient(good); err != nil {
		t.Fatalf("NewClient(good): %v", err)
	}
	for name, mod := range map[string]func(*Options){
		"no base url":      func(o *Options) { o.BaseURL = "" },
		"ftp base url":     func(o *Options) { o.BaseURL = "ftp://x" },
		"base url query":   func(o *Options) { o.BaseURL = "https://x/?a=1" },
		"no token url":     func(o *Options) { o.TokenURL = "" },
		"no client id":     func(o *Options) { o.ClientID = "" },
		"no secret":        func(o *Options) { o.ClientSecret = "" },
		"two secrets":      func(o *Options) { o.ClientSecretFile = "/x" },
		"missing file":     func(o *Options) { o.ClientSecret = ""; o.ClientSecretFile = "/nonexistent/secret" },
		"negative timeout": func(o *Options) { o.Timeout = -1 },
		"negative tries":   func(o *Options) { o.Attempts = -1 },
		"max below base":   func(o *Options) { o.BaseDelay = time.Second; o.MaxDelay = time.Millisecond },
	} {
		o := good
		mod(&o)
		_, err := NewClient(o)
		if err == nil {
			t.Errorf("%s: got no error", name)
			continue
		}
		if containsAny(err.Error(), stubSecret) {
			t.Errorf("%s: error %q holds the secret", name, err)
		}
	}
}
