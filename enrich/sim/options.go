package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/enricher/enricher/config"
)

// Values of Options.BadResponseKind.
const (
	// BadNotJSON replaces the body with an HTML error page (not JSON).
	BadNotJSON = "not-json"
	// BadTooLarge replaces the body with a valid JSON user object over 64 KiB.
	BadTooLarge = "too-large"
	// BadNoID replaces the body with the user object without its "id".
	BadNoID = "no-id"
	// BadArray replaces the body with a JSON array holding the user object.
	BadArray = "array"
	// BadMixed cycles through not-json, too-large, no-id and array, in that order.
	BadMixed = "mixed"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultAlerts is the size of the data set when Options.Alerts is 0.
	DefaultAlerts = 1000
	// DefaultTokenTTL is the access token lifetime when Options.TokenTTL is 0.
	DefaultTokenTTL = 3599 * time.Second
	// DefaultRequestLog is how many API requests Requests keeps when
	// Options.RequestLog is 0.
	DefaultRequestLog = 100_000
	// DefaultListen is the address `enricher sim` listens on by default.
	DefaultListen = "127.0.0.1:8089"
)

// BadResponseKinds returns the accepted values of Options.BadResponseKind.
func BadResponseKinds() []string {
	return []string{BadNotJSON, BadTooLarge, BadNoID, BadArray, BadMixed}
}

// cycledKinds is the order BadMixed cycles through.
func cycledKinds() [4]string { return [4]string{BadNotJSON, BadTooLarge, BadNoID, BadArray} }

// Options configures a Server. The zero value is a usable simulator: 1000
// alerts, no rate limits, no latency, no failures, tokens valid for 3599 s,
// any non-empty client credentials accepted.
type Options struct {
	// Alerts is the size of the deterministic data set (0 = DefaultAlerts).
	Alerts int
	// Limits are enforced per client_id of the bearer token, as exact sliding
	// windows: a call is admitted iff, for every N/W, fewer than N admitted
	// calls of that client started in the last W. Nil means unlimited.
	Limits []config.Limit
	// Latency delays every API response; LatencyJitter adds a random 0..jitter.
	Latency, LatencyJitter time.Duration
	// FailRate is the share (0..1) of admitted API calls answered 503.
	FailRate float64
	// TokenTTL is the access token lifetime (0 = DefaultTokenTTL).
	TokenTTL time.Duration
	// ClientID and ClientSecret, when set, are the only credentials the token
	// endpoint accepts (401 invalid_client otherwise). When both are empty any
	// non-empty client_id and client_secret are accepted.
	ClientID, ClientSecret string
	// Seed seeds the generator behind FailRate, BadResponseRate and
	// LatencyJitter (the data set has its own fixed seed).
	Seed int64
	// BadResponseRate is the share (0..1) of would-be 200 answers whose body
	// is replaced by a hostile one of BadResponseKind.
	BadResponseRate float64
	// BadResponseKind is one of the Bad* constants ("" = BadMixed).
	BadResponseKind string
	// Fault, when set, is consulted first for each authorised API call (after
	// the bearer token is checked, before the limits). call counts this
	// alert's authorised calls from 1 (Reset starts again). A nil result, or
	// a Fault with Status 0, means normal behaviour. A faulted call bypasses
	// the limits and is not counted by them; it is logged and counted in
	// Stats like any other. Fault runs outside the server's lock, so it may
	// call the Server's methods (ExpireTokens, Stats...).
	Fault func(alertID string, call int) *Fault
	// Now is the clock (nil = time.Now). Token expiry, the limits and the
	// statistics all read it; latency sleeps use real time.
	Now func() time.Time
	// RequestLog bounds how many API requests Requests returns, the most
	// recent ones (0 = DefaultRequestLog).
	RequestLog int
}

// Fault is an answer forced by Options.Fault.
type Fault struct {
	// Status is the HTTP status to answer.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
	// Body is the response body; nil means the standard error envelope for
	// Status (or, for a 200, the alert's user entity, "{}" if it has none).
	Body []byte
}

// ErrBadOptions is wrapped by every error from Options.Validate.
var ErrBadOptions = errors.New("bad simulator options")

// Validate reports every out-of-range field. New does not require it: it
// clamps rates to 0..1, drops non-positive limits and treats an unknown
// BadResponseKind as BadMixed.
func (o Options) Validate() error {
	var errs []error
	if o.Alerts < 0 {
		errs = append(errs, fmt.Errorf("%w: alerts %d is negative", ErrBadOptions, o.Alerts))
	}
	for _, l := range o.Limits {
		if l.Calls <= 0 || l.Window <= 0 {
			errs = append(errs, fmt.Errorf("%w: limit %s must have positive calls and window", ErrBadOptions, l))
		}
	}
	if o.FailRate < 0 || o.FailRate > 1 {
		errs = append(errs, fmt.Errorf("%w: fail rate %g is outside 0..1", ErrBadOptions, o.FailRate))
	}
	if o.BadResponseRate < 0 || o.BadResponseRate > 1 {
		errs = append(errs, fmt.Errorf("%w: bad response rate %g is outside 0..1", ErrBadOptions, o.BadResponseRate))
	}
	if o.BadResponseKind != "" && !validKind(o.BadResponseKind) {
		errs = append(errs, fmt.Errorf("%w: bad response kind %q is not one of %v", ErrBadOptions, o.BadResponseKind, BadResponseKinds()))
	}
	if o.Latency < 0 || o.LatencyJitter < 0 || o.TokenTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: latency, jitter and token TTL must not be negative", ErrBadOptions))
	}
	return errors.Join(errs...)
}

func validKind(k string) bool {
	for _, v := range BadResponseKinds() {
		if k == v {
			return true
		}
	}
	return false
}

// withDefaults returns o with defaults filled in and values clamped.
func (o Options) withDefaults() Options {
	if o.Alerts <= 0 {
		o.Alerts = DefaultAlerts
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RequestLog <= 0 {
		o.RequestLog = DefaultRequestLog
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BadResponseKind == "" || !validKind(o.BadResponseKind) {
		o.BadResponseKind = BadMixed
	}
	o.FailRate = clamp01(o.FailRate)
	o.BadResponseRate = clamp01(o.BadResponseRate)
	o.Latency = max(o.Latency, 0)
	o.LatencyJitter = max(o.LatencyJitter, 0)
	var limits []config.Limit
	for _, l := range o.Limits {
		if l.Calls > 0 && l.Window > 0 {
			limits = append(limits, l)
		}
	}
	o.Limits = limits
	return o
}

func clamp01(f float64) float64 {
	switch {
	case f > 1:
		return 1
	case f > 0:
		return f
	default: // also NaN
		return 0
	}
}
