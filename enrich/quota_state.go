package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/enricher/enricher/config"
)

// MaxQuotaCalls is the largest N a quota limit may have: the quota keeps one
// timestamp per call of its largest limit in a single KV value, so N bounds
// the size of that value (about 3 bytes per call).
const MaxQuotaCalls = config.MaxLimitCalls

// quotaStateVersion is the first byte of every encoded QuotaState.
const quotaStateVersion = 1

// ErrCorruptQuotaState is wrapped by every error of DecodeQuotaState.
var ErrCorruptQuotaState = errors.New("corrupt quota state")

// QuotaState is the value of one quota key: the grants recorded for every
// worker sharing the key and the Retry-After pause.
//
// All times are Unix microseconds on the fleet clock (the clock of the NATS
// server that stores the bucket, as estimated by each worker; see Quota).
//
// Encoding (all integers are Go varints, encoding/binary):
//
//	byte     version, 1
//	varint   PausedUntil (signed; 0 = no pause)
//	uvarint  n, the number of grants, at most MaxQuotaCalls
//	varint   Grants[0], when n > 0 (signed)
//	uvarint  Grants[i] - Grants[i-1] for i = 1..n-1 (grants are ascending)
//
// and nothing after. A burst of grants costs one byte each, a grant per
// second three bytes.
type QuotaState struct {
	// PausedUntil is the end of the fleet-wide Retry-After pause; no grant is
	// made before it. 0 means no pause.
	PausedUntil int64
	// Grants are the start times of the most recent grants, oldest first,
	// at most the largest N of the limits.
	Grants []int64
}

// DecodeQuotaState decodes a value written by QuotaState.Encode. It never
// panics; every malformed input (empty, unknown version, truncated or
// overlong varints, a count over MaxQuotaCalls or over the bytes present,
// timestamps that overflow, trailing bytes) yields an error wrapping
// ErrCorruptQuotaState.
func DecodeQuotaState(b []byte) (QuotaState, error) {
	var s QuotaState
	if len(b) == 0 {
		return s, fmt.Errorf("%w: empty value", ErrCorruptQuotaState)
	}
	if b[0] != quotaStateVersion {
		return s, fmt.Errorf("%w: version %d, want %d", ErrCorruptQuotaState, b[0], quotaStateVersion)
	}
	rest := b[1:]
	paused, k := binary.Varint(rest)
	if k <= 0 {
		return s, fmt.Errorf("%w: bad pause field", ErrCorruptQuotaState)
	}
	rest = rest[k:]
	n, k := binary.Uvarint(rest)
	if k <= 0 {
		return s, fmt.Errorf("%w: bad grant count", ErrCorruptQuotaState)
	}
	rest = rest[k:]
	if n > MaxQuotaCalls {
		return s, fmt.Errorf("%w: %d grants, at most %d allowed", ErrCorruptQuotaState, n, MaxQuotaCalls)
	}
	if n > uint64(len(rest)) {
		return s, fmt.Errorf("%w: %d grants in %d bytes", ErrCorruptQuotaState, n, len(rest))
	}
	s.PausedUntil = paused
	if n == 0 {
		if len(rest) != 0 {
			return QuotaState{}, fmt.Errorf("%w: %d trailing bytes", ErrCorruptQuotaState, len(rest))
		}
		return s, nil
	}
	grants := make([]int64, 0, n)
	first, k := binary.Varint(rest)
	if k <= 0 {
		return QuotaState{}, fmt.Errorf("%w: bad first grant", ErrCorruptQuotaState)
	}
	rest = rest[k:]
	grants = append(grants, first)
	prev := first
	for i := uint64(1); i < n; i++ {
		d, k := binary.Uvarint(rest)
		if k <= 0 {
			return QuotaState{}, fmt.Errorf("%w: bad delta of grant %d", ErrCorruptQuotaState, i)
		}
		rest = rest[k:]
		// MaxInt64 - prev, computed without overflow for any prev.
		if room := uint64(math.MaxInt64) - uint64(prev); d > room {
			return QuotaState{}, fmt.Errorf("%w: grant %d overflows", ErrCorruptQuotaState, i)
		}
		prev = int64(uint64(prev) + d)
		grants = append(grants, prev)
	}
	if len(rest) != 0 {
		return QuotaState{}, fmt.Errorf("%w: %d trailing bytes", ErrCorruptQuotaState, len(rest))
	}
	s.Grants = grants
	return s, nil
}

// Encode returns the binary form of s described on QuotaState. Grants are
// expected in ascending order; an unsorted list is encoded sorted (s itself
// is not modified).
func (s QuotaState) Encode() []byte {
	grants := s.Grants
	if !slices.IsSorted(grants) {
		grants = slices.Clone(grants)
		slices.Sort(grants)
	}
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+3*len(grants))
	b = append(b, quotaStateVersion)
	b = binary.AppendVarint(b, s.PausedUntil)
	b = binary.AppendUvarint(b, uint64(len(grants)))
	for i, g := range grants {
		if i == 0 {
			b = binary.AppendVarint(b, g)
			continue
		}
		// The difference of two ascending int64 always fits in a uint64.
		b = binary.AppendUvarint(b, uint64(g)-uint64(grants[i-1]))
	}
	return b
}

// quotaLimit is one limit in the units the state uses.
type quotaLimit struct {
	calls int
	// span is W + margin in microseconds, rounded up.
	span int64
}

// quotaCeilMicros converts d to microseconds, rounding up.
func quotaCeilMicros(ns int64) int64 {
	us := ns / 1000
	if ns%1000 > 0 {
		us++
	}
	return us
}

// quotaEarliest returns the earliest fleet time (µs) at which a new grant
// keeps every limit: for each limit N/W the N-th most recent grant must be at
// least W + margin older than the new one, and the pause must be over.
// Grants in the future (clock skew) simply push that time later.
func quotaEarliest(s QuotaState, limits []quotaLimit) int64 {
	e := s.PausedUntil
	for _, l := range limits {
		if len(s.Grants) >= l.calls {
			if t := s.Grants[len(s.Grants)-l.calls] + l.span; t > e {
				e = t
			}
		}
	}
	return e
}

// quotaWithGrant returns a new grant list: grants plus ts, in order, keeping
// only the max most recent. grants is not modified.
func quotaWithGrant(grants []int64, ts int64, max int) []int64 {
	i := sort.Search(len(grants), func(i int) bool { return grants[i] > ts })
	out := make([]int64, 0, len(grants)+1)
	out = append(out, grants[:i]...)
	out = append(out, ts)
	out = append(out, grants[i:]...)
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// quotaRemaining returns, for a limit, how many more grants the window
// ending at now (µs) would admit.
func quotaRemaining(grants []int64, l quotaLimit, now int64) int {
	from := now - l.span
	i := sort.Search(len(grants), func(i int) bool { return grants[i] > from })
	r := l.calls - (len(grants) - i)
	if r < 0 {
		return 0
	}
	return r
}
