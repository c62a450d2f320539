package enrich

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestAPIErrorSentinels(t *testing.T) {
	t.Parallel()
	all := []error{ErrNotFound, ErrUnauthorized, ErrForbidden, ErrThrottled, ErrServer, ErrBadRequest}
	for status, want := range map[int]error{
		400: ErrBadRequest, 401: ErrUnauthorized, 403: ErrForbidden, 404: ErrNotFound, 405: ErrBadRequest,
		429: ErrThrottled, 500: ErrServer, 503: ErrServer, 418: ErrBadRequest,
	} {
		e := &APIError{StatusCode: status}
		for _, s := range all {
			if got := errors.Is(e, s); got != (s == want) {
				t.Errorf("status %d: errors.Is(%v) = %v, want %v", status, s, got, s == want)
			}
		}
	}
	e := &APIError{StatusCode: 429, Code: "TooManyRequests", Message: "API call quota exceeded.", Target: stubTarget, RetryAfter: 2 * time.Second}
	want := "defender api: status 429, code TooManyRequests: API call quota exceeded. (target " + stubTarget + "), retry after 2s"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"99999999999999", maxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryAfterBackoffWaitsAtLeastRetryAfter(t *testing.T) {
	t.Parallel()
	var notBefore time.Time
	b := newBackoff(3, time.Millisecond, 2*time.Millisecond, &notBefore)
	if d, stop := b.Next(); stop || d > 3*time.Millisecond {
		t.Fatalf("got %s, %v; want a short backoff", d, stop)
	}
	notBefore = time.Now().Add(time.Hour)
	if d, stop := b.Next(); stop || d < 59*time.Minute {
		t.Fatalf("got %s, %v; want about an hour (the Retry-After beats the cap)", d, stop)
	}
	if _, stop := b.Next(); !stop {
		t.Fatal("want a stop after attempts-1 retries")
	}
}

func TestSecretAndTokenNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	// A hostile stub: it echoes the secret and the bearer token in its errors.
	s := newStub(t, func(_ *stubAPI, w http.ResponseWriter, r *http.Request, n int) {
		status := 500
		if n > 3 {
			status = 401
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"code":"` + r.Header.Get("Authorization") + `","message":"token ` +
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + ` refused","target":"t"}}`))
	})
	var logs syncBuffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	s.setSecret("not-what-the-client-sends")
	c := s.client(t, func(o *Options) { o.Logger = &logger })
	var texts []string
	for _, fix := range []func(){
		func() {}, // wrong secret: the token endpoint echoes it
		func() { s.setSecret(stubSecret) },
		func() {}, // 401 twice
	} {
		fix()
		_, err := c.GetUser(context.Background(), stubAlertID)
		if err == nil {
			t.Fatal("GetUser: want an error from the hostile stub")
		}
		texts = append(texts, err.Error())
	}
	secrets := append([]string{stubSecret, "SiGnAtUrE"}, s.issued()...)
	for i, text := range texts {
		if containsAny(text, secrets...) {
			t.Errorf("error %d holds a secret or token: %s", i, text)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"alert_id":"`+stubAlertID+`"`) || !strings.Contains(out, `"status":500`) {
		t.Errorf("want per-attempt debug lines with alert_id and status, got:\n%s", out)
	}
	if containsAny(out, secrets...) {
		t.Errorf("log holds a secret or token:\n%s", out)
	}
	if len(s.issued()) < 2 {
		t.Errorf("got %d tokens issued, want at least 2 (the scenario must reach the API)", len(s.issued()))
	}
}
