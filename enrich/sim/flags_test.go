package sim

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := RegisterFlags(fs)
	return o, fs.Parse(args)
}

func TestFlagsDefaults(t *testing.T) {
	t.Parallel()
	o, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Limit{{Calls: 100, Window: time.Minute}, {Calls: 1500, Window: time.Hour}}
	if !reflect.DeepEqual(o.Limits, want) || o.Alerts != 1000 || o.TokenTTL != 3599*time.Second ||
		o.FailRate != 0 || o.BadResponseKind != "" || o.ClientID != "" {
		t.Errorf("defaults = %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	RegisterFlags(fs)
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	if !strings.Contains(usage.String(), `(default 100/1m,1500/1h)`) {
		t.Errorf("usage does not show the default limits:\n%s", usage.String())
	}
}

func TestFlagsSet(t *testing.T) {
	t.Parallel()
	o, err := parse(t, "-alerts", "50", "-limits", "3/1s, 10/1m", "-latency", "5ms", "-latency-jitter", "2ms",
		"-fail-rate", "0.25", "-token-ttl", "1m", "-client-id", "app", "-client-secret", "pw", "-seed", "9",
		"-bad-response-rate", "1", "-bad-response-kind", "array")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Alerts: 50, Limits: []config.Limit{{Calls: 3, Window: time.Second}, {Calls: 10, Window: time.Minute}},
		Latency: 5 * time.Millisecond, LatencyJitter: 2 * time.Millisecond, FailRate: 0.25, TokenTTL: time.Minute,
		ClientID: "app", ClientSecret: "pw", Seed: 9, BadResponseRate: 1, BadResponseKind: "array",
	}
	if !reflect.DeepEqual(*o, want) {
		t.Errorf("got  %+v\nwant %+v", *o, want)
	}
	for _, v := range []string{"", "none", "NONE"} {
		o, err := parse(t, "-limits", v)
		if err != nil || o.Limits != nil {
			t.Errorf("-limits %q: %v, %v; want unlimited", v, o.Limits, err)
		}
	}
}

func TestFlagsRejectBadValues(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-limits", "100"}, {"-limits", "0/1m"}, {"-fail-rate", "1.5"}, {"-fail-rate", "-0.1"},
		{"-fail-rate", "NaN"}, {"-bad-response-rate", "x"}, {"-bad-response-kind", "evil"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v: parsed without error", args)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	bad := Options{Alerts: -1, FailRate: 2, BadResponseRate: -1, BadResponseKind: "x",
		Limits: []config.Limit{{Calls: 0, Window: time.Second}}, Latency: -1}
	err := bad.Validate()
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("Validate = %v, want ErrBadOptions", err)
	}
	for _, word := range []string{"alerts", "limit", "fail rate", "bad response rate", "kind", "latency"} {
		if !strings.Contains(err.Error(), word) {
			t.Errorf("error %q does not mention %s", err, word)
		}
	}
	// New accepts the same options, clamped: everything fails, nothing is limited.
	if got := statuses(t, Options{FailRate: 2, Limits: bad.Limits}, 5); count(got, 503) != 5 {
		t.Errorf("clamped FailRate 2: %v, want all 503", got)
	}
}
