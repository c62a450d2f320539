package schemas

import (
	"encoding/json"
	"testing"
)

// FuzzParseInput checks that parsing never panics and that whatever it
// accepts obeys the ID rule and yields a JSON object carrying that ID.
func FuzzParseInput(f *testing.F) {
	for _, b := range badInputs() {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte("636688558380765161_2136280442"))
	f.Add([]byte(`{"id":"da637472900382838869_1364969609","lastUpdateTime":"2026-11-30T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := ParseInput(body)
		if err != nil {
			return
		}
		if !ValidAlertID(in.ID) {
			t.Fatalf("accepted invalid id %q", in.ID)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(in.Alert, &obj); err != nil {
			t.Fatalf("alert is not a JSON object: %v", err)
		}
		var id string
		if err := json.Unmarshal(obj["id"], &id); err != nil || id != in.ID {
			t.Fatalf("alert id = %q (%v), want %q", id, err, in.ID)
		}
	})
}

// FuzzAlertID checks the ID rule against its definition.
func FuzzAlertID(f *testing.F) {
	for _, s := range []string{"a", "../x", "a/b", "%2e%2e", "?", "#", "da119bb773-4f15-4264-b679-ae9e2ad31aaf_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := len(id) >= 1 && len(id) <= 128
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				want = false
			}
		}
		if got := ValidAlertID(id); got != want {
			t.Fatalf("ValidAlertID(%q) = %v, want %v", id, got, want)
		}
	})
}
