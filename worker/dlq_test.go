package worker

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich/sim"
)

// TestListDeadLettersSkipsReplayedOnes: the dead letters left after many
// were replayed (deleted) are listed in order, in about one request each,
// not one per sequence ever used; replaying them all empties the stream.
func TestListDeadLettersSkipsReplayedOnes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	ctx := context.Background()
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 1; i <= n; i++ {
		m := nats.NewMsg(e.Cfg.DeadLetter.Subject)
		m.Data = []byte("alert-" + strconv.Itoa(i))
		m.Header.Set(HeaderErrorClass, ClassInvalidInput)
		m.Header.Set(HeaderSourceSubject, e.Cfg.Input.Subjects[0])
		if _, err := e.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	s, err := e.js.Stream(ctx, e.Cfg.DeadLetter.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if seq == 151 || seq == n {
			continue
		}
		if err := s.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}

	before := apiRequests(t, e.js)
	list, err := ListDeadLetters(ctx, e.js, e.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	used := apiRequests(t, e.js) - before - 1 // less the second account info
	if len(list) != 2 || list[0].Sequence != 151 || list[1].Sequence != n || list[0].Preview != "alert-151" {
		t.Fatalf("listed %+v, want sequences 151 and %d", list, n)
	}
	if used > 6 {
		t.Errorf("listing 2 dead letters among %d sequences took %d API requests, want a few", n, used)
	}

	done, err := Replay(ctx, e.js, e.Cfg, nil)
	if err != nil || len(done) != 2 {
		t.Fatalf("Replay = %d replayed, %v; want 2", len(done), err)
	}
	if left, err := ListDeadLetters(ctx, e.js, e.Cfg); err != nil || len(left) != 0 {
		t.Errorf("after replaying all: %d left, %v", len(left), err)
	}
	if _, err := Replay(ctx, e.js, e.Cfg, []uint64{151}); err == nil {
		t.Error("replaying a dead letter already replayed did not fail")
	}
}

// apiRequests is the account's JetStream API request count (this request
// included).
func apiRequests(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	info, err := js.AccountInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.API.Total
}
