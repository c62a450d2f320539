package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// TestOutputStreamOutageNothingAcked: with the output stream gone, the
// asynchronous publishes of the output events fail; no input is
// acknowledged without its event, and none is redelivered while the
// worker holds it (its heartbeat goes on in the confirm loop: with an
// ack_wait of 1 s and max_deliver 2, a redelivered message would be a
// dead letter within 5 s); once the stream is back every input gets
// exactly one event and no dead letter.
func TestOutputStreamOutageNothingAcked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 20})
	e.Cfg.Input.AckWait = time.Second
	e.Cfg.Input.MaxDeliver = 2
	e.startWorkers(1)
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, e.Cfg.Output.Stream); err != nil {
		t.Fatal(err)
	}
	ids := e.Sim.AlertIDs(12)
	seqs := e.publish(idBodies(ids)...)

	waitFor(t, 30*time.Second, "every alert asked of the API", func() bool { return e.Sim.Stats().Requests >= len(ids) })
	waitFor(t, 30*time.Second, "the failed publishes logged", func() bool {
		return strings.Contains(e.log.String(), "publish failed; retrying")
	})
	c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	// The outage lasts 6 ack waits: a window to observe, not a wait for a
	// condition (a redelivery is the event that must not happen).
	time.Sleep(6 * e.Cfg.Input.AckWait)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.AckFloor.Stream != 0 || info.NumAckPending != len(ids) {
		t.Fatalf("output stream gone: ack floor %d, %d pending acks; want 0 and %d (nothing acknowledged without its event)",
			info.AckFloor.Stream, info.NumAckPending, len(ids))
	}
	if info.NumRedelivered != 0 {
		t.Errorf("%d messages redelivered while the worker held them, want 0", info.NumRedelivered)
	}

	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	outputs, dead := e.waitSettled(60 * time.Second)
	assertOnePerInput(t, e.Cfg.Input.Stream, seqs, outputs, dead)
	if len(dead) != 0 {
		t.Errorf("%d dead letters, want 0", len(dead))
	}
}
