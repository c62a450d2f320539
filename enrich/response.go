package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxUserBytes is the largest 200 body accepted as a user entity (64 KiB).
const MaxUserBytes = 64 << 10

// maxErrorBody is how much of an error answer is read to parse its envelope.
const maxErrorBody = 8 << 10

// maxDrain is how much unread body is discarded so the connection can be
// reused; a longer remainder closes the connection instead.
const maxDrain = 64 << 10

// odataContext is the annotation removed from the user entity.
const odataContext = "@odata.context"

// readCapped reads at most limit+1 bytes of r; over is true when r held
// more than limit bytes (b then holds limit+1 of them).
func readCapped(r io.Reader, limit int64) (b []byte, over bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	return b, int64(len(b)) > limit, err
}

// drainAndClose discards a bounded remainder of body and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// parseUser checks that body is exactly one JSON object with a string "id"
// and no duplicate member names, and returns it compacted, member order
// kept, without its top-level "@odata.context". Every failure wraps
// ErrBadResponse.
func parseUser(body []byte) (json.RawMessage, error) {
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
