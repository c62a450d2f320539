package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
)

// Credentials the in-test simulators accept and the configs carry.
const (
	testClientID     = "proc-test-client"
	testClientSecret = "proc-test-secret-Zq8w"
)

// natsOptions are the options of an in-test NATS server with JetStream:
// loopback, the given port (-1 = any free one), file store in storeDir.
func natsOptions(port int, storeDir string) *server.Options {
	return &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true}
}

// startNATS starts a NATS server with opts and stops it at cleanup.
// Stopping it earlier (Shutdown then WaitForShutdown) is fine.
func startNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("nats server not ready after 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testSim is a simulator served over real HTTP on loopback.
type testSim struct {
	*sim.Server
	URL string
}

// startSim serves sim.New(opts) with httptest, with the test credentials
// unless opts sets its own.
func startSim(t *testing.T, opts sim.Options) *testSim {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = testClientID, testClientSecret
	}
	s := sim.New(opts)
	api := httptest.NewServer(s)
	t.Cleanup(api.Close)
	return &testSim{Server: s, URL: api.URL}
}

// workerConfig is the HCL configuration of an `enricher run` process.
// Zero fields take the defaults noted.
type workerConfig struct {
	NATSURL     string   // nats.url
	Sim         *testSim // defender base_url and token_url (nil = an unused loopback URL)
	AckWait     string   // "" = "5s"
	MaxDeliver  int      // 0 = 10
	Concurrency int      // 0 = 4
	Limits      []string // nil = ["10000/1s"]
	Margin      string   // "" = "0s"
	HTTPListen  string   // http.listen ("" = off)
	NATSExtra   string   // more lines inside the nats block
}

// hcl renders the configuration file.
func (c workerConfig) hcl() string {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	maxDeliver, conc := c.MaxDeliver, c.Concurrency
	if maxDeliver == 0 {
		maxDeliver = 10
	}
	if conc == 0 {
		conc = 4
	}
	limits := c.Limits
	if limits == nil {
		limits = []string{"10000/1s"}
	}
	base := "http://127.0.0.1:9" // nothing listens there; for runs that never call the API
	if c.Sim != nil {
		base = c.Sim.URL
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nats {\n  url = %q\n%s}\n\n", c.NATSURL, c.NATSExtra)
	fmt.Fprintf(&b, "input {\n  ack_wait    = %q\n  max_deliver = %d\n}\n\n", def(c.AckWait, "5s"), maxDeliver)
	fmt.Fprintf(&b, "defender {\n  base_url      = %q\n  token_url     = %q\n  tenant_id     = \"tenant\"\n  client_id     = %q\n  client_secret = %q\n  timeout       = \"5s\"\n}\n\n",
		base, base+"/tenant/oauth2/v2.0/token", testClientID, testClientSecret)
	fmt.Fprintf(&b, "quota {\n  limits = [%s]\n  margin = %q\n}\n\n", quoteList(limits), def(c.Margin, "0s"))
	b.WriteString("retry {\n  attempts   = 3\n  base_delay = \"20ms\"\n  max_delay  = \"200ms\"\n}\n\n")
	fmt.Fprintf(&b, "worker {\n  concurrency = %d\n}\n\n", conc)
	fmt.Fprintf(&b, "http {\n  listen = %q\n}\n\n", c.HTTPListen)
	b.WriteString("log {\n  level  = \"info\"\n  format = \"json\"\n}\n")
	return b.String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// writeFile writes content to name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeConfig writes c as an HCL file and returns its path.
func (c workerConfig) write(t *testing.T) string {
	t.Helper()
	return writeFile(t, "enricher.hcl", c.hcl())
}

// childEnv is the test's environment without ENRICHER_* overrides, so
// that the child reads only the config file it is given.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENRICHER_") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer is a goroutine-safe output sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// proc is one spawned enricher process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	stdout   *syncBuffer
	stderr   *syncBuffer
	done     chan struct{} // closed when the process has exited
	code     int           // exit code (-1 when killed by a signal); valid after done
	exitedAt time.Time     // valid after done
}

// startProc starts the enricher binary with args in a temporary working
// directory. The process is killed at cleanup if still running, and its
// stderr is logged when the test failed.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(enricherBin, args...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = childEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitedAt = time.Now()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -2
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s (pid %d) stderr, last lines:\n%s", p.name, p.cmd.Process.Pid, lastLines(p.stderr.String(), 25))
		}
	})
	return p
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig unless the process has exited.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL unless the process has exited.
func (p *proc) kill() { p.signal(syscall.SIGKILL) }

// wait waits up to timeout for the exit and returns the exit code; ok is
// false on a timeout.
func (p *proc) wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(timeout):
		return 0, false
	}
}

// runBin runs the enricher binary with args to completion (killed after
// timeout, which fails the test) and returns its exit code and output.
func runBin(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProc(t, "enricher "+strings.Join(args, " "), args...)
	code, ok := p.wait(timeout)
	if !ok {
		p.kill()
		<-p.done
		t.Fatalf("enricher %s still running after %s; stderr:\n%s", strings.Join(args, " "), timeout, lastLines(p.stderr.String(), 25))
	}
	return code, p.stdout.String(), p.stderr.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every 25 ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// connectJS connects a test client that reconnects forever (it survives
// a NATS restart) and closes at cleanup.
func connectJS(t *testing.T, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Default resource names (the configs leave them at their defaults).
const (
	inputStream   = "ALERTS"
	inputSubject  = "alerts.new"
	inputConsumer = "enricher"
	outputStream  = "ENRICHED"
	dlqStream     = "ENRICHER_DLQ"
)

// applyConfig runs `enricher apply` so that the streams exist before the
// test publishes into them.
func applyConfig(t *testing.T, cfgPath string) {
	t.Helper()
	if code, out, errOut := runBin(t, 30*time.Second, "apply", "-config", cfgPath); code != 0 {
		t.Fatalf("enricher apply: exit %d\n%s%s", code, out, errOut)
	}
}

// publishBodies publishes each body on the input subject.
func publishBodies(t *testing.T, js jetstream.JetStream, bodies ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range bodies {
		if _, err := js.Publish(ctx, inputSubject, []byte(b)); err != nil {
			t.Fatalf("publish %q: %v", b, err)
		}
	}
}

// inputSettled reports whether the input consumer has acknowledged every
// message of the input stream: nothing pending, nothing awaiting an ack.
// Outputs are stored before acks, so nothing is added after that.
func inputSettled(js jetstream.JetStream) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, inputStream)
	if err != nil {
		return false, err.Error()
	}
	c, err := s.Consumer(ctx, inputConsumer)
	if err != nil {
		return false, err.Error()
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return false, err.Error()
	}
	state := fmt.Sprintf("pending %d, ack pending %d, ack floor %d, last seq %d", ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream, s.CachedInfo().State.LastSeq)
	return ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream == s.CachedInfo().State.LastSeq, state
}

// waitSettled waits for inputSettled, reporting the last state seen on a
// timeout. It fails at once if one of the workers given has exited.
func waitSettled(t *testing.T, js jetstream.JetStream, timeout time.Duration, workers ...*proc) {
	t.Helper()
	last := ""
	deadline := time.Now().Add(timeout)
	for {
		ok, state := inputSettled(js)
		if ok {
			return
		}
		for _, w := range workers {
			select {
			case <-w.done:
				t.Fatalf("%s exited (code %d) before the input settled (%s); stderr:\n%s", w.name, w.code, state, lastLines(w.stderr.String(), 10))
			default:
			}
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("input not settled after %s: %s", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// streamCount is the number of messages in a stream (-1 on an error).
func streamCount(js jetstream.JetStream, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	return int(s.CachedInfo().State.Msgs)
}

// readStream returns every message of a stream, oldest first.
func readStream(t *testing.T, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	st := s.CachedInfo().State
	var out []*jetstream.RawStreamMsg
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get %s/%d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}
