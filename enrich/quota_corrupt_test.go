package enrich

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enricher/enricher/config"
)

func TestQuotaRepairsCorruptValue(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	future := time.Now().Add(365 * 24 * time.Hour).UnixMicro()
	cases := map[string][]byte{
		"garbage":        []byte("\xff\x00not a quota state\x80\x80"),
		"empty":          {},
		"wrong version":  append([]byte{9}, QuotaState{}.Encode()[1:]...),
		"absurd count":   {1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"trailing bytes": append(QuotaState{Grants: []int64{1, 2}}.Encode(), 7),
		"future grant":   QuotaState{Grants: []int64{future}}.Encode(),
		"future pause":   QuotaState{PausedUntil: future}.Encode(),
	}
	const window, margin = 200 * time.Millisecond, 20 * time.Millisecond
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := "corrupt_" + strings.ReplaceAll(name, " ", "_")
			a := quotaTestNew(t, s, key, margin, "3/200ms")
			b := quotaTestNew(t, s, key, margin, "3/200ms")
			ctx := quotaTestCtx(t, 10*time.Second)
			if _, err := a.kv.Put(ctx, key, value); err != nil {
				t.Fatal(err)
			}
			put := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var grants []time.Time
			for _, q := range []*Quota{a, b} {
				wg.Go(func() {
					for range 2 {
						if err := q.Wait(ctx); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						grants = append(grants, time.Now())
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			for _, g := range grants {
				if g.Before(put.Add(window + margin)) {
					t.Errorf("granted %s after the corrupt value was written, want at least %s", g.Sub(put), window+margin)
				}
			}
			if v := quotaViolations(grants, config.Limit{Calls: 3, Window: window}); v != 0 {
				t.Errorf("%d violations of 3/200ms", v)
			}
			e, err := a.kv.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			st, err := DecodeQuotaState(e.Value())
			if err != nil {
				t.Fatalf("state not repaired: %v", err)
			}
			if len(st.Grants) > 3 {
				t.Errorf("state holds %d grants, want at most max(N) = 3", len(st.Grants))
			}
			if r := a.Stats().Repairs + b.Stats().Repairs; r != 1 {
				t.Errorf("repairs = %d, want 1", r)
			}
		})
	}
}
