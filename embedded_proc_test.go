package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/enricher/enricher/enrich/sim"
)

// TestEmbeddedServerServesOtherWorkers: `enricher run` without nats.url
// starts an embedded server that clients and a second worker (nats.url
// pointing at it) use; the two share the consumer, every alert gets one
// event, and both exit 0 on SIGTERM (the second first, while the embedded
// server still runs). Both get work: the second is ready (its consumer
// bound) before the alerts are published, and each worker holds at most
// two of the 40 at a time, 50 ms each.
func TestEmbeddedServerServesOtherWorkers(t *testing.T) {
	t.Parallel()
	const n = 40
	s := startSim(t, sim.Options{Alerts: n, Latency: 50 * time.Millisecond})
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	host := workerConfig{Sim: s, Concurrency: 2,
		NATSExtra: fmt.Sprintf("  embedded {\n    listen    = \"127.0.0.1:%d\"\n    store_dir = %q\n  }\n", port, t.TempDir())}
	a := startProc(t, "worker with the embedded server", "run", "-config", host.write(t))

	var nc *nats.Conn
	waitFor(t, 30*time.Second, "the embedded server to accept clients", func() bool {
		c, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		nc = c
		return true
	})
	nc.Close()
	js := connectJS(t, url)
	waitFor(t, 30*time.Second, "the worker to declare its consumer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.Consumer(ctx, inputStream, inputConsumer)
		return err == nil
	})
	ops := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b := startProc(t, "worker on the embedded server", "run", "-config", workerConfig{NATSURL: url, Sim: s, Concurrency: 2, HTTPListen: ops}.write(t))
	waitFor(t, 30*time.Second, "the second worker to be ready (consumer bound)", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	ids := s.AlertIDs(n)
	for _, id := range ids {
		publishBodies(t, js, id)
	}
	waitSettled(t, js, 60*time.Second, a, b)

	events := readStream(t, js, outputStream)
	if len(events) != n {
		t.Fatalf("%d events for %d alerts", len(events), n)
	}
	seen := map[string]bool{}
	workers := map[string]int{}
	for _, m := range events {
		var e struct {
			AlertID    string `json:"alertId"`
			Enrichment struct {
				Worker string `json:"worker"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		if seen[e.AlertID] {
			t.Errorf("two events for %s", e.AlertID)
		}
		seen[e.AlertID] = true
		workers[e.Enrichment.Worker]++
	}
	if len(workers) != 2 {
		t.Errorf("events by worker %v, want both workers to share the consumer", workers)
	}

	for _, p := range []*proc{b, a} {
		p.signal(syscall.SIGTERM)
		if code, ok := p.wait(30 * time.Second); !ok || code != 0 {
			t.Errorf("%s after SIGTERM: exit %d (exited %v), want 0", p.name, code, ok)
		}
	}
}
