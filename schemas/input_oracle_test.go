package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
	"unicode/utf8"
)

// parseInputDecoder is the former ParseInput, on json.Decoder and
// reflection: the oracle of FuzzParseInputMatchesDecoder. ParseInput must
// return the same Input and the same error text for every body.
func parseInputDecoder(body []byte) (Input, error) {
	if len(body) > MaxBodySize {
		return Input{}, fmt.Errorf("%w: body of %d bytes is over the %d-byte limit", ErrInvalidInput, len(body), MaxBodySize)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseObjectDecoder(trimmed)
	}
	id := string(trimmed)
	if err := CheckAlertID(id); err != nil {
		return Input{}, fmt.Errorf("%w: bare alert id: %w", ErrInvalidInput, err)
	}
	alert, err := json.Marshal(struct {
		ID string `json:"id"`
	}{id})
	if err != nil {
		return Input{}, fmt.Errorf("%w: encode alert: %w", ErrInvalidInput, err)
	}
	return Input{ID: id, Alert: alert}, nil
}

// parseObjectDecoder is the former parseObject.
func parseObjectDecoder(b []byte) (Input, error) {
	if !utf8.Valid(b) {
		return Input{}, fmt.Errorf("%w: JSON body is not valid UTF-8", ErrInvalidInput)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return Input{}, fmt.Errorf("%w: JSON body: %w", ErrInvalidInput, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Input{}, fmt.Errorf("%w: JSON body has data after the object", ErrInvalidInput)
	}
	rawID, ok := fields["id"]
	if !ok {
		return Input{}, fmt.Errorf("%w: JSON body has no \"id\" field", ErrInvalidInput)
	}
	var id string
	if err := json.Unmarshal(rawID, &id); err != nil {
		return Input{}, fmt.Errorf("%w: JSON field \"id\" is not a string", ErrInvalidInput)
	}
	if err := CheckAlertID(id); err != nil {
		return Input{}, fmt.Errorf("%w: JSON field \"id\": %w", ErrInvalidInput, err)
	}
	in := Input{ID: id, Alert: json.RawMessage(b)}
	if raw, ok := fields["lastUpdateTime"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				in.LastUpdate = t
			}
		}
	}
	return in, nil
}

// BenchmarkParseInputDecoder measures the former parser on the bodies of
// BenchmarkParseInput, for a before/after comparison in one run.
func BenchmarkParseInputDecoder(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"bare", []byte("da637472900382838869_1364969609")},
		{"json", []byte(`{"id":"da637472900382838869_1364969609","title":"Suspicious PowerShell command line","severity":"Medium","lastUpdateTime":"2026-12-04T15:00:00Z"}`)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if in, err := parseInputDecoder(c.body); err != nil || in.ID == "" {
					b.Fatalf("parseInputDecoder: %v", err)
				}
			}
		})
	}
}
