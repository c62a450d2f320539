package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/enricher/enricher/enrich/sim"
)

// TestDeadLetterOfMaxPayloadInput: an input that fills max_payload cannot
// be stored whole with the dead-letter headers. It must still end as one
// dead letter (its body cut and marked), never loop forever.
func TestDeadLetterOfMaxPayloadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	e.startWorkers(1)
	body := bytes.Repeat([]byte("x"), int(e.nc.MaxPayload())-50)
	small := []byte("a/b")
	e.publish(body, small)
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 0 || len(dead) != 2 {
		t.Fatalf("got %d outputs and %d dead letters, want 0 and 2", len(outputs), len(dead))
	}
	for _, d := range dead {
		if c := d.Header.Get(HeaderErrorClass); c != ClassInvalidInput {
			t.Errorf("class %q, want invalid_input", c)
		}
		if len(d.Data) < 10 {
			if !bytes.Equal(d.Data, small) || d.Header.Get(HeaderBodyTruncated) != "" {
				t.Errorf("the small dead letter was changed: %q %v", d.Data, d.Header)
			}
			continue
		}
		if got := d.Header.Get(HeaderBodyTruncated); got != strconv.Itoa(len(body)) {
			t.Errorf("%s = %q, want %d", HeaderBodyTruncated, got, len(body))
		}
		sum := sha256.Sum256(body)
		if got := d.Header.Get(HeaderBodySHA256); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s = %q, want the digest of the original body", HeaderBodySHA256, got)
		}
		if !bytes.HasPrefix(body, d.Data) || len(d.Data) == 0 {
			t.Errorf("stored body (%d bytes) is not a prefix of the input", len(d.Data))
		}
	}
	ctxInfo, err := e.js.Consumer(t.Context(), e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ctxInfo.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Delivered.Consumer != info.Delivered.Stream {
		t.Errorf("redeliveries happened: %d deliveries for %d messages", info.Delivered.Consumer, info.Delivered.Stream)
	}
}

// TestStreamMaxMsgSize: streams set up by hand may have a max_msg_size
// below max_payload. An output over the output stream's is a dead letter
// (invalid_input) instead of a publish retried for ever, and a dead letter
// over the dead-letter stream's is cut to fit it, like one over
// max_payload; the other messages flow as before.
func TestStreamMaxMsgSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 3})
	e.startWorkers(1)
	limit := func(stream string, max int32) {
		s, err := e.js.Stream(t.Context(), stream)
		if err != nil {
			t.Fatal(err)
		}
		c := s.CachedInfo().Config
		c.MaxMsgSize = max
		if _, err := e.js.UpdateStream(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	limit(e.Cfg.Output.Stream, 4096)
	limit(e.Cfg.DeadLetter.Stream, 8192)

	ids := e.Sim.AlertIDs(3)
	bigOutput := []byte(`{"id":"` + ids[0] + `","note":"` + strings.Repeat("n", 5000) + `"}`)
	bigDead := []byte(`{"id":"` + strings.Repeat("x", 9000) + `"}`) // not a valid ID
	e.publish(bigOutput, bigDead, []byte(ids[1]), []byte(ids[2]))
	outputs, dead := e.waitSettled(30 * time.Second)

	if len(outputs) != 2 || len(dead) != 2 {
		t.Fatalf("got %d outputs and %d dead letters, want 2 and 2", len(outputs), len(dead))
	}
	for _, o := range outputs {
		if id := o.Header.Get(HeaderAlertID); id != ids[1] && id != ids[2] {
			t.Errorf("output for %q, want only the two small alerts", id)
		}
	}
	for _, d := range dead {
		if c := d.Header.Get(HeaderErrorClass); c != ClassInvalidInput {
			t.Errorf("class %q, want invalid_input", c)
		}
		switch d.Header.Get(HeaderSourceSequence) {
		case "1":
			if reason := d.Header.Get(HeaderError); !strings.Contains(reason, "max_msg_size of the output stream") {
				t.Errorf("reason %q does not name the output stream's max_msg_size", reason)
			}
			if !bytes.Equal(d.Data, bigOutput) {
				t.Error("the input of the oversized output is not stored whole")
			}
		case "2":
			if got := d.Header.Get(HeaderBodyTruncated); got != strconv.Itoa(len(bigDead)) {
				t.Errorf("%s = %q, want %d", HeaderBodyTruncated, got, len(bigDead))
			}
			if !bytes.HasPrefix(bigDead, d.Data) || len(d.Data) == 0 || len(d.Data) >= len(bigDead) {
				t.Errorf("stored body (%d bytes) is not a cut prefix of the input", len(d.Data))
			}
		default:
			t.Errorf("dead letter of sequence %q", d.Header.Get(HeaderSourceSequence))
		}
	}
}

// TestHopelessOutputCostsNoAPICall: an input so close to max_payload that
// its output event could not fit even without a user is an invalid_input
// dead letter decided before the API is asked: no quota is spent on it.
func TestHopelessOutputCostsNoAPICall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 2})
	e.startWorkers(1)
	ids := e.Sim.AlertIDs(2)
	head := `{"id":"` + ids[0] + `","pad":"`
	pad := int(e.nc.MaxPayload()) - len(head) - len(`"}`) - 100
	big := []byte(head + strings.Repeat("p", pad) + `"}`)
	e.publish(big, []byte(ids[1]))
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 1 || len(dead) != 1 {
		t.Fatalf("got %d outputs and %d dead letters, want 1 and 1", len(outputs), len(dead))
	}
	if c, reason := dead[0].Header.Get(HeaderErrorClass), dead[0].Header.Get(HeaderError); c != ClassInvalidInput || !strings.Contains(reason, "max_payload") {
		t.Errorf("dead letter %q %q, want invalid_input about max_payload", c, reason)
	}
	if id := dead[0].Header.Get(HeaderAlertID); id != ids[0] {
		t.Errorf("dead letter for %q, want %q", id, ids[0])
	}
	for _, r := range e.Sim.Requests() {
		if r.AlertID == ids[0] {
			t.Errorf("the API was called for the hopeless alert: %+v", r)
		}
	}
	if n := len(e.Sim.Requests()); n != 1 {
		t.Errorf("%d API calls, want 1 (the small alert)", n)
	}
}

// TestFitDeadLetterTwice: a dead letter cut for max_payload and then
// again for the dead-letter stream's max_msg_size still names the size
// and digest of the original body.
func TestFitDeadLetterTwice(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("b"), 5000)
	m := nats.NewMsg("alerts.dlq")
	m.Data = body
	m.Header.Set(HeaderErrorClass, ClassInvalidInput)
	if !fitDeadLetter(m, "DLQ", 4000) || !fitDeadLetter(m, "DLQ", 2000) {
		t.Fatal("a body over both limits was not cut")
	}
	if wireSize(m, "DLQ") > 2000 || len(m.Data) == 0 || !bytes.HasPrefix(body, m.Data) {
		t.Errorf("after the second cut: %d bytes on the wire, body %d bytes", wireSize(m, "DLQ"), len(m.Data))
	}
	sum := sha256.Sum256(body)
	if got := m.Header.Get(HeaderBodyTruncated); got != "5000" {
		t.Errorf("%s = %q, want the original 5000", HeaderBodyTruncated, got)
	}
	if got := m.Header.Get(HeaderBodySHA256); got != hex.EncodeToString(sum[:]) {
		t.Errorf("%s = %q, want the original body's digest", HeaderBodySHA256, got)
	}
}
