package worker

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// TestMsgLogFieldsAndLaziness: a message's logger carries subject,
// stream_seq, delivery and, once parsed, alert_id; it is built once and
// again only when the alert_id changes; the handler and the confirm loop
// may ask for it at the same time.
func TestMsgLogFieldsAndLaziness(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := zerolog.New(&buf)
	m := msgLog{base: &base, subject: "alerts.new", seq: 7, dlv: 2}

	if m.built.Load() != nil {
		t.Fatal("logger built before anything asked for it")
	}
	m.get().Info().Msg("before parse")
	first := m.get()
	if m.get() != first {
		t.Error("logger built twice")
	}
	m.parsedID("a-1")
	if m.built.Load() != nil {
		t.Error("parsedID kept the logger without alert_id")
	}
	var wg sync.WaitGroup
	got := make([]*zerolog.Logger, 8)
	for i := range got {
		wg.Go(func() { got[i] = m.get() })
	}
	wg.Wait()
	for _, l := range got[1:] {
		if l != got[0] {
			t.Fatal("concurrent callers got different loggers")
		}
	}
	got[0].Info().Msg("after parse")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %s", len(lines), buf.String())
	}
	var before, after map[string]any
	if err := json.Unmarshal(lines[0], &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &after); err != nil {
		t.Fatal(err)
	}
	for _, l := range []map[string]any{before, after} {
		if l["subject"] != "alerts.new" || l["stream_seq"] != float64(7) || l["delivery"] != float64(2) {
			t.Errorf("line %v lacks the message's fields", l)
		}
	}
	if _, ok := before["alert_id"]; ok {
		t.Errorf("line before the parse has an alert_id: %v", before)
	}
	if after["alert_id"] != "a-1" {
		t.Errorf("alert_id = %v, want a-1", after["alert_id"])
	}
}

func TestDebugOn(t *testing.T) {
	t.Parallel()
	info := zerolog.New(nil).Level(zerolog.InfoLevel)
	debug := zerolog.New(nil).Level(zerolog.DebugLevel)
	if debugOn(&info) {
		t.Error("debugOn is true at info level")
	}
	if !debugOn(&debug) {
		t.Error("debugOn is false at debug level")
	}
}
