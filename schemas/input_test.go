package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseInputValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantID    string
		wantAlert string
		wantTime  string
	}{
		{"bare", "636688558380765161_2136280442", "636688558380765161_2136280442", `{"id":"636688558380765161_2136280442"}`, ""},
		{"bare with spaces", " \n\tda637472900382838869_1364969609\r\n ", "da637472900382838869_1364969609", `{"id":"da637472900382838869_1364969609"}`, ""},
		{"uuid form", "da119bb773-4f15-4264-b679-ae9e2ad31aaf_1", "da119bb773-4f15-4264-b679-ae9e2ad31aaf_1", "", ""},
		{"json", `{"id":"a1","severity":"High"}`, "a1", `{"id":"a1","severity":"High"}`, ""},
		{"json with time", ` {"id":"a1","lastUpdateTime":"2026-11-30T10:00:00Z"} `, "a1", "", "2026-11-30T10:00:00Z"},
		{"json with fractional time", `{"id":"a1","lastUpdateTime":"2026-11-30T10:00:00.1234567Z"}`, "a1", "", "2026-11-30T10:00:00.1234567Z"},
		{"json bad time ignored", `{"id":"a1","lastUpdateTime":"yesterday"}`, "a1", "", ""},
		{"json numeric time ignored", `{"id":"a1","lastUpdateTime":12}`, "a1", "", ""},
		{"128 chars", strings.Repeat("a", 128), strings.Repeat("a", 128), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseInput([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseInput(%q) error: %v", tt.body, err)
			}
			if in.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", in.ID, tt.wantID)
			}
			if tt.wantAlert != "" && string(in.Alert) != tt.wantAlert {
				t.Errorf("Alert = %s, want %s", in.Alert, tt.wantAlert)
			}
			if !json.Valid(in.Alert) {
				t.Errorf("Alert is not valid JSON: %s", in.Alert)
			}
			var got string
			if !in.LastUpdate.IsZero() {
				got = in.LastUpdate.Format(time.RFC3339Nano)
			}
			if got != tt.wantTime {
				t.Errorf("LastUpdate = %q, want %q", got, tt.wantTime)
			}
		})
	}
}

// BadInputs is the corpus of invalid bodies shared with the fuzz seeds.
func badInputs() map[string][]byte {
	nested := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	return map[string][]byte{
		"empty":              {},
		"spaces only":        []byte("   \n\t "),
		"dot dot slash":      []byte("../x"),
		"slash":              []byte("a/b"),
		"percent encoded":    []byte("%2e%2e"),
		"question mark":      []byte("abc?x=1"),
		"hash":               []byte("abc#frag"),
		"129 chars":          []byte(strings.Repeat("a", 129)),
		"nul byte":           []byte("abc\x00def"),
		"invalid utf8":       []byte("abc\xff\xfe"),
		"inner space":        []byte("abc def"),
		"json numeric id":    []byte(`{"id":12345}`),
		"json empty id":      []byte(`{"id":""}`),
		"json missing id":    []byte(`{"alert":"x"}`),
		"json null id":       []byte(`{"id":null}`),
		"json bad id":        []byte(`{"id":"../etc/passwd"}`),
		"json array":         []byte(`["abc"]`),
		"json string":        []byte(`"abc"`),
		"json trailing":      []byte(`{"id":"abc"} {"id":"def"}`),
		"json truncated":     []byte(`{"id":"abc"`),
		"json invalid utf8":  []byte("{\"id\":\"abc\",\"x\":\"\xff\"}"),
		"deeply nested json": []byte(`{"id":"abc","x":` + nested + `}`),
		"over size":          []byte(strings.Repeat("a", MaxBodySize+1)),
		"json over size":     []byte(`{"id":"abc","pad":"` + strings.Repeat("x", MaxBodySize) + `"}`),
	}
}

func TestParseInputInvalid(t *testing.T) {
	t.Parallel()
	for name, body := range badInputs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseInput(body)
			if err == nil {
				t.Fatalf("ParseInput accepted %q as id %q", name, in.ID)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("error %v does not wrap ErrInvalidInput", err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error text is %d bytes long; it must not echo the body", len(err.Error()))
			}
		})
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	old := Input{ID: "a", LastUpdate: now.Add(-31 * 24 * time.Hour)}
	fresh := Input{ID: "a", LastUpdate: now.Add(-time.Hour)}
	unknown := Input{ID: "a"}
	if !old.Expired(now, 720*time.Hour) {
		t.Error("31-day-old alert not expired at max age 720h")
	}
	if fresh.Expired(now, 720*time.Hour) {
		t.Error("1-hour-old alert expired")
	}
	if unknown.Expired(now, 720*time.Hour) {
		t.Error("alert without lastUpdateTime expired")
	}
}

func TestAlertIDRule(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "A-z_0", strings.Repeat("9", 128), "da119bb773-4f15-4264-b679-ae9e2ad31aaf_1"} {
		if !ValidAlertID(id) || CheckAlertID(id) != nil {
			t.Errorf("ValidAlertID(%q) = false, want true", id)
		}
	}
	for _, id := range []string{"", strings.Repeat("9", 129), "a.b", "a b", "é", "a\x00", "a/b", "%2e", "a?b", "a#b", "a+b"} {
		if ValidAlertID(id) {
			t.Errorf("ValidAlertID(%q) = true, want false", id)
		}
		if err := CheckAlertID(id); !errors.Is(err, ErrInvalidAlertID) {
			t.Errorf("CheckAlertID(%q) = %v, want ErrInvalidAlertID", id, err)
		}
	}
}
