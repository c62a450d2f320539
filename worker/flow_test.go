package worker

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
	"github.com/enricher/enricher/schemas"
)

// TestFiftyAlertsOneEventEach is the foundation's acceptance test: 50
// alerts of every kind give exactly 50 events with the right statuses,
// users, headers and carried fields, each valid against the schema.
func TestFiftyAlertsOneEventEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 200})
	e.startWorkers(2)

	type want struct {
		status schemas.Status
		source schemas.Source
		extra  map[string]any
	}
	wants := map[string]want{}
	var bodies [][]byte
	ids := e.Sim.AlertIDs(45)
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for i, id := range ids {
		status := schemas.StatusNotFound
		if e.Sim.HasUser(id) {
			status = schemas.StatusEnriched
		}
		w := want{status: status, source: schemas.SourceAPI}
		switch i % 5 {
		case 0: // bare ID with white space
			bodies = append(bodies, []byte("  "+id+"\n"))
		case 1: // JSON with extra fields
			w.extra = map[string]any{"id": id, "title": "Suspicious <script>", "severity": "High", "n": 3.5, "nested": map[string]any{"a": []any{1.0, "b"}}}
			b, _ := json.Marshal(w.extra)
			bodies = append(bodies, b)
		case 2: // JSON with an old lastUpdateTime: expired, no API call
			w = want{status: schemas.StatusExpired, source: schemas.SourceNone, extra: map[string]any{"id": id, "lastUpdateTime": old}}
			b, _ := json.Marshal(w.extra)
			bodies = append(bodies, b)
		case 3: // JSON with a recent lastUpdateTime
			w.extra = map[string]any{"id": id, "lastUpdateTime": time.Now().UTC().Format(time.RFC3339)}
			b, _ := json.Marshal(w.extra)
			bodies = append(bodies, b)
		default:
			bodies = append(bodies, []byte(id))
		}
		wants[id] = w
	}
	for i := 0; i < 5; i++ { // unknown to the API: not_found
		id := fmt.Sprintf("da000000000000000000_%010d", i)
		wants[id] = want{status: schemas.StatusNotFound, source: schemas.SourceAPI}
		bodies = append(bodies, []byte(id))
	}
	seqs := e.publish(bodies...)

	outputs, dead := e.waitSettled(60 * time.Second)
	if len(dead) != 0 {
		t.Fatalf("got %d dead letters, want 0; first: %s %q", len(dead), dead[0].Header.Get(HeaderError), dead[0].Data)
	}
	if len(outputs) != 50 {
		t.Fatalf("got %d output events, want 50", len(outputs))
	}
	schema, err := schemas.Compile(schemas.EnrichedAlertV1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	seqOf := map[string]uint64{}
	for i, b := range bodies {
		in, _ := schemas.ParseInput(b)
		seqOf[in.ID] = seqs[i]
	}
	for _, m := range outputs {
		if err := schemas.ValidateJSON(schema, m.Data); err != nil {
			t.Errorf("event %s invalid against the schema: %v", m.Data, err)
		}
		var ev struct {
			AlertID    string         `json:"alertId"`
			Alert      map[string]any `json:"alert"`
			User       map[string]any `json:"user"`
			Enrichment struct {
				Status   schemas.Status `json:"status"`
				Source   schemas.Source `json:"source"`
				Attempts int            `json:"attempts"`
				Worker   string         `json:"worker"`
			} `json:"enrichment"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("unparsable event %s: %v", m.Data, err)
		}
		w, ok := wants[ev.AlertID]
		if !ok || seen[ev.AlertID] {
			t.Errorf("unexpected or repeated event for %q", ev.AlertID)
			continue
		}
		seen[ev.AlertID] = true
		if ev.Enrichment.Status != w.status || ev.Enrichment.Source != w.source {
			t.Errorf("%s: status/source = %s/%s, want %s/%s", ev.AlertID, ev.Enrichment.Status, ev.Enrichment.Source, w.status, w.source)
		}
		if w.source == schemas.SourceAPI && ev.Enrichment.Attempts != 1 {
			t.Errorf("%s: attempts = %d, want 1", ev.AlertID, ev.Enrichment.Attempts)
		}
		if w.extra != nil && !reflect.DeepEqual(ev.Alert, w.extra) {
			t.Errorf("%s: alert = %v, want the input object %v", ev.AlertID, ev.Alert, w.extra)
		}
		if w.extra == nil && !reflect.DeepEqual(ev.Alert, map[string]any{"id": ev.AlertID}) {
			t.Errorf("%s: alert = %v, want {id}", ev.AlertID, ev.Alert)
		}
		if w.status == schemas.StatusEnriched {
			wantUser := e.Sim.User(ev.AlertID)
			delete(wantUser, "@odata.context")
			gotJSON, _ := json.Marshal(ev.User)
			wantJSON, _ := json.Marshal(wantUser)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("%s: user = %s, want %s", ev.AlertID, gotJSON, wantJSON)
			}
		} else if ev.User != nil {
			t.Errorf("%s: user = %v, want null", ev.AlertID, ev.User)
		}
		if got, want := m.Header.Get("Nats-Msg-Id"), fmt.Sprintf("enr-%s-%d", e.Cfg.Input.Stream, seqOf[ev.AlertID]); got != want {
			t.Errorf("%s: Nats-Msg-Id = %q, want %q", ev.AlertID, got, want)
		}
		if got := m.Header.Get(HeaderAlertID); got != ev.AlertID {
			t.Errorf("%s: %s = %q", ev.AlertID, HeaderAlertID, got)
		}
		if got := m.Header.Get(HeaderStatus); got != string(w.status) {
			t.Errorf("%s: %s = %q, want %q", ev.AlertID, HeaderStatus, got, w.status)
		}
		if !strings.Contains(ev.Enrichment.Worker, "-") {
			t.Errorf("%s: worker = %q, want host-pid", ev.AlertID, ev.Enrichment.Worker)
		}
	}
	// Expired alerts made no call; every other alert exactly one.
	wantCalls := 0
	for _, w := range wants {
		if w.source == schemas.SourceAPI {
			wantCalls++
		}
	}
	if got := e.Sim.Stats().Requests; got != wantCalls {
		t.Errorf("simulator saw %d API requests, want %d", got, wantCalls)
	}
	if strings.Contains(e.log.String(), e.Cfg.Defender.ClientSecret) {
		t.Error("the client secret appears in the log")
	}
}
