package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzParseUserMatchesTokens: parseUser accepts exactly what the former
// json.Decoder-token version accepted, and returns the same bytes.
func FuzzParseUserMatchesTokens(f *testing.F) {
	for _, s := range []string{
		`{"@odata.context":"x","id":"contoso\\user1","accountName":"user1"}`,
		`{"id":"x","id":"y"}`, `[{"id":"x"}]`, `{"id":42}`, `{"id":"x"} {"id":"y"}`, `<html>`, "{\"id\":\"\xff\"}",
		`{"id":"\u2028","\u0041":{"@odata.context":1}}`, `{"id":"x","a":[1,{"b":null}],"c":-1.5e300}`,
		"{ \"i\\u0064\" : \"x\" , \"a\u2028\" : [ 1 , \"]}\\\"\" ] , \"n\":true}\n",
		`{"id":"x","k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"k18":1,"k19":1,"k20":1,"k21":1,"k22":1,"k23":1,"k24":1,"k25":1,"k26":1,"k27":1,"k28":1,"k29":1,"k30":1,"k31":1,"k32":1,"k5":2}`,
		`{}`, `{"a":{}}`, ` {"id":""}  `, `{"id":"x",}`, `{"id":"x"`, `{"id" "x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseUser(body)
		want, werr := parseUserTokens(body)
		if (err == nil) != (werr == nil) {
			t.Fatalf("parseUser error %v, token version error %v, for %q", err, werr, body)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("parseUser gave %s, token version %s, for %q", got, want, body)
		}
	})
}

// parseUserTokens is the former parseUser, on json.Decoder tokens: the
// oracle of FuzzParseUserMatchesTokens. It checks that body is exactly one JSON object with a string "id"
// and no duplicate member names, and returns it compacted, member order
// kept, without its top-level "@odata.context". Every failure wraps
// ErrBadResponse.
func parseUserTokens(body []byte) (json.RawMessage, error) {
	if len(body) > MaxUserBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBadResponse, MaxUserBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid utf-8", ErrBadResponse)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	keyEnc := json.NewEncoder(&out)
	keyEnc.SetEscapeHTML(false)
	seen := make(map[string]bool)
	hasID := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: duplicate member %q", ErrBadResponse, cleanText(key, 64, nil))
		}
		seen[key] = true
		if key == "id" {
			if v[0] != '"' {
				return nil, fmt.Errorf("%w: member \"id\" is not a string", ErrBadResponse)
			}
			hasID = true
		}
		if key == odataContext {
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		if err := keyEnc.Encode(key); err != nil { // appends a newline, removed by Compact
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		out.WriteByte(':')
		out.Write(v)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the json object", ErrBadResponse)
	}
	if !hasID {
		return nil, fmt.Errorf("%w: no member \"id\"", ErrBadResponse)
	}
	out.WriteByte('}')
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return json.RawMessage(compact.Bytes()), nil
}
