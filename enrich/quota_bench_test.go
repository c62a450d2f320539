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
// compare-and-set races, reported as conflicts/op. The goroutines=16 cases
// run 16 goroutines per user, as a worker's handlers do: their grants are
// batched, reported as writes/op.
func BenchmarkQuotaWait(b *testing.B) {
	s := quotaTestServer(b)
	for _, c := range []struct{ users, goroutines int }{{1, 1}, {4, 1}, {16, 1}, {1, 16}, {4, 16}} {
		users := c.users
		name := "users=" + strconv.Itoa(users)
		if c.goroutines > 1 {
			name += "/goroutines=" + strconv.Itoa(c.goroutines)
		}
		b.Run(name, func(b *testing.B) {
			key := "bench" + strconv.Itoa(users) + "x" + strconv.Itoa(c.goroutines)
			qs := make([]*Quota, users)
			for i := range qs {
				qs[i] = quotaTestNew(b, s, key, 0, "1000/1ms")
			}
			ctx := context.Background()
			if err := qs[0].Wait(ctx); err != nil { // create the key, sync the clock
				b.Fatal(err)
			}
			before, writesBefore := qs[0].Stats().CASConflicts, qs[0].Stats().GrantWrites
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := range users * c.goroutines {
				q := qs[i%users]
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
			var conflicts, writes uint64
			for _, q := range qs {
				conflicts += q.Stats().CASConflicts
				writes += q.Stats().GrantWrites
			}
			b.ReportMetric(float64(conflicts-before)/float64(b.N), "conflicts/op")
			b.ReportMetric(float64(writes-writesBefore)/float64(b.N), "writes/op")
		})
	}
}
