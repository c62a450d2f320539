package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEnrichedValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	s, err := Compile(EnrichedAlertV1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	in, err := ParseInput([]byte(`{"id":"a1","severity":"High","x":"<&>"}`))
	if err != nil {
		t.Fatal(err)
	}
	user := json.RawMessage(`{"id":"contoso\\user1","accountName":"user1"}`)
	good := []EnrichedAlert{
		NewEnriched(in, StatusEnriched, user, SourceAPI, 1, at, "host-1"),
		NewEnriched(in, StatusEnriched, user, SourceCache, 0, at, "host-1"),
		NewEnriched(in, StatusNotFound, nil, SourceAPI, 2, at, "host-1"),
		NewEnriched(in, StatusExpired, user, SourceNone, 0, at, "host-1"),
	}
	for _, e := range good {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateJSON(s, b); err != nil {
			t.Errorf("valid event %s rejected: %v", b, err)
		}
		if !strings.Contains(string(b), `"x":"<&>"`) {
			t.Errorf("carried fields changed: %s", b)
		}
		if !strings.Contains(string(b), `"enrichedAt":"2026-12-04T15:00:00.000000Z"`) {
			t.Errorf("enrichedAt lacks fractional seconds: %s", b)
		}
	}
	bad := []string{
		`{"alertId":"a1","alert":{"id":"a1"},"user":null,"enrichment":{"status":"enriched","source":"api","attempts":1,"enrichedAt":"2026-12-04T15:00:00.1Z","worker":"w"}}`,
		`{"alertId":"a1","alert":{"id":"a1"},"user":{"id":"u"},"enrichment":{"status":"not_found","source":"api","attempts":1,"enrichedAt":"2026-12-04T15:00:00.1Z","worker":"w"}}`,
		`{"alertId":"a1","alert":{"id":"a1"},"user":{"id":"u","@odata.context":"x"},"enrichment":{"status":"enriched","source":"api","attempts":1,"enrichedAt":"2026-12-04T15:00:00.1Z","worker":"w"}}`,
		`{"alertId":"a1","alert":{"id":"a1"},"user":null,"enrichment":{"status":"expired","source":"api","attempts":0,"enrichedAt":"2026-12-04T15:00:00.1Z","worker":"w"}}`,
		`{"alertId":"a1","alert":{"id":"a1"},"user":null,"enrichment":{"status":"not_found","source":"cache","attempts":0,"enrichedAt":"2026-12-04T15:00:00Z","worker":"w"}}`,
	}
	for _, b := range bad {
		if err := ValidateJSON(s, []byte(b)); err == nil {
			t.Errorf("invalid event accepted: %s", b)
		}
	}
}

func TestSchemasCompile(t *testing.T) {
	t.Parallel()
	for _, name := range []string{InputAlertV1, EnrichedAlertV1, DeadLetterV1} {
		if _, err := Compile(name); err != nil {
			t.Errorf("Compile(%s): %v", name, err)
		}
	}
	s, err := Compile(InputAlertV1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateJSON(s, []byte(`{"id":"a_1","extra":true}`)); err != nil {
		t.Errorf("valid input rejected: %v", err)
	}
	if err := ValidateJSON(s, []byte(`{"id":"a/1"}`)); err == nil {
		t.Error("input with a bad id accepted")
	}
}
