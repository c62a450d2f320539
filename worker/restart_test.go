package worker

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/enricher/enricher/enrich/sim"
)

// restartableNATS is a single JetStream server on a fixed port and store
// directory, so that it can be stopped and started again in place.
type restartableNATS struct {
	port     int
	storeDir string
}

func (r restartableNATS) options(o *server.Options) {
	o.Port = r.port
	o.StoreDir = r.storeDir
}

// start starts a new server on the same port and store directory.
func (r restartableNATS) start(t *testing.T) *server.Server {
	t.Helper()
	return startNATS(t, r.options)
}

// TestNATSRestartMidRun: the (file store) server is stopped and started
// again while two workers are working through 300 alerts. The workers
// report not ready during the outage and ready again after it, never stop
// by themselves, and every alert gets exactly one output event.
func TestNATSRestartMidRun(t *testing.T) {
	t.Parallel()
	const n = 300
	rn := restartableNATS{port: freePorts(t, 1)[0], storeDir: t.TempDir()}
	e := newEnv(t, sim.Options{Alerts: n, Latency: 40 * time.Millisecond}, rn.options)
	e.Cfg.Worker.Concurrency = 2
	e.Cfg.Input.AckWait = 2 * time.Second
	workers := []*runningWorker{startRunning(t, e, "w1"), startRunning(t, e, "w2")}
	seqs := e.publish(idBodies(e.Sim.AlertIDs(n))...)

	e.waitOutputs(60, 20*time.Second)
	before := e.streamCount(e.Cfg.Output.Stream)
	if before >= n {
		t.Fatalf("all %d alerts were done before the restart: it did not land mid-run", before)
	}
	down := time.Now()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	waitFor(t, 10*time.Second, "every worker not ready during the outage", func() bool {
		for _, w := range workers {
			if w.rt.Worker().Ready() {
				return false
			}
		}
		return true
	})
	t.Logf("restart: %d of %d events stored when the server stopped; workers not ready after %s",
		before, n, time.Since(down).Round(time.Millisecond))
	e.srv = rn.start(t)
	up := time.Now()
	waitFor(t, 20*time.Second, "every worker ready again after the restart", func() bool {
		for _, w := range workers {
			if !w.rt.Worker().Ready() {
				return false
			}
		}
		return true
	})
	t.Logf("restart: workers ready %s after the server came back", time.Since(up).Round(time.Millisecond))

	outputs, dead := e.waitSettled(45 * time.Second)
	t.Logf("restart: all settled %s after the server came back; %d redeliveries", time.Since(up).Round(time.Millisecond), e.redeliveries())
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	for _, w := range workers {
		w.assertRunning(t)
	}
}
