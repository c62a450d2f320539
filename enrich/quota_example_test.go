package enrich_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich"
)

// ExampleQuota shares one budget of 10 calls a minute through a KV bucket;
// every worker doing the same with the same bucket and key shares it.
func ExampleQuota() {
	dir, err := os.MkdirTemp("", "quota-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := server.NewServer(&server.Options{Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	go s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		panic("nats not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()

	kv, err := enrich.EnsureQuotaBucket(ctx, js, "enricher_quota", 1)
	if err != nil {
		panic(err)
	}
	limits, _ := config.ParseLimits([]string{"10/1m"})
	q, err := enrich.NewQuota(kv, enrich.QuotaOptions{Key: "tenant.client", Limits: limits, Margin: time.Second})
	if err != nil {
		panic(err)
	}
	for range 3 {
		if err := q.Wait(ctx); err != nil { // then send one API call
			panic(err)
		}
	}
	st := q.Stats()
	fmt.Println("granted:", st.Granted)
	fmt.Println("room left in", st.Remaining[0].Limit, "=", st.Remaining[0].Remaining)
	// Output:
	// granted: 3
	// room left in 10/1m0s = 7
}
