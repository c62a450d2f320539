package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// matchSeeds are bodies on which ParseInput and its former decoder
// version are compared: the bad inputs, the FuzzParseInput corpus, and the
// corners of the hand-written object walk.
func matchSeeds(t testing.TB) [][]byte {
	t.Helper()
	seeds := [][]byte{
		[]byte("636688558380765161_2136280442"),
		[]byte(`{"id":"da637472900382838869_1364969609","title":"Suspicious PowerShell command line","severity":"Medium","lastUpdateTime":"2026-12-04T15:00:00Z"}`),
		// Duplicate members: the last one wins.
		[]byte(`{"id":"a","id":"b"}`),
		[]byte(`{"id":"bad/id","id":"good"}`),
		[]byte(`{"id":"good","id":"bad/id"}`),
		[]byte(`{"id":"good","id":12}`),
		[]byte(`{"id":12,"id":"good"}`),
		[]byte(`{"id":"a","id":null}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00Z","lastUpdateTime":"bad"}`),
		[]byte(`{"id":"a","lastUpdateTime":"bad","lastUpdateTime":"2026-01-01T00:00:00Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00Z","lastUpdateTime":null}`),
		// Escaped member names and values.
		[]byte(`{"\u0069d":"a1"}`),
		[]byte(`{"\u0069\u0064":"a1","i\u0064":"a2"}`),
		[]byte(`{"id":"x","\u0069d":"y"}`),
		[]byte(`{"i\"d":"x"}`),
		[]byte(`{"Id":"x","ID":"y"}`),
		[]byte(`{"id\u0000":"x"}`),
		[]byte(`{"lastUpdate\u0054ime":"2026-01-01T00:00:00Z","id":"a"}`),
		[]byte(`{"id":"\u0061\u0062c"}`),
		[]byte(`{"id":"a\/b"}`),
		[]byte(`{"id":"a\u002Fb"}`),
		[]byte(`{"id":"\ud800"}`),
		[]byte(`{"id":"a\n"}`),
		[]byte(`{"id":"a\u005f1"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00\u005a"}`),
		[]byte(`{"id":"é"}`),
		// id of every type.
		[]byte(`{"id":null}`),
		[]byte(`{"id":true}`),
		[]byte(`{"id":false}`),
		[]byte(`{"id":-1.5e3}`),
		[]byte(`{"id":{"id":"a"}}`),
		[]byte(`{"id":["a"]}`),
		[]byte(`{"id":""}`),
		[]byte(`{"id":"` + strings.Repeat("a", MaxAlertIDLength) + `"}`),
		[]byte(`{"id":"` + strings.Repeat("a", MaxAlertIDLength+1) + `"}`),
		// lastUpdateTime: non-string, invalid, valid.
		[]byte(`{"id":"a","lastUpdateTime":12}`),
		[]byte(`{"id":"a","lastUpdateTime":null}`),
		[]byte(`{"id":"a","lastUpdateTime":true}`),
		[]byte(`{"id":"a","lastUpdateTime":{"t":"2026-01-01T00:00:00Z"}}`),
		[]byte(`{"id":"a","lastUpdateTime":["2026-01-01T00:00:00Z"]}`),
		[]byte(`{"id":"a","lastUpdateTime":""}`),
		[]byte(`{"id":"a","lastUpdateTime":"yesterday"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-02-30T00:00:00Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T24:00:00Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01 00:00:00Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00.1234567Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00.123456789123Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00,5Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00.Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00+05:30"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00.5-08:00"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00+00:00"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00+24:00"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01T00:00:00z"}`),
		[]byte(`{"id":"a","lastUpdateTime":"2026-01-01t00:00:00Z"}`),
		[]byte(`{"id":"a","lastUpdateTime":" 2026-01-01T00:00:00Z"}`),
		[]byte(`{"lastUpdateTime":"2026-01-01T00:00:00Z"}`),
		// Nested objects and arrays, strings holding brackets and quotes.
		[]byte(`{"a":{"id":"inner"},"id":"outer"}`),
		[]byte(`{"a":{"id":"inner"}}`),
		[]byte(`{"a":[{"id":"x"},[],{}],"b":"}\"]","id":"z","c":[[[{"lastUpdateTime":"2026-01-01T00:00:00Z"}]]]}`),
		[]byte(`{"id":"a","x":{"y":[1,2,{"z":null}]},"lastUpdateTime":"2026-01-01T00:00:00Z"}`),
		// White space everywhere (JSON's and Unicode's).
		[]byte(" \t\r\n{ \t\r\n\"id\" \t\r\n: \t\r\n\"a\" \t\r\n, \t\r\n\"lastUpdateTime\"\n:\n\"2026-01-01T00:00:00Z\"\n}\n \t"),
		[]byte("\u00a0{\"id\":\"a\"}\u2028"),
		[]byte("\u0085{\"id\":\"a\"}\u3000"),
		[]byte("{\"id\":\"a\"}\v"),
		[]byte("\f{\"id\":\"a\"}"),
		[]byte("{\u00a0\"id\":\"a\"}"),
		// Trailing garbage and a second value.
		[]byte(`{"id":"a"}}`),
		[]byte(`{"id":"a"},`),
		[]byte(`{"id":"a"} {"id":"b"}`),
		[]byte(`{"id":"a"}{"id":"b"}`),
		[]byte(`{"id":"a"} 1`),
		[]byte(`{"id":"a"} "x`),
		[]byte(`{"id":"a"} [`),
		[]byte(`{"id":"a"} x`),
		[]byte(`{"id":"a"} nul`),
		[]byte(`{"id":"a"}` + "\x00"),
		// Malformed objects.
		[]byte(`{`),
		[]byte(`{"id"`),
		[]byte(`{"id":`),
		[]byte(`{"id":"a`),
		[]byte(`{"id":"a",}`),
		[]byte(`{"id":"a" "b":1}`),
		[]byte(`{"id" "a"}`),
		[]byte(`{id:"a"}`),
		[]byte(`{'id':'a'}`),
		[]byte(`{"id":"a\x"}`),
		[]byte(`{"id":"a\u12"}`),
		[]byte("{\"id\":\"a\tb\"}"),
		[]byte(`{"id":01}`),
		[]byte(`{"id":"a","n":1.}`),
		[]byte(`{"id":"a","n":-}`),
		[]byte(`{"id":"a","n":tru}`),
		[]byte(`{"id":"a","n":[1,]}`),
		[]byte(`{"id":"a","n":[1}`),
		[]byte(`{"id":"a","n":{]}`),
		[]byte(`{"id":"a"` + strings.Repeat("[", 10001) + `]}`),
		[]byte(`{"id":"a","n":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`),
		[]byte(`{"id":"a","n":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`),
		[]byte(`{"id":"a","n":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`),
		// BOM and invalid UTF-8.
		[]byte("\ufeff{\"id\":\"a\"}"),
		[]byte("\ufeffa1"),
		[]byte("{\"id\":\"a\"}\ufeff"),
		[]byte("{\"id\":\"a\",\"x\":\"\xff\"}"),
		[]byte("{\"\xff\":\"a\",\"id\":\"b\"}"),
		[]byte("{\"id\":\"a\xed\xa0\x80\"}"),
		[]byte("{\"id\":\"a\"}\xff"),
		[]byte("{\xff"),
		[]byte("a1\xff"),
		// Bare ids.
		[]byte("a"),
		[]byte(" a-Z_0 "),
		[]byte("{"),
		[]byte("}"),
		[]byte("a1\n\nb2"),
		[]byte(strings.Repeat("a", MaxAlertIDLength)),
		[]byte("\u00a0" + strings.Repeat("a", MaxAlertIDLength) + "\u2029"),
	}
	for _, b := range badInputs() {
		seeds = append(seeds, b)
	}
	// The FuzzParseInput corpus: one []byte("...") value per file.
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseInput", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no FuzzParseInput corpus: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		lit, ok := strings.CutPrefix(lines[len(lines)-1], "[]byte(")
		if !ok || len(lines) != 2 {
			t.Fatalf("%s: not a one-[]byte corpus file", name)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// sizeSeeds are the bodies around the 1 MiB limit: too large to mutate
// usefully, so they are checked by TestParseInputMatchesDecoder but not
// given to the fuzzer.
func sizeSeeds() [][]byte {
	obj := func(n int) []byte { // a JSON object of exactly n bytes
		head, tail := `{"id":"a1","pad":"`, `"}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	return [][]byte{
		obj(MaxBodySize),
		obj(MaxBodySize + 1),
		obj(MaxBodySize - 1),
		append(obj(MaxBodySize-1), ' '),
		append(obj(MaxBodySize), ' '),
		[]byte(strings.Repeat(" ", MaxBodySize-2) + "a1"),
		[]byte(strings.Repeat(" ", MaxBodySize-1) + "a1"),
		[]byte(`{"id":"a1","pad":"` + strings.Repeat("x", MaxBodySize-20) + `"`),
		[]byte(`{"id":"a1","pad":[` + strings.Repeat("1,", MaxBodySize/2-12) + `1]}`),
	}
}

// sameTime reports whether a and b are the same instant in the same
// location, as parsed: time.Parse may build an equal but distinct
// FixedZone for each call, so == is too strict.
func sameTime(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && a.IsZero() == b.IsZero() && an == bn && ao == bo &&
		a.Location().String() == b.Location().String() &&
		a.Format(time.RFC3339Nano) == b.Format(time.RFC3339Nano)
}

// checkMatchesDecoder fails t unless ParseInput and parseInputDecoder give
// the same Input and the same error (text and class) for body.
func checkMatchesDecoder(t *testing.T, body []byte) {
	t.Helper()
	got, err := ParseInput(body)
	want, werr := parseInputDecoder(body)
	short := body
	if len(short) > 200 {
		short = short[:200]
	}
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("ParseInput(%q...) error %v, decoder version %v", short, err, werr)
	}
	if err != nil {
		var se, wse *json.SyntaxError
		for _, target := range []error{ErrInvalidInput, ErrInvalidAlertID, io.ErrUnexpectedEOF} {
			if errors.Is(err, target) != errors.Is(werr, target) {
				t.Fatalf("ParseInput(%q...) error %v: errors.Is %v differs from the decoder version", short, err, target)
			}
		}
		if errors.As(err, &se) != errors.As(werr, &wse) || (se != nil && se.Offset != wse.Offset) {
			t.Fatalf("ParseInput(%q...) error %v: json.SyntaxError differs from the decoder version's %v", short, err, werr)
		}
	}
	if got.ID != want.ID {
		t.Fatalf("ParseInput(%q...) ID %q, decoder version %q", short, got.ID, want.ID)
	}
	if !bytes.Equal(got.Alert, want.Alert) || (got.Alert == nil) != (want.Alert == nil) {
		t.Fatalf("ParseInput(%q...) Alert %q, decoder version %q", short, got.Alert, want.Alert)
	}
	if !sameTime(got.LastUpdate, want.LastUpdate) {
		t.Fatalf("ParseInput(%q...) LastUpdate %v, decoder version %v", short, got.LastUpdate, want.LastUpdate)
	}
}

// TestParseInputMatchesDecoder runs the comparison on every seed,
// including those around the size limit.
func TestParseInputMatchesDecoder(t *testing.T) {
	t.Parallel()
	for _, body := range append(matchSeeds(t), sizeSeeds()...) {
		checkMatchesDecoder(t, body)
	}
	if _, err := ParseInput(sizeSeeds()[0]); err != nil {
		t.Errorf("a %d-byte object is refused: %v", MaxBodySize, err)
	}
	if _, err := ParseInput(sizeSeeds()[1]); err == nil {
		t.Errorf("a %d-byte object is accepted", MaxBodySize+1)
	}
}

// FuzzParseInputMatchesDecoder: for every body, ParseInput returns what
// its former json.Decoder version (parseInputDecoder) returned: the same
// ID, Alert bytes and LastUpdate, and the same error text and class.
func FuzzParseInputMatchesDecoder(f *testing.F) {
	for _, b := range matchSeeds(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(checkMatchesDecoder)
}
