package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzParseUser: parseUser never panics; it fails only with ErrBadResponse
// in one line; what it accepts is one JSON object with a string "id", no
// top-level "@odata.context", no duplicate member, the input's other
// members in the input's order, and parsing it again gives it back.
// Seeds: testdata/fuzz/FuzzParseUser (the documented 200 and hostile bodies).
func FuzzParseUser(f *testing.F) {
	for _, s := range []string{
		`{"@odata.context":"x","id":"contoso\\user1","accountName":"user1"}`,
		`{"id":"x","id":"y"}`, `[{"id":"x"}]`, `{"id":42}`, `{"id":"x"} {"id":"y"}`, `<html>`, "{\"id\":\"\xff\"}",
		`{"id":"\u2028","\u0041":{"@odata.context":1}}`, `{"id":"x","a":[1,{"b":null}],"c":-1.5e300}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := parseUser(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			if strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("error %q holds a control character", err)
			}
			if out != nil {
				t.Fatalf("got %s along with an error", out)
			}
			return
		}
		keys, vals := members(t, out)
		idAt := -1
		seen := map[string]bool{}
		for i, k := range keys {
			if seen[k] {
				t.Fatalf("accepted a duplicate member %q", k)
			}
			seen[k] = true
			if k == odataContext {
				t.Fatalf("kept the top-level %s: %s", odataContext, out)
			}
			if k == "id" {
				idAt = i
			}
		}
		if idAt < 0 {
			t.Fatalf("accepted a user without id: %s", out)
		}
		var id string
		if err := json.Unmarshal(vals[idAt], &id); err != nil {
			t.Fatalf("id %s is not a string: %v", vals[idAt], err)
		}
		inKeys, _ := members(t, body)
		var want []string
		for _, k := range inKeys {
			if k != odataContext {
				want = append(want, k)
			}
		}
		if strings.Join(want, "\x00") != strings.Join(keys, "\x00") {
			t.Fatalf("members %q, want the input's %q in order", keys, want)
		}
		if len(out) <= MaxUserBytes {
			again, err := parseUser(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("parsing the output again: %s, %v; want %s", again, err, out)
			}
		}
	})
}

// members decodes the top-level member names and raw values of a JSON
// object (which may have duplicates, so no map).
func members(t *testing.T, obj []byte) (keys []string, vals []json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object: %v", obj, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("member name of %s: %v", obj, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("member value of %s: %v", obj, err)
		}
		keys, vals = append(keys, tok.(string)), append(vals, v)
	}
	return keys, vals
}

// tokenLike is what a bearer token looks like: long, no white space (and
// no dot, which the "..." of a truncated text could complete).
var tokenLike = regexp.MustCompile(`^[A-Za-z0-9_~+/=-]{16,}$`)

// FuzzAPIErrorEnvelope: newAPIError never panics on any status, body and
// Retry-After; its Error is one valid UTF-8 line naming the status, its
// API texts are bounded, its Retry-After is within 0..24h, and a
// token-like redacted string never survives in it.
// Seeds: testdata/fuzz/FuzzAPIErrorEnvelope (the documented envelopes).
func FuzzAPIErrorEnvelope(f *testing.F) {
	env := `{"error":{"code":"TooManyRequests","message":"API call quota exceeded.","target":"43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}`
	f.Add(429, "3", []byte(env), "eyJ0eXAiOiJKV1QiLCJhbGciOi")
	f.Add(404, "", []byte(`{"error":{"code":1,"message":["x"],"target":null}}`), "")
	f.Add(401, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"error":{"message":"bad token eyJ0eXAiOiJKV1QiLCJhbGciOi\nhere"}}`), "eyJ0eXAiOiJKV1QiLCJhbGciOi")
	f.Add(500, "-1", []byte(`<html>oops</html>`), "")
	f.Add(503, "99999999999999999999", []byte(`{"error":null}`), "")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte, token string) {
		if status < 100 || status > 999 {
			status = 400 + (status%100+100)%100
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}, Body: io.NopCloser(bytes.NewReader(body))}
		e := newAPIError(resp, body, now, token)
		if e.StatusCode != status {
			t.Fatalf("status %d, want %d", e.StatusCode, status)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "defender api: status "+strconv.Itoa(status)) {
			t.Fatalf("error %q does not name the status", msg)
		}
		if !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
			t.Fatalf("error %q is not one valid line", msg)
		}
		if len(e.Message) > maxErrorText+3 || len(e.Code) > 64+3 || len(e.Target) > 64+3 {
			t.Fatalf("unbounded texts: message %d, code %d, target %d bytes", len(e.Message), len(e.Code), len(e.Target))
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("retry after %s outside 0..%s", e.RetryAfter, maxRetryAfter)
		}
		if tokenLike.MatchString(token) && strings.Contains(msg, token) {
			t.Fatalf("the redacted token survived in %q", msg)
		}
		d, ok := parseRetryAfter(retryAfter, now)
		if !ok && d != 0 || d != e.RetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %s, %v; the error holds %s", retryAfter, d, ok, e.RetryAfter)
		}
	})
}
