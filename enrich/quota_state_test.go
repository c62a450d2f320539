package enrich

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

func TestQuotaStateRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now().UnixMicro()
	for name, s := range map[string]QuotaState{
		"empty":    {},
		"paused":   {PausedUntil: now + 5e6},
		"burst":    {Grants: []int64{now, now, now, now}},
		"spread":   {PausedUntil: -3, Grants: []int64{now - 3_600_000_000, now - 1, now}},
		"negative": {Grants: []int64{-1 << 62, 0, 1 << 62}},
	} {
		b := s.Encode()
		got, err := DecodeQuotaState(b)
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		if got.PausedUntil != s.PausedUntil || !slices.Equal(got.Grants, s.Grants) {
			t.Errorf("%s: got %+v, want %+v", name, got, s)
		}
	}
	burst := QuotaState{Grants: make([]int64, 1000)}
	if n := len(burst.Encode()); n > 1010 {
		t.Errorf("1000 equal grants take %d bytes, want about 1 each", n)
	}
	unsorted := QuotaState{Grants: []int64{3, 1, 2}}
	got, err := DecodeQuotaState(unsorted.Encode())
	if err != nil || !slices.Equal(got.Grants, []int64{1, 2, 3}) || !slices.Equal(unsorted.Grants, []int64{3, 1, 2}) {
		t.Errorf("unsorted grants: got %v, %v; input now %v", got.Grants, err, unsorted.Grants)
	}
}

func TestDecodeQuotaStateRejects(t *testing.T) {
	t.Parallel()
	valid := QuotaState{Grants: []int64{10, 20}}.Encode()
	for name, b := range map[string][]byte{
		"nil":            nil,
		"version 0":      {0, 0, 0},
		"version 2":      {2, 0, 0},
		"no count":       {1, 0},
		"bad varint":     {1, 0x80},
		"count too big":  {1, 0, 0xd1, 0x86, 0x03}, // 50001
		"count vs bytes": {1, 0, 5, 2},
		"truncated":      valid[:len(valid)-1],
		"trailing":       append(slices.Clone(valid), 0),
		"trailing empty": {1, 0, 0, 0},
		"overflow":       binary.AppendUvarint(binary.AppendVarint([]byte{1, 0, 2}, math.MaxInt64-1), 2),
	} {
		if _, err := DecodeQuotaState(b); !errors.Is(err, ErrCorruptQuotaState) {
			t.Errorf("%s: err = %v, want ErrCorruptQuotaState", name, err)
		}
	}
}

func TestQuotaEarliest(t *testing.T) {
	t.Parallel()
	limits := []quotaLimit{{calls: 2, span: 100}, {calls: 3, span: 1000}}
	for _, tc := range []struct {
		name string
		s    QuotaState
		want int64
	}{
		{"empty", QuotaState{}, 0},
		{"room", QuotaState{Grants: []int64{50}}, 0},
		{"short window full", QuotaState{Grants: []int64{40, 50}}, 140},
		{"long window full", QuotaState{Grants: []int64{10, 400, 500}}, 1010},
		{"pause later", QuotaState{PausedUntil: 2000, Grants: []int64{10, 400, 500}}, 2000},
		{"future grants count", QuotaState{Grants: []int64{5000, 6000}}, 5100},
	} {
		if got := quotaEarliest(tc.s, limits); got != tc.want {
			t.Errorf("%s: earliest %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestQuotaGrantList(t *testing.T) {
	t.Parallel()
	in := []int64{1, 2, 5}
	if got := quotaWithGrant(in, 3, 4); !slices.Equal(got, []int64{1, 2, 3, 5}) {
		t.Errorf("insert: %v", got)
	}
	if got := quotaWithGrant(in, 9, 3); !slices.Equal(got, []int64{2, 5, 9}) {
		t.Errorf("insert and keep 3: %v", got)
	}
	if !slices.Equal(in, []int64{1, 2, 5}) {
		t.Errorf("input changed: %v", in)
	}
	l := quotaLimit{calls: 3, span: 10}
	if r := quotaRemaining([]int64{1, 5, 8}, l, 12); r != 1 {
		t.Errorf("remaining = %d, want 1", r)
	}
}

func TestQuotaGreedyMax(t *testing.T) {
	t.Parallel()
	limits := []config.Limit{{Calls: 20, Window: time.Second}, {Calls: 60, Window: 5 * time.Second}}
	if got := quotaGreedyMax(limits, 50*time.Millisecond, 15*time.Second); got != 180 {
		t.Errorf("greedy max = %d, want 180", got)
	}
	if got := quotaGreedyMax([]config.Limit{{Calls: 1, Window: time.Second}}, 0, 3*time.Second); got != 4 {
		t.Errorf("greedy max 1/1s over [0,3s] = %d, want 4 (0, 1, 2, 3 s)", got)
	}
}

// FuzzDecodeQuotaState: decoding never panics, and a decoded state encodes
// to bytes that decode to the same state and encode again identically.
func FuzzDecodeQuotaState(f *testing.F) {
	f.Add(QuotaState{Grants: []int64{1, 2, 3}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeQuotaState(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptQuotaState) {
				t.Fatalf("error %v does not wrap ErrCorruptQuotaState", err)
			}
			return
		}
		if len(s.Grants) > MaxQuotaCalls || !slices.IsSorted(s.Grants) {
			t.Fatalf("decoded %d grants, sorted %v", len(s.Grants), slices.IsSorted(s.Grants))
		}
		enc := s.Encode()
		s2, err := DecodeQuotaState(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if s2.PausedUntil != s.PausedUntil || !slices.Equal(s2.Grants, s.Grants) {
			t.Fatalf("re-decoded %+v, want %+v", s2, s)
		}
		if !bytes.Equal(s2.Encode(), enc) {
			t.Fatal("encoding not stable")
		}
	})
}
