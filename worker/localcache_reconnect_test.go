package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// TestLocalCacheAcrossNATSRestart: when NATS goes away the tier goes off
// and forgets what it held (a change made while the watch cannot report
// it must not be served from memory); once reconnected it watches again
// and serves again, and a delete made by another client after the
// restart reaches it through the new watch.
func TestLocalCacheAcrossNATSRestart(t *testing.T) {
	t.Parallel()
	rn := restartableNATS{port: freePorts(t, 1)[0], storeDir: t.TempDir()}
	srv := rn.start(t)
	ctx := context.Background()
	connect := func() (jetstream.KeyValue, *nats.Conn) {
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "restart_test", Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		return kv, nc
	}
	kv, nc := connect()
	other, _ := connect()
	c, err := NewLocalCache(NewKVCache(kv), 100, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := c.Watch(wctx, nc, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "k1", testOutcome(1)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, "k1"); err != nil || !ok || c.Hits() != 1 {
		t.Fatalf("before the restart: hit %v, %d served from memory, error %v; want a hit from memory", ok, c.Hits(), err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, 10*time.Second, "the tier off during the outage", func() bool { return !c.Live() && c.Len() == 0 })
	srv = rn.start(t)
	waitFor(t, 20*time.Second, "the tier serving again after the restart", c.Live)

	// A delete by another client after the restart: the new watch reports it.
	waitFor(t, 20*time.Second, "the other client writing again", func() bool {
		_, err := other.Put(ctx, "k2", []byte(`{"status":"not_found"}`))
		return err == nil
	})
	if _, ok, err := c.Get(ctx, "k2"); err != nil || !ok {
		t.Fatalf("k2 after the restart: hit %v, error %v", ok, err)
	}
	hits := c.Hits()
	if _, _, _ = c.Get(ctx, "k2"); c.Hits() != hits+1 {
		t.Fatal("k2 read after the restart was not kept in memory")
	}
	if err := other.Delete(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the delete reaching the tier", func() bool {
		_, ok, err := c.Get(ctx, "k2")
		return err == nil && !ok
	})
	if _, ok, err := c.Get(ctx, "k1"); err != nil || !ok {
		t.Fatalf("k1 from the bucket after the restart: hit %v, error %v", ok, err)
	}
}
