package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
)

// startCluster starts an n-node NATS cluster with JetStream, each node
// routed to the others, and waits until the JetStream meta group has a
// leader that knows every peer. Route ports are picked before the start;
// if one was taken meanwhile, the whole cluster is started again on new
// ports.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	var problems []string
	for attempt := 1; attempt <= 3; attempt++ {
		servers, logs, err := tryStartCluster(t, n)
		if err == nil {
			return servers
		}
		problems = append(problems, fmt.Sprintf("attempt %d: %v\n%s", attempt, err, logs.String()))
		for _, s := range servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	t.Fatalf("no cluster:\n%s", strings.Join(problems, "\n"))
	return nil
}

// clusterLogger keeps a cluster's warnings and errors for a failure report.
type clusterLogger struct{ buf *syncBuffer }

func (l clusterLogger) Noticef(string, ...any)    {}
func (l clusterLogger) Debugf(string, ...any)     {}
func (l clusterLogger) Tracef(string, ...any)     {}
func (l clusterLogger) Warnf(f string, v ...any)  { fmt.Fprintf(l.buf, "WRN "+f+"\n", v...) }
func (l clusterLogger) Errorf(f string, v ...any) { fmt.Fprintf(l.buf, "ERR "+f+"\n", v...) }
func (l clusterLogger) Fatalf(f string, v ...any) { fmt.Fprintf(l.buf, "FTL "+f+"\n", v...) }

func tryStartCluster(t *testing.T, n int) ([]*server.Server, *syncBuffer, error) {
	t.Helper()
	logs := &syncBuffer{}
	ports := freePorts(t, n)
	var servers []*server.Server
	for i := range n {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "enricher-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoSigs:  true,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			return servers, logs, err
		}
		s.SetLoggerV2(clusterLogger{logs}, false, false, false)
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			return servers, logs, fmt.Errorf("%s not ready after 10s", s.Name())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == n {
				return servers, logs, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return servers, logs, errors.New("no JetStream meta leader that knows every peer after 30s")
}

// clusterURL is the comma-separated client URL list of servers.
func clusterURL(servers []*server.Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// newClusterEnv is newEnv pointed at a fresh 3-node cluster: e.Cfg,
// e.nc and e.js use the cluster, and every stream and bucket is declared
// with 3 replicas. (newEnv's own single server stays idle.)
func newClusterEnv(t *testing.T, simOpts sim.Options) (*testEnv, []*server.Server) {
	t.Helper()
	servers := startCluster(t, 3)
	e := newEnv(t, simOpts)
	e.Cfg.NATS.URL = clusterURL(servers)
	e.Cfg.Input.Replicas, e.Cfg.Output.Replicas, e.Cfg.DeadLetter.Replicas = 3, 3, 3
	e.Cfg.Quota.Replicas, e.Cfg.Cache.Replicas = 3, 3
	nc, err := nats.Connect(e.Cfg.NATS.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	// The meta leader can know every peer a moment before JetStream
	// answers account requests through every node.
	waitFor(t, 20*time.Second, "JetStream answering through the client", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := e.js.AccountInfo(ctx)
		return err == nil
	})
	return e, servers
}

// TestClusterNodeLossMidRun: on a 3-node cluster with replicas = 3, two
// workers (started at the same moment, both applying the resources) work
// through 300 alerts; the node leading the input consumer is shut down
// mid-run. Every stream and bucket has 3 replicas, and every alert still
// gets exactly one output event.
func TestClusterNodeLossMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster with a node loss takes several seconds")
	}
	t.Parallel()
	const n = 300
	e, servers := newClusterEnv(t, sim.Options{Alerts: n, Latency: 20 * time.Millisecond})
	e.Cfg.Worker.Concurrency = 4
	e.Cfg.Input.AckWait = 2 * time.Second

	// Both workers apply the replicated resources at once (the DESIGN trap).
	start := time.Now()
	workers := make([]*runningWorker, 2)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); workers[i] = startRunningNoFatal(t, e, fmt.Sprintf("w%d", i+1)) }()
	}
	wg.Wait()
	t.Logf("cluster: two workers started (concurrent apply of R3 resources) in %s", time.Since(start).Round(time.Millisecond))
	for _, w := range workers {
		if w == nil {
			t.FailNow()
		}
	}
	assertReplicas(t, e, 3)

	seqs := e.publish(idBodies(e.Sim.AlertIDs(n))...)
	e.waitOutputs(n/3, 30*time.Second)
	before := e.streamCount(e.Cfg.Output.Stream)
	if before >= n {
		t.Fatalf("all %d alerts were done before the node loss: it did not land mid-run", before)
	}
	victim := consumerLeader(t, e, servers)
	down := time.Now()
	victim.Shutdown()
	victim.WaitForShutdown()
	t.Logf("cluster: shut down %s (input consumer leader) with %d of %d events stored", victim.Name(), before, n)

	outputs, dead := e.waitSettled(45 * time.Second)
	t.Logf("cluster: all settled %s after the node loss; %d redeliveries", time.Since(down).Round(time.Millisecond), e.redeliveries())
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	for _, w := range workers {
		w.assertRunning(t)
	}
}

// assertReplicas checks that every declared stream and bucket has r
// replicas on the server, and that the plan agrees.
func assertReplicas(t *testing.T, e *testEnv, r int) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{e.Cfg.Input.Stream, e.Cfg.Output.Stream, e.Cfg.DeadLetter.Stream, "KV_" + e.Cfg.Quota.Bucket, "KV_" + e.Cfg.Cache.Bucket} {
		// Just after a create, a replicated stream may still be electing
		// its leader: an info request then times out. Ask again.
		var s jetstream.Stream
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; {
			if s, err = e.js.Stream(ctx, name); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond) // polling pace, not synchronisation
		}
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		info := s.CachedInfo()
		if info.Config.Replicas != r {
			t.Errorf("stream %s has %d replicas, want %d", name, info.Config.Replicas, r)
		}
		if info.Cluster == nil || len(info.Cluster.Replicas)+1 != r {
			t.Errorf("stream %s cluster info %+v, want a leader and %d replicas", name, info.Cluster, r-1)
		}
	}
	for _, b := range []string{e.Cfg.Quota.Bucket, e.Cfg.Cache.Bucket} {
		kv, err := e.js.KeyValue(ctx, b)
		if err != nil {
			t.Errorf("bucket %s: %v", b, err)
			continue
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Errorf("bucket %s status: %v", b, err)
			continue
		}
		if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; got != r {
			t.Errorf("bucket %s has %d replicas, want %d", b, got, r)
		}
	}
	assertClean(t, "cluster after the workers applied", mustPlan(t, e))
}

// consumerLeader is the server leading the input consumer.
func consumerLeader(t *testing.T, e *testEnv, servers []*server.Server) *server.Server {
	t.Helper()
	var leader *server.Server
	waitFor(t, 10*time.Second, "an input consumer leader", func() bool {
		for _, s := range servers {
			if s.JetStreamIsConsumerLeader(globalAccount, e.Cfg.Input.Stream, e.Cfg.Input.Consumer) {
				leader = s
				return true
			}
		}
		return false
	})
	return leader
}

// globalAccount is the account clients use on a server without accounts.
const globalAccount = "$G"

// TestClusterConcurrentApply: six processes applying the replicated (R3)
// resources at once on a fresh cluster all succeed, and the streams and
// buckets have 3 replicas. On nats-server 2.15 one of two simultaneous
// creates of the same replicated stream can lose its reply; Apply's short
// first attempt and retry absorb it.
func TestClusterConcurrentApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	t.Parallel()
	e, _ := newClusterEnv(t, sim.Options{Alerts: 1})
	concurrentApply(t, e, 6)
	assertReplicas(t, e, 3)
}
