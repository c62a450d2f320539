package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/sethvargo/go-retry"

	"github.com/enricher/enricher/schemas"
)

// DefaultScope is the OAuth2 scope of the Defender for Endpoint API.
const DefaultScope = "https://api.securitycenter.microsoft.com/.default"

// Defaults applied by NewClient to zero Options fields (CONTRACT section 2).
const (
	DefaultTimeout   = defaultTimeout
	DefaultAttempts  = 5
	DefaultBaseDelay = 500 * time.Millisecond
	DefaultMaxDelay  = time.Minute
)

// Options configures a Client. Zero durations and attempts take the
// defaults above; an empty Scope takes DefaultScope.
type Options struct {
	BaseURL          string // e.g. https://api.securitycenter.microsoft.com
	TokenURL         string // e.g. (*config.Config).TokenURL()
	Scope            string
	ClientID         string
	ClientSecret     string // exactly one of ClientSecret and ClientSecretFile
	ClientSecretFile string // read at every token fetch: a rotated secret needs no restart

	Timeout   time.Duration // per HTTP attempt
	Attempts  int           // HTTP attempts per GetUser for retryable failures
	BaseDelay time.Duration // first backoff; doubles, ±20% jitter
	MaxDelay  time.Duration // cap of one backoff (a Retry-After may exceed it)

	Limiter    Limiter      // nil = NoLimit{}
	HTTPClient *http.Client // nil = the hardened default; copied, its redirect policy replaced
	// Connections sizes the hardened default's idle keep-alive pool to the
	// API host: as many as the calls made at once (worker.concurrency);
	// 0 = 64. Ignored with HTTPClient.
	Connections int
	Logger      *zerolog.Logger // optional: one debug line per attempt, never the token

	// OnAttempt, when set, is called after every HTTP attempt to the API,
	// from the calling goroutine (for metrics; keep it fast).
	OnAttempt func(AttemptInfo)
}

// AttemptInfo describes one HTTP attempt to the API, for OnAttempt.
type AttemptInfo struct {
	// Number is the attempt's place within its GetUser call, from 1; an
	// attempt with Number > 1 is a retry (after a backoff, a Retry-After, or
	// at once with a fresh token after a 401).
	Number int
	// Status is the HTTP status answered, 0 when no answer arrived.
	Status int
	// Elapsed is how long the exchange took, the quota wait excluded.
	Elapsed time.Duration
}

// Client calls GET /api/alerts/{id}/user of the Defender API. It is safe for
// concurrent use; share one per process.
type Client struct {
	base      string
	tokens    *TokenSource
	http      *http.Client
	limiter   Limiter
	timeout   time.Duration
	attempts  int
	baseDelay time.Duration
	maxDelay  time.Duration
	log       zerolog.Logger
	onAttempt func(AttemptInfo)
}

// Result is the outcome of one GetUser call.
type Result struct {
	User        json.RawMessage // the user entity without "@odata.context", compacted; nil when not found
	Found       bool            // false = 404 (no such alert, or no user for it)
	Attempts    int             // HTTP attempts to the API made by this call (also set alongside an error)
	StatusCodes []int           // status of each attempt, 0 when no answer arrived (for metrics)
}

// NewClient checks opts (reporting every problem at once, never the
// secret) and returns a Client. It makes no request.
func NewClient(opts Options) (*Client, error) {
	var errs []error
	if err := checkURL(opts.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("base url: %w", err))
	}
	if opts.Timeout < 0 || opts.BaseDelay < 0 || opts.MaxDelay < 0 {
		errs = append(errs, errors.New("timeout, base delay and max delay must not be negative"))
	}
	if opts.Attempts < 0 {
		errs = append(errs, errors.New("attempts must not be negative"))
	}
	o := withDefaults(opts)
	if o.MaxDelay < o.BaseDelay {
		errs = append(errs, fmt.Errorf("max delay %s is below base delay %s", o.MaxDelay, o.BaseDelay))
	}
	c := &Client{
		base:      strings.TrimRight(o.BaseURL, "/"),
		limiter:   o.Limiter,
		timeout:   o.Timeout,
		attempts:  o.Attempts,
		baseDelay: o.BaseDelay,
		maxDelay:  o.MaxDelay,
		log:       zerolog.Nop(),
		onAttempt: o.OnAttempt,
	}
	if o.Logger != nil {
		c.log = *o.Logger
	}
	hc, err := hardenClient(o.HTTPClient, o.Timeout, o.Connections, sameHostRedirects(c.redirectHop))
	if err != nil {
		errs = append(errs, err)
	}
	c.http = hc
	tokenHTTP := o.HTTPClient
	if tokenHTTP == nil && hc != nil {
		tokenHTTP = &http.Client{Transport: hc.Transport} // share the pool
	}
	ts, err := NewTokenSource(TokenConfig{
		TokenURL:         o.TokenURL,
		ClientID:         o.ClientID,
		ClientSecret:     o.ClientSecret,
		ClientSecretFile: o.ClientSecretFile,
		Scope:            o.Scope,
		Timeout:          o.Timeout,
		HTTPClient:       tokenHTTP,
	})
	if err != nil {
		errs = append(errs, err)
	}
	c.tokens = ts
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrich: client options: %w", err)
	}
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Scope == "" {
		o.Scope = DefaultScope
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Attempts == 0 {
		o.Attempts = DefaultAttempts
	}
	if o.BaseDelay == 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = max(DefaultMaxDelay, o.BaseDelay)
	}
	if o.Limiter == nil {
		o.Limiter = NoLimit{}
	}
	return o
}

// Tokens returns the client's token source (to warm it up at start, or to
// invalidate it).
func (c *Client) Tokens() *TokenSource { return c.tokens }

// GetUser returns the user related to an alert.
//
// A nil error means a user was found (Found, User set) or the API answered
// 404 (Found false). Otherwise the error wraps ErrRejected (permanent for
// this alert: dead letter api_rejected), ErrTransient (retryable failures
// outlasted the attempts: try again later), or is the context's error.
//
// The ID is checked with schemas.CheckAlertID before anything is sent.
// Each HTTP attempt first waits on the Limiter; a 429's Retry-After is
// reported to Limiter.Pause and no attempt follows sooner. A 401 drops the
// token and is retried at once with a fresh one: that retry counts in
// Result.Attempts but not against the retry budget; a second 401 in a row is
// rejected. Backoff and waits end as soon as ctx is done.
func (c *Client) GetUser(ctx context.Context, alertID string) (Result, error) {
	var res Result
	if err := schemas.CheckAlertID(alertID); err != nil {
		return res, rejected(fmt.Errorf("enrich: get user: %w", err))
	}
	call := &userCall{
		c:       c,
		url:     c.base + "/api/alerts/" + url.PathEscape(alertID) + "/user", // a no-op for a valid ID
		res:     &res,
		alertID: alertID,
	}
	user, err := retry.DoValue(ctx, newBackoff(c.attempts, c.baseDelay, c.maxDelay, &call.notBefore), call.try)
	switch {
	case err == nil:
		if user != nil {
			res.User, res.Found = user, true
		}
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("enrich: get user of alert %s: %w", alertID, ctx.Err())
	}
	// A bad 200 is retried while attempts remain, then it is permanent.
	var ce *classError
	if errors.As(err, &ce) && ce.class == ErrTransient && errors.Is(ce.err, ErrBadResponse) {
		err = rejected(ce.err)
	}
	return res, fmt.Errorf("enrich: get user of alert %s after %d attempts: %w", alertID, res.Attempts, err)
}

// redirectHop waits for quota before a followed redirect: every request
// sent to the API counts.
func (c *Client) redirectHop(req *http.Request) error {
	if err := c.limiter.Wait(req.Context()); err != nil {
		return &limiterError{err: err}
	}
	return nil
}

// limiterError is a failure of the Limiter other than the caller's context.
type limiterError struct{ err error }

func (e *limiterError) Error() string { return "quota: " + e.err.Error() }
func (e *limiterError) Unwrap() error { return e.err }
