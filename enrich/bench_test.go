package enrich

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
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
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetUser(ctx, stubAlertID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// BenchmarkLoopbackHTTP is the floor under BenchmarkGetUser: a bare
// net/http GET of a user-sized body over loopback keep-alive, no token, no
// parsing, 16 callers at once. It reports the CPU time (client and server,
// user and system) per request, the cost that an API call adds to a
// message whatever the enricher does.
func BenchmarkLoopbackHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(stubUserJSON))
	}))
	defer srv.Close()
	c := &http.Client{Transport: newTransport(5*time.Second, 16)}
	url := srv.URL + "/api/alerts/" + stubAlertID + "/user"
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time (user + system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
