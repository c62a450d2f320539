package sim

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/enricher/enricher/config"
)

// DefaultLimits is the default of -limits: the documented 100 calls per
// minute and 1500 per hour.
const DefaultLimits = "100/1m,1500/1h"

// RegisterFlags defines the simulator's flags on fs and returns the Options
// they fill once fs.Parse has run: -alerts, -limits ("" or "none" =
// unlimited), -latency, -latency-jitter, -fail-rate, -token-ttl, -client-id,
// -client-secret, -seed, -bad-response-rate, -bad-response-kind. Bad values
// (a malformed limit, a rate outside 0..1, an unknown kind) fail fs.Parse.
// -listen is left to the caller.
func RegisterFlags(fs *flag.FlagSet) *Options {
	o := &Options{Alerts: DefaultAlerts, TokenTTL: DefaultTokenTTL, Seed: 1}
	lf := (*limitsFlag)(&o.Limits)
	if err := lf.Set(DefaultLimits); err != nil {
		panic(fmt.Sprintf("sim: default limits: %v", err)) // a constant: cannot fail
	}
	fs.IntVar(&o.Alerts, "alerts", o.Alerts, "number of alerts in the deterministic data set")
	fs.Var(lf, "limits", `rate limits per client, comma separated N/DURATION ("" or "none" = unlimited)`)
	fs.DurationVar(&o.Latency, "latency", 0, "added to every API response")
	fs.DurationVar(&o.LatencyJitter, "latency-jitter", 0, "random extra latency, 0 to this")
	fs.Var((*rateFlag)(&o.FailRate), "fail-rate", "share (0..1) of API calls answered 503")
	fs.DurationVar(&o.TokenTTL, "token-ttl", o.TokenTTL, "access token lifetime")
	fs.StringVar(&o.ClientID, "client-id", "", `the only client_id accepted ("" = any)`)
	fs.StringVar(&o.ClientSecret, "client-secret", "", `the only client_secret accepted ("" = any non-empty)`)
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed of the failure, bad-response and jitter draws")
	fs.Var((*rateFlag)(&o.BadResponseRate), "bad-response-rate", "share (0..1) of 200 answers given a hostile body")
	fs.Var((*kindFlag)(&o.BadResponseKind), "bad-response-kind",
		"hostile body: "+strings.Join(BadResponseKinds(), ", ")+` ("" = mixed)`)
	return o
}

// limitsFlag is a flag.Value for -limits.
type limitsFlag []config.Limit

func (f *limitsFlag) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, len(*f))
	for i, l := range *f {
		parts[i] = FormatLimit(l)
	}
	return strings.Join(parts, ",")
}

func (f *limitsFlag) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" || strings.EqualFold(v, "none") {
		*f = nil
		return nil
	}
	limits, err := config.ParseLimits(strings.Split(v, ","))
	if err != nil {
		return fmt.Errorf("parse limits: %w", err)
	}
	*f = limits
	return nil
}

// rateFlag is a flag.Value for a share between 0 and 1.
type rateFlag float64

func (f *rateFlag) String() string {
	if f == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *rateFlag) Set(v string) error {
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return fmt.Errorf("%w: %q is not a number between 0 and 1", ErrBadOptions, v)
	}
	*f = rateFlag(r)
	return nil
}

// kindFlag is a flag.Value for -bad-response-kind.
type kindFlag string

func (f *kindFlag) String() string {
	if f == nil {
		return ""
	}
	return string(*f)
}

func (f *kindFlag) Set(v string) error {
	if v != "" && !validKind(v) {
		return fmt.Errorf("%w: bad response kind %q is not one of %s", ErrBadOptions, v, strings.Join(BadResponseKinds(), ", "))
	}
	*f = kindFlag(v)
	return nil
}
