package worker

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// testEnv is one embedded NATS server, one simulator over real HTTP, and
// the workers started on them.
type testEnv struct {
	t   *testing.T
	srv *server.Server
	Sim *sim.Server
	api *httptest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	Cfg *config.Config
	log *syncBuffer
}

// newEnv starts NATS and the simulator and returns a config pointing at
// them with test-sized timings. Adjust env.Cfg before startWorkers.
func newEnv(t *testing.T, simOpts sim.Options, natsOpts ...func(*server.Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, srv: startNATS(t, natsOpts...), log: &syncBuffer{}}
	if simOpts.ClientID == "" {
		simOpts.ClientID, simOpts.ClientSecret = "test-client", "s3cr3t-test-value"
	}
	e.Sim = sim.New(simOpts)
	e.api = httptest.NewServer(e.Sim)
	t.Cleanup(e.api.Close)
	e.Cfg = config.Default()
	e.Cfg.NATS.URL = e.srv.ClientURL()
	e.Cfg.Defender.BaseURL = e.api.URL
	e.Cfg.Defender.TokenURL = e.api.URL + "/tenant/oauth2/v2.0/token"
	e.Cfg.Defender.TenantID = "tenant"
	e.Cfg.Defender.ClientID = simOpts.ClientID
	e.Cfg.Defender.ClientSecret = simOpts.ClientSecret
	e.Cfg.Quota.Limits = []config.Limit{{Calls: 10000, Window: time.Second}}
	e.Cfg.Quota.Margin = 0
	e.Cfg.Retry.BaseDelay = 5 * time.Millisecond
	e.Cfg.Retry.MaxDelay = 50 * time.Millisecond
	e.Cfg.HTTP.Listen = ""
	e.Cfg.Log.Level = "debug"
	var err error
	e.nc, err = nats.Connect(e.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	e.js, err = jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func startNATS(t *testing.T, mods ...func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	for _, m := range mods {
		m(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// startWorkers starts k runtimes on e.Cfg; they stop at test cleanup.
func (e *testEnv) startWorkers(k int) {
	e.t.Helper()
	if err := e.Cfg.Validate(); err != nil {
		e.t.Fatalf("test config invalid: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		log := zerolog.New(e.log).With().Int("worker", i).Logger()
		rt, err := StartRuntime(ctx, RuntimeOptions{Config: e.Cfg, Logger: log, ShutdownGrace: 2 * time.Second})
		if err != nil {
			cancel()
			e.t.Fatalf("start worker %d: %v", i, err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	}
	e.t.Cleanup(func() { cancel(); wg.Wait() })
}

// publish puts bodies on the first input subject, in order, and returns
// their stream sequences.
func (e *testEnv) publish(bodies ...[]byte) []uint64 {
	e.t.Helper()
	seqs := make([]uint64, 0, len(bodies))
	for _, b := range bodies {
		ack, err := e.js.Publish(context.Background(), e.Cfg.Input.Subjects[0], b)
		if err != nil {
			e.t.Fatalf("publish: %v", err)
		}
		seqs = append(seqs, ack.Sequence)
	}
	return seqs
}

// waitSettled waits until the input consumer has acknowledged every
// message and returns the messages of the output and dead-letter streams.
// Outputs are stored before acks, so nothing can be added after that.
func (e *testEnv) waitSettled(timeout time.Duration) (outputs, deadLetters []*jetstream.RawStreamMsg) {
	e.t.Helper()
	ctx := context.Background()
	waitFor(e.t, timeout, "every input message acknowledged", func() bool {
		c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false
		}
		s, err := e.js.Stream(ctx, e.Cfg.Input.Stream)
		if err != nil {
			return false
		}
		si, err := s.Info(ctx)
		if err != nil {
			return false
		}
		return info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream == si.State.LastSeq
	})
	return e.streamMsgs(e.Cfg.Output.Stream), e.streamMsgs(e.Cfg.DeadLetter.Stream)
}

// streamMsgs reads every message of a stream.
func (e *testEnv) streamMsgs(name string) []*jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		e.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatalf("get %s/%d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func zeroLogger(w io.Writer) zerolog.Logger { return zerolog.New(w) }

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// runWorkerWith applies the resources and runs one Worker on e.Cfg with
// fetcher in place of the Defender client, logging to log, until cleanup.
func (e *testEnv) runWorkerWith(fetcher UserFetcher, log io.Writer) {
	e.t.Helper()
	if _, err := Apply(context.Background(), e.js, DeclaredResources(e.Cfg)); err != nil {
		e.t.Fatal(err)
	}
	w, err := New(Options{Config: e.Cfg, Conn: e.nc, Fetcher: fetcher, Logger: zeroLogger(log)})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}
