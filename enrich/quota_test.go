package enrich

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/config"
)

// quotaTestServer starts an embedded NATS server with JetStream.
func quotaTestServer(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		tb.Fatalf("new nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// quotaTestKV opens a new connection to s (one per simulated worker) and
// returns the quota bucket.
func quotaTestKV(tb testing.TB, s *server.Server, bucket string) jetstream.KeyValue {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := EnsureQuotaBucket(ctx, js, bucket, 1)
	if err != nil {
		tb.Fatalf("ensure bucket: %v", err)
	}
	return kv
}

// quotaTestLimits parses limits such as "20/1s".
func quotaTestLimits(tb testing.TB, ls ...string) []config.Limit {
	tb.Helper()
	out, err := config.ParseLimits(ls)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// quotaTestNew makes a Quota on its own connection.
func quotaTestNew(tb testing.TB, s *server.Server, key string, margin time.Duration, limits ...string) *Quota {
	tb.Helper()
	q, err := NewQuota(quotaTestKV(tb, s, "quota_test"), QuotaOptions{
		Key: key, Limits: quotaTestLimits(tb, limits...), Margin: margin,
	})
	if err != nil {
		tb.Fatalf("new quota: %v", err)
	}
	return q
}

func quotaTestCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func TestNewQuotaRejectsBadOptions(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	kv := quotaTestKV(t, s, "quota_test")
	ok := quotaTestLimits(t, "10/1s")
	for name, tc := range map[string]struct {
		kv   jetstream.KeyValue
		opts QuotaOptions
	}{
		"no bucket":    {nil, QuotaOptions{Key: "k", Limits: ok}},
		"empty key":    {kv, QuotaOptions{Key: "", Limits: ok}},
		"bad key":      {kv, QuotaOptions{Key: "a b", Limits: ok}},
		"dot key":      {kv, QuotaOptions{Key: ".k", Limits: ok}},
		"no limits":    {kv, QuotaOptions{Key: "k"}},
		"zero calls":   {kv, QuotaOptions{Key: "k", Limits: []config.Limit{{Calls: 0, Window: time.Second}}}},
		"huge N":       {kv, QuotaOptions{Key: "k", Limits: []config.Limit{{Calls: MaxQuotaCalls + 1, Window: time.Second}}}},
		"zero window":  {kv, QuotaOptions{Key: "k", Limits: []config.Limit{{Calls: 1}}}},
		"minus margin": {kv, QuotaOptions{Key: "k", Limits: ok, Margin: -time.Second}},
	} {
		if _, err := NewQuota(tc.kv, tc.opts); err == nil {
			t.Errorf("%s: NewQuota succeeded, want an error", name)
		}
	}
	if _, err := NewQuota(kv, QuotaOptions{Key: "tenant.client-1", Limits: ok}); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestEnsureQuotaBucketConcurrent(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			nc, err := nats.Connect(s.ClientURL())
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			_, err = EnsureQuotaBucket(quotaTestCtx(t, 10*time.Second), js, "race_bucket", 1)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("EnsureQuotaBucket: %v", err)
		}
	}
	st, err := quotaTestKV(t, s, "race_bucket").Status(quotaTestCtx(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.TTL() != 0 {
		t.Errorf("bucket history %d ttl %s, want 1 and 0", st.History(), st.TTL())
	}
}

func TestQuotaDeletedKeyRestarts(t *testing.T) {
	t.Parallel()
	s := quotaTestServer(t)
	q := quotaTestNew(t, s, "deleted", 0, "2/1h")
	ctx := quotaTestCtx(t, 10*time.Second)
	for _, reset := range []func() error{
		func() error { return q.kv.Delete(ctx, "deleted") },
		func() error { return q.kv.Purge(ctx, "deleted") },
	} {
		for range 2 {
			if err := q.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := reset(); err != nil {
			t.Fatal(err)
		}
	}
	// Both windows full again would block for an hour: the reset state grants.
	for range 2 {
		if err := q.Wait(ctx); err != nil {
			t.Fatalf("Wait after reset: %v", err)
		}
	}
	if g := q.Stats().Granted; g != 6 {
		t.Errorf("Granted = %d, want 6", g)
	}
}
