package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is one rate limit "N/W": at most N calls in any sliding window of
// length W.
type Limit struct {
	// Calls is N, the most calls allowed in one window.
	Calls int
	// Window is W, the length of the sliding window.
	Window time.Duration
}

// String formats the limit as it is written in the config, e.g. "100/1m0s".
func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Calls, l.Window) }

// MaxLimitCalls is the largest N a quota limit may have: the shared quota
// keeps one timestamp per call of the largest window in one KV value.
const MaxLimitCalls = 50000

// ErrBadLimit is wrapped by every error from ParseLimit.
var ErrBadLimit = errors.New("bad limit")

// ParseLimit parses "N/W" where N is a positive integer and W a positive Go
// duration ("100/1m", "1500/1h", "20/1s").
func ParseLimit(s string) (Limit, error) {
	n, w, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Limit{}, fmt.Errorf("%w %q: want N/DURATION such as \"100/1m\"", ErrBadLimit, s)
	}
	calls, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || calls <= 0 {
		return Limit{}, fmt.Errorf("%w %q: N must be a positive integer", ErrBadLimit, s)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || window <= 0 {
		return Limit{}, fmt.Errorf("%w %q: the window must be a positive duration such as 1m", ErrBadLimit, s)
	}
	return Limit{Calls: calls, Window: window}, nil
}

// ParseLimits parses a list of limits, such as the comma-separated value of
// ENRICHER_QUOTA_LIMITS split into its parts. Empty parts are skipped.
func ParseLimits(parts []string) ([]Limit, error) {
	var out []Limit
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		l, err := ParseLimit(p)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}
