package enrich

import (
	"context"
	"testing"
)

// BenchmarkGetUser measures one found user over real loopback HTTP with a
// cached token (the client's own overhead: limiter, request, parse).
func BenchmarkGetUser(b *testing.B) {
	s := newStub(b, userOr401)
	c, err := NewClient(s.options())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetUser(ctx, stubAlertID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
