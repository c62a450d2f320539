package worker

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/enricher/enricher/enrich/sim"
)

// logLines parses a captured JSON log, failing on a line that is not one
// JSON object.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range splitLines(log) {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not one JSON object: %v\n%s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// aboutAMessage tells the lines about one message: those of the walk
// (they carry stream_seq) and the Defender client's per-attempt lines.
func aboutAMessage(l map[string]any) bool {
	_, seq := l["stream_seq"]
	return seq || l["message"] == "defender api attempt"
}

// TestEveryMessageLineCarriesAlertID: in the JSON log of a run with
// failures (503, 429, 401, 403, bad input, expired, cache hits), every
// line about a message carries alert_id: the message's ID, or "" for an
// input without a valid one. There is one line per dead letter, with its
// class and reason.
func TestEveryMessageLineCarriesAlertID(t *testing.T) {
	t.Parallel()
	c := runComposition(t)
	lines := logLines(t, c.log.String())
	bySeq := map[float64]string{} // stream_seq -> alert ID of the input
	for _, m := range append(c.outputs, c.deadLetters...) {
		seq := m.Header.Get(HeaderSourceSequence)
		if seq == "" { // an output: recover the sequence from Nats-Msg-Id enr-<stream>-<seq>
			seq = m.Header.Get("Nats-Msg-Id")[strings.LastIndex(m.Header.Get("Nats-Msg-Id"), "-")+1:]
		}
		var n float64
		if err := json.Unmarshal([]byte(seq), &n); err != nil {
			t.Fatalf("sequence %q: %v", seq, err)
		}
		bySeq[n] = m.Header.Get(HeaderAlertID)
	}
	perMessage, deadLines, invalid := 0, 0, 0
	for _, l := range lines {
		if !aboutAMessage(l) {
			continue
		}
		perMessage++
		id, ok := l["alert_id"].(string)
		if !ok {
			t.Errorf("line about a message without alert_id: %v", l)
			continue
		}
		if seq, ok := l["stream_seq"].(float64); ok {
			if want, known := bySeq[seq]; known && want != id {
				t.Errorf("line about stream_seq %v has alert_id %q, want %q: %v", seq, id, want, l)
			}
		}
		if id == "" {
			invalid++
		}
		if l["message"] == "dead letter" {
			deadLines++
			if l["class"] == nil || l["reason"] == nil || l["level"] != "warn" {
				t.Errorf("dead-letter line without class, reason or warn level: %v", l)
			}
		}
	}
	if want := len(c.outputs) + len(c.deadLetters); perMessage < want {
		t.Errorf("%d lines about messages, want at least one per message (%d)", perMessage, want)
	}
	if deadLines != len(c.deadLetters) {
		t.Errorf("%d dead-letter lines, want one per dead letter (%d)", deadLines, len(c.deadLetters))
	}
	if invalid < c.bad {
		t.Errorf("%d lines with alert_id \"\", want at least one per bad input (%d)", invalid, c.bad)
	}
}

// TestNoSecretOrTokenInLogs: the client secret and every access token the
// worker used appear in no log line, no dead-letter reason and no output.
func TestNoSecretOrTokenInLogs(t *testing.T) {
	t.Parallel()
	c := runComposition(t)
	tokens := c.o.tokens.all()
	if len(tokens) < 2 {
		t.Fatalf("%d tokens used, want at least 2 (the run revokes them once)", len(tokens))
	}
	secrets := append([]string{c.e.Cfg.Defender.ClientSecret}, tokens...)
	var stored bytes.Buffer
	for _, m := range append(c.outputs, c.deadLetters...) {
		stored.Write(m.Data)
		for k, vs := range m.Header {
			stored.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	log := c.log.String()
	for i, s := range secrets {
		what := "the client secret"
		if i > 0 {
			what = "an access token"
		}
		if strings.Contains(log, s) {
			t.Errorf("the log shows %s", what)
		}
		if strings.Contains(stored.String(), s) {
			t.Errorf("an output or dead letter shows %s", what)
		}
	}
}

// TestOutageLinesAreSampled: during an API outage every message is
// retried again and again; the "will retry" lines are sampled (a burst,
// then one in outageEvery) so the log stays readable, each sampled line
// still carrying alert_id; once the API is back every message gets its
// outcome.
func TestOutageLinesAreSampled(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	e := newEnv(t, sim.Options{Alerts: 50, Fault: func(string, int) *sim.Fault {
		if down.Load() {
			return &sim.Fault{Status: http.StatusServiceUnavailable}
		}
		return nil
	}})
	e.Cfg.Retry.Attempts = 1
	e.Cfg.Input.MaxDeliver = 100000
	log := &syncBuffer{}
	o, _ := opsStart(t, e, zerolog.New(log), true)
	ids := e.Sim.AlertIDs(20)
	start := time.Now()
	for _, id := range ids {
		e.publish([]byte(id))
	}
	const wantRetries = 400
	waitFor(t, 60*time.Second, "many retries during the outage", func() bool {
		return o.scrape(t).value("enricher_message_retries_total") >= wantRetries
	})
	down.Store(false)
	outputs, dead := e.waitSettled(60 * time.Second)
	elapsed := time.Since(start)
	if len(outputs) != len(ids) || len(dead) != 0 {
		t.Fatalf("%d outputs and %d dead letters after the outage, want %d and 0", len(outputs), len(dead), len(ids))
	}
	retries := o.scrape(t).value("enricher_message_retries_total")
	lines := 0
	for _, l := range logLines(t, log.String()) {
		if l["message"] != "will retry" {
			continue
		}
		lines++
		if id, _ := l["alert_id"].(string); id == "" || l["sampled"] != true {
			t.Errorf("sampled retry line without alert_id or sampled=true: %v", l)
		}
	}
	periods := int(elapsed/outagePeriod) + 1
	most := outageBurst*periods + (int(retries)+outageEvery-1)/outageEvery
	t.Logf("%v retries in %s, %d 'will retry' lines (at most %d allowed)", retries, elapsed.Round(time.Millisecond), lines, most)
	if lines == 0 || lines > most {
		t.Errorf("%d 'will retry' lines for %v retries, want 1 to %d", lines, retries, most)
	}
}

// TestNewLogger: JSON lines by default, console text on request, the
// level honoured, an unknown level taken as info.
func TestNewLogger(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLogger("warn", "json", &b)
	l.Info().Msg("hidden")
	l.Warn().Str("alert_id", "a1").Msg("shown")
	lines := logLines(t, b.String())
	if len(lines) != 1 || lines[0]["message"] != "shown" || lines[0]["level"] != "warn" || lines[0]["alert_id"] != "a1" || lines[0]["time"] == nil {
		t.Errorf("json at warn: got %v, want one warn line with time and alert_id", lines)
	}

	b.Reset()
	l = NewLogger("", "", &b)
	l.Debug().Msg("debug hidden")
	l.Info().Msg("info shown")
	if lines := logLines(t, b.String()); len(lines) != 1 || lines[0]["message"] != "info shown" {
		t.Errorf("defaults: got %v, want JSON at info", lines)
	}

	b.Reset()
	l = NewLogger("debug", "console", &b)
	l.Debug().Str("alert_id", "a2").Msg("for people")
	out := b.String()
	if json.Valid(bytes.TrimSpace(b.Bytes())) || !strings.Contains(out, "for people") || !strings.Contains(out, "a2") {
		t.Errorf("console at debug: got %q, want a text line with the message and alert_id", out)
	}
}
