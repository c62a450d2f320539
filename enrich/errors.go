package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Status sentinels: an *APIError matches the one for its status with errors.Is.
var (
	// ErrNotFound matches a 404 (no such alert, or no user for it).
	ErrNotFound = errors.New("defender api: not found")
	// ErrUnauthorized matches a 401 (missing, unknown or expired token).
	ErrUnauthorized = errors.New("defender api: unauthorized")
	// ErrForbidden matches a 403 (the application lacks the permission).
	ErrForbidden = errors.New("defender api: forbidden")
	// ErrThrottled matches a 429; the *APIError carries the Retry-After.
	ErrThrottled = errors.New("defender api: throttled")
	// ErrServer matches any 5xx.
	ErrServer = errors.New("defender api: server error")
	// ErrBadRequest matches a 400 and every other 4xx without its own sentinel.
	ErrBadRequest = errors.New("defender api: bad request")
)

// Other sentinels.
var (
	// ErrBadResponse is wrapped when a 200 (or other non-error status) is not a
	// user entity: not one JSON object, no string "id", or over MaxUserBytes.
	ErrBadResponse = errors.New("defender api: response is not a user entity")
	// ErrToken is wrapped by every failure to obtain an access token.
	ErrToken = errors.New("access token")
	// ErrRedirect is wrapped when a redirect was refused (to another host or
	// scheme, or more than MaxRedirects): the bearer token never leaves the API host.
	ErrRedirect = errors.New("redirect refused")
	// ErrTimeout is wrapped when one HTTP attempt exceeded Options.Timeout
	// (the caller's context was still live).
	ErrTimeout = errors.New("defender api: attempt timed out")
)

// Class sentinels: every error GetUser returns, other than a context error,
// wraps exactly one of these.
var (
	// ErrTransient marks a failure worth trying again later: 408, 429, 5xx
	// (except 501 and 505), timeouts, connection errors, token endpoint
	// failures, quota errors, and a bad 200 while attempts remain. GetUser
	// returns it once its attempts are used up; the caller NAKs.
	ErrTransient = errors.New("transient failure")
	// ErrRejected marks a permanent failure for this alert (dead letter class
	// api_rejected): 400, 403, other 4xx, a second 401 after a fresh token, a
	// bad 200 once the attempts are used up, a refused redirect, an invalid ID.
	ErrRejected = errors.New("rejected by the defender api")
)

// APIError is a non-2xx answer of the Defender API, with its MDE error
// envelope {"error":{"code","message","target"}} when it had one.
type APIError struct {
	StatusCode int
	Code       string        // e.g. "ResourceNotFound", "TooManyRequests"; "" without an envelope
	Message    string        // free text from the API, sanitised and truncated
	Target     string        // correlation GUID
	RetryAfter time.Duration // from the Retry-After header (0 when absent)
}

// Error describes the answer in one lower-case line; it never holds a token.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "defender api: status %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, ", code %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Target != "" {
		fmt.Fprintf(&b, " (target %s)", e.Target)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Is matches the status sentinel of e.StatusCode.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	case ErrBadRequest:
		switch e.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
			return false
		}
		return e.StatusCode >= 400 && e.StatusCode <= 499
	}
	return false
}

// retryableStatus reports whether a status is worth another attempt.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// maxErrorText bounds the API's free text kept in an APIError.
const maxErrorText = 300

// newAPIError builds the APIError of a non-2xx answer from its (capped)
// body. redact lists strings (the token) that must not survive in the text.
func newAPIError(resp *http.Response, body []byte, receivedAt time.Time, redact ...string) *APIError {
	e := &APIError{StatusCode: resp.StatusCode}
	var env struct {
		Error *struct {
			Code    any `json:"code"`
			Message any `json:"message"`
			Target  any `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		e.Code = cleanText(asString(env.Error.Code), 64, redact)
		e.Message = cleanText(asString(env.Error.Message), maxErrorText, redact)
		e.Target = cleanText(asString(env.Error.Target), 64, redact)
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), receivedAt); ok {
		e.RetryAfter = d
	}
	return e
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// cleanText removes the redacted strings and control characters from s and
// truncates it to n bytes (on a rune boundary), so it fits one log line.
func cleanText(s string, n int, redact []string) string {
	for _, r := range redact {
		if r != "" {
			s = strings.ReplaceAll(s, r, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > n {
		cut := n
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// maxRetryAfter bounds a parsed Retry-After so the arithmetic cannot overflow.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (relative to now). ok is false when the header is absent or unparsable.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

// classError attaches a class sentinel (ErrTransient or ErrRejected) to an
// error without changing its text.
type classError struct {
	class error
	err   error
}

func (e *classError) Error() string   { return e.err.Error() }
func (e *classError) Unwrap() []error { return []error{e.class, e.err} }

func transient(err error) error { return &classError{class: ErrTransient, err: err} }
func rejected(err error) error  { return &classError{class: ErrRejected, err: err} }
