package schemas

import (
	"bytes"
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

// reflectMarshal is how Marshal encoded events before it was written by
// hand: encoding/json with HTML escaping off. Marshal must match it byte
// for byte.
func reflectMarshal(e EnrichedAlert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// FuzzMarshalMatchesEncodingJSON: for any strings and any valid JSON alert
// and user (pretty-printed or not), Marshal writes exactly what
// encoding/json writes.
func FuzzMarshalMatchesEncodingJSON(f *testing.F) {
	f.Add("a1", "host-1", `{"id":"a1","x":"<&>"}`, `{"id":"contoso\\user1","n":1.5e3}`, 1)
	f.Add("da6_1", "h\u2028\x01\"\\é\xff", "{\n  \"id\" : \"a 1\",\t\"y\": [1, 2, {\"z\": null}]\n}", "null", 0)
	f.Add("", "", " \"s\\\" \\\\ x\" ", "  [ ]  ", -3)
	f.Add("x\b\f\n\r\t", "\u2029\x7f", `{"a":"\u00e9\ud83d\ude00 \\\" "}`, `true`, 7)
	f.Fuzz(func(t *testing.T, id, worker, alert, user string, attempts int) {
		if !json.Valid([]byte(alert)) || !json.Valid([]byte(user)) {
			t.Skip()
		}
		e := EnrichedAlert{AlertID: id, Alert: json.RawMessage(alert), User: json.RawMessage(user),
			Enrichment: Enrichment{Status: Status(worker), Source: SourceCache, Attempts: attempts, EnrichedAt: id, Worker: worker}}
		want, err := reflectMarshal(e)
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Marshal differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}
