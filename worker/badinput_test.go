package worker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// badBodies is the corpus of invalid inputs: each must become exactly one
// invalid_input dead letter, with no API call.
func badBodies() map[string][]byte {
	nested := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	return map[string][]byte{
		"empty":                   {},
		"spaces only":             []byte(" \t\r\n "),
		"path traversal":          []byte("../x"),
		"slash":                   []byte("a/b"),
		"percent-encoded dots":    []byte("%2e%2e"),
		"question mark":           []byte("abc?def"),
		"hash":                    []byte("abc#def"),
		"129 characters":          []byte(strings.Repeat("a", 129)),
		"nul byte":                []byte("abc\x00def"),
		"invalid utf-8":           []byte("da637\xff\xfe"),
		"json numeric id":         []byte(`{"id": 636688558380765161}`),
		"json empty id":           []byte(`{"id": ""}`),
		"json missing id":         []byte(`{"title": "no id here"}`),
		"json null id":            []byte(`{"id": null}`),
		"json id with slash":      []byte(`{"id": "a/../b"}`),
		"json array":              []byte(`["636688558380765161_2136280442"]`),
		"json string":             []byte(`"636688558380765161_2136280442"`),
		"deeply nested json":      []byte(`{"id":"abc","x":` + nested + `}`),
		"json with trailing data": []byte(`{"id":"abc"}{"id":"def"}`),
		"truncated json":          []byte(`{"id":"abc"`),
		"json invalid utf-8":      []byte("{\"id\":\"abc\",\"t\":\"\xc3\x28\"}"),
		"over-size body":          bytes.Repeat([]byte("a"), schemas.MaxBodySize+1),
	}
}

// TestBadInputsBecomeDeadLetters interleaves the bad corpus with good
// alerts: each bad input is one invalid_input dead letter with its body
// intact, no HTTP request is made for any, and the good ones are enriched.
func TestBadInputsBecomeDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 100}, func(o *server.Options) { o.MaxPayload = 4 << 20 })
	e.startWorkers(2)
	good := e.Sim.AlertIDs(30)
	bad := badBodies()
	if len(bad) < 20 {
		t.Fatalf("corpus has %d bad inputs, want at least 20", len(bad))
	}
	var bodies [][]byte
	kind := map[string]string{} // body -> corpus name
	i := 0
	for name, b := range bad {
		bodies = append(bodies, []byte(good[i]), b)
		kind[string(b)] = name
		i++
	}
	for ; i < len(good); i++ {
		bodies = append(bodies, []byte(good[i]))
	}
	seqs := e.publish(bodies...)
	outputs, dead := e.waitSettled(60 * time.Second)

	if len(outputs) != len(good) {
		t.Errorf("got %d output events, want %d", len(outputs), len(good))
	}
	if len(dead) != len(bad) {
		t.Fatalf("got %d dead letters, want %d", len(dead), len(bad))
	}
	seqOfBody := map[string]uint64{}
	for i, b := range bodies {
		seqOfBody[string(b)] = seqs[i]
	}
	for _, d := range dead {
		name, ok := kind[string(d.Data)]
		if !ok {
			t.Errorf("dead letter body (%d bytes) is not one of the bad inputs byte for byte", len(d.Data))
			continue
		}
		delete(kind, string(d.Data))
		if c := d.Header.Get(HeaderErrorClass); c != ClassInvalidInput {
			t.Errorf("%s: class %q, want invalid_input", name, c)
		}
		if r := d.Header.Get(HeaderError); r == "" || strings.ContainsAny(r, "\r\n") {
			t.Errorf("%s: reason %q is not one non-empty line", name, r)
		}
		seq := seqOfBody[string(d.Data)]
		if got, want := d.Header.Get("Nats-Msg-Id"), fmt.Sprintf("dlq-%s-%d", e.Cfg.Input.Stream, seq); got != want {
			t.Errorf("%s: Nats-Msg-Id %q, want %q", name, got, want)
		}
		for h, want := range map[string]string{
			HeaderSourceSubject: e.Cfg.Input.Subjects[0], HeaderSourceStream: e.Cfg.Input.Stream,
			HeaderSourceSequence: fmt.Sprint(seq), HeaderDeliveries: "1",
		} {
			if got := d.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", name, h, got, want)
			}
		}
	}
	for b, name := range kind {
		t.Errorf("no dead letter for %s (%d bytes)", name, len(b))
	}
	for _, r := range e.Sim.Requests() {
		if !schemas.ValidAlertID(r.AlertID) {
			t.Errorf("the API was called for a bad id %q", r.AlertID)
		}
	}
	if got := e.Sim.Stats().Requests; got != len(good) {
		t.Errorf("simulator saw %d API requests, want %d (one per good alert)", got, len(good))
	}
}

// TestOutputTooLargeIsDeadLettered: an input that fits max_payload but
// whose enriched output would not becomes an invalid_input dead letter.
func TestOutputTooLargeIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 10})
	e.startWorkers(1)
	var id string
	for _, a := range e.Sim.AlertIDs(10) {
		if e.Sim.HasUser(a) {
			id = a
			break
		}
	}
	max := int(e.nc.MaxPayload())
	prefix := fmt.Sprintf(`{"id":%q,"pad":"`, id)
	body := []byte(prefix + strings.Repeat("x", max-500-len(prefix)) + `"}`)
	e.publish(body)
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 0 || len(dead) != 1 {
		t.Fatalf("got %d outputs and %d dead letters, want 0 and 1", len(outputs), len(dead))
	}
	if c := dead[0].Header.Get(HeaderErrorClass); c != ClassInvalidInput {
		t.Errorf("class %q, want invalid_input", c)
	}
	if !bytes.Equal(dead[0].Data, body) {
		t.Error("dead letter body differs from the input")
	}
	if r := dead[0].Header.Get(HeaderError); !strings.Contains(r, "max_payload") {
		t.Errorf("reason %q does not mention max_payload", r)
	}
}
