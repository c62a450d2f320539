package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/schemas"
)

// benchStack is an embedded NATS server with the declared resources of the
// default configuration applied, and one client connection.
type benchStack struct {
	cfg *config.Config
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newBenchStack(b *testing.B) *benchStack {
	b.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats server not ready")
	}
	b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	if _, err := Apply(context.Background(), js, DeclaredResources(cfg)); err != nil {
		b.Fatal(err)
	}
	return &benchStack{cfg: cfg, nc: nc, js: js}
}

// benchUser is a user entity of the documented size.
var benchUser = json.RawMessage(`{"@odata.context":"https://api.securitycenter.windows.com/api/$metadata#Users/$entity",` +
	`"id":"contoso\\user1","accountName":"user1","accountDomain":"contoso","accountSid":"S-1-5-21-72051607-1745760036-109187956-90001",` +
	`"firstSeen":"2019-12-08T06:33:39Z","lastSeen":"2020-01-05T06:58:34Z","mostPrevalentMachineId":"0a3250e0693a109f1affc9217be9459028aa8426",` +
	`"leastPrevalentMachineId":"0a3250e0693a109f1affc9217be9459028aa8426","logonTypes":"Network","logOnMachinesCount":1,` +
	`"isDomainAdmin":false,"isOnlyNetworkUser":true}`)

// BenchmarkKVCache measures the outcome cache on the declared bucket: a
// hit, a miss and a write, one at a time (each is one server round trip).
func BenchmarkKVCache(b *testing.B) {
	st := newBenchStack(b)
	ctx := context.Background()
	kv, err := st.js.KeyValue(ctx, st.cfg.Cache.Bucket)
	if err != nil {
		b.Fatal(err)
	}
	c := NewKVCache(kv)
	const hitID = "da637472900382838869_1364969609"
	if err := c.Put(ctx, hitID, CachedOutcome{Status: schemas.StatusEnriched, User: benchUser}); err != nil {
		b.Fatal(err)
	}
	b.Run("get-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := c.Get(ctx, hitID); err != nil || !ok {
				b.Fatalf("get: %v, hit %v", err, ok)
			}
		}
	})
	b.Run("get-miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := c.Get(ctx, "no_such_alert"); err != nil || ok {
				b.Fatalf("get: %v, hit %v", err, ok)
			}
		}
	})
	b.Run("put", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := c.Put(ctx, "alert_"+strconv.Itoa(i), CachedOutcome{Status: schemas.StatusEnriched, User: benchUser}); err != nil {
				b.Fatal(err)
			}
		}
	})
	local, err := NewLocalCache(c, 1000, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := local.Watch(wctx, st.nc, zerolog.Nop()); err != nil {
		b.Fatal(err)
	}
	if err := local.Put(ctx, hitID, CachedOutcome{Status: schemas.StatusEnriched, User: benchUser}); err != nil {
		b.Fatal(err)
	}
	b.Run("local-get-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := local.Get(ctx, hitID); err != nil || !ok {
				b.Fatalf("get: %v, hit %v", err, ok)
			}
		}
		if local.Hits() == 0 {
			b.Fatal("no hit served from memory")
		}
	})
}

// BenchmarkOutputEncode measures building one output message as settle
// does: the event, its JSON, and its three headers.
func BenchmarkOutputEncode(b *testing.B) {
	cfg := config.Default()
	in, err := schemas.ParseInput([]byte("da637472900382838869_1364969609"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		seq++
		e := schemas.NewEnriched(in, schemas.StatusEnriched, benchUser, schemas.SourceAPI, 1, time.Now(), "host-1234")
		body, err := e.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		m := nats.NewMsg(cfg.Output.Subject)
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("enr-%s-%d", cfg.Input.Stream, seq))
		m.Header.Set(HeaderAlertID, e.AlertID)
		m.Header.Set(HeaderStatus, string(e.Enrichment.Status))
	}
}

// BenchmarkOutputPublish measures storing one output event on the output
// stream: waiting for each ack in turn (as settle does), and asynchronous
// publishing with at most 256 acks outstanding.
func BenchmarkOutputPublish(b *testing.B) {
	st := newBenchStack(b)
	ctx := context.Background()
	body, err := schemas.NewEnriched(schemas.Input{ID: "a1", Alert: json.RawMessage(`{"id":"a1"}`)}, schemas.StatusEnriched, benchUser, schemas.SourceAPI, 1, time.Now(), "host-1234").Marshal()
	if err != nil {
		b.Fatal(err)
	}
	msg := func(i int) *nats.Msg {
		m := nats.NewMsg(st.cfg.Output.Subject)
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("enr-%s-%d", st.cfg.Input.Stream, i))
		return m
	}
	b.Run("sync", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := st.js.PublishMsg(ctx, msg(i), jetstream.WithExpectStream(st.cfg.Output.Stream)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("async-256", func(b *testing.B) {
		js, err := jetstream.New(st.nc, jetstream.WithPublishAsyncMaxPending(256))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := js.PublishMsgAsync(msg(-i), jetstream.WithExpectStream(st.cfg.Output.Stream), jetstream.WithStallWait(5*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
		<-js.PublishAsyncComplete()
	})
}

// BenchmarkConsume measures the consumer side per message: fetching into
// one free slot at a time versus 16, and acknowledging with DoubleAck (one
// round trip each, as the worker does) versus Ack.
func BenchmarkConsume(b *testing.B) {
	for _, c := range []struct {
		name   string
		batch  int
		double bool
	}{
		{"fetch1-doubleack", 1, true},
		{"fetch16-doubleack", 16, true},
		{"fetch16-ack", 16, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := newBenchStack(b)
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if _, err := st.js.PublishAsync(st.cfg.Input.Subjects[0], []byte("da637472900382838869_1364969609"), jetstream.WithStallWait(5*time.Second)); err != nil {
					b.Fatal(err)
				}
			}
			<-st.js.PublishAsyncComplete()
			cons, err := st.js.Consumer(ctx, st.cfg.Input.Stream, st.cfg.Input.Consumer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				batch, err := cons.Fetch(min(c.batch, b.N-done), jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				for m := range batch.Messages() {
					done++
					if c.double {
						err = m.DoubleAck(ctx)
					} else {
						err = m.Ack()
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := batch.Error(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
