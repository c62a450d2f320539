package enrich

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkQuotaWait measures one grant with 1, 4 and 16 users (each its own
// Quota and NATS connection, one embedded server) on one key, with limits
// so generous that nobody waits: the cost is the KV round trips and lost
// compare-and-set races, reported as conflicts/op.
func BenchmarkQuotaWait(b *testing.B) {
	s := quotaTestServer(b)
	for _, users := range []int{1, 4, 16} {
		b.Run("users="+strconv.Itoa(users), func(b *testing.B) {
			key := "bench" + strconv.Itoa(users)
			qs := make([]*Quota, users)
			for i := range qs {
				qs[i] = quotaTestNew(b, s, key, 0, "1000/1ms")
			}
			ctx := context.Background()
			if err := qs[0].Wait(ctx); err != nil { // create the key, sync the clock
				b.Fatal(err)
			}
			before := qs[0].Stats().CASConflicts
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, q := range qs {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if err := q.Wait(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			var conflicts uint64
			for _, q := range qs {
				conflicts += q.Stats().CASConflicts
			}
			b.ReportMetric(float64(conflicts-before)/float64(b.N), "conflicts/op")
		})
	}
}
