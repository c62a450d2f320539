package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/enricher/enricher/internal/jsonwalk"
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
//
// It validates the body in one pass (json.Valid), then walks the members
// of what is now known to be valid JSON by hand (internal/jsonwalk): the
// json.Decoder token API it replaces cost a third of an API call's CPU.
func parseUser(body []byte) (json.RawMessage, error) {
	if len(body) > MaxUserBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBadResponse, MaxUserBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid utf-8", ErrBadResponse)
	}
	if i := jsonwalk.SkipSpace(body, 0); i == len(body) || body[i] != '{' {
		return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
	}
	if !json.Valid(body) {
		dec := json.NewDecoder(bytes.NewReader(body))
		var v json.RawMessage
		if dec.Decode(&v) == nil {
			return nil, fmt.Errorf("%w: data after the json object", ErrBadResponse)
		}
		return nil, fmt.Errorf("%w: not a json object", ErrBadResponse)
	}
	out := make([]byte, 0, len(body))
	out = append(out, '{')
	var keys []string
	var seen map[string]bool // past 32 members: a hostile body must not cost n²
	hasID := false
	err := jsonwalk.Members(body, func(rawKey, k, v []byte) error {
		key := string(k)
		if seen == nil && len(keys) == 32 {
			seen = make(map[string]bool, 64)
			for _, name := range keys {
				seen[name] = true
			}
		}
		if (seen != nil && seen[key]) || (seen == nil && slices.Contains(keys, key)) {
			return fmt.Errorf("%w: duplicate member %q", ErrBadResponse, cleanText(key, 64, nil))
		}
		if seen != nil {
			seen[key] = true
		} else {
			keys = append(keys, key)
		}
		if key == "id" {
			if v[0] != '"' {
				return fmt.Errorf("%w: member \"id\" is not a string", ErrBadResponse)
			}
			hasID = true
		}
		if key != odataContext {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = appendMemberName(out, rawKey, key)
			out = append(out, ':')
			out = append(out, v...)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrBadResponse) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err) // a member name that does not decode
	}
	if !hasID {
		return nil, fmt.Errorf("%w: no member \"id\"", ErrBadResponse)
	}
	out = append(out, '}')
	var compact bytes.Buffer
	compact.Grow(len(out))
	if err := json.Compact(&compact, out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return json.RawMessage(compact.Bytes()), nil
}

// appendMemberName appends a member name as encoding/json writes it
// (without HTML escaping): raw as it came unless it holds an escape or
// U+2028/U+2029, which encoding/json writes in its own way.
func appendMemberName(out, raw []byte, name string) []byte {
	if bytes.IndexByte(raw, '\\') < 0 && !bytes.Contains(raw, []byte("\u2028")) && !bytes.Contains(raw, []byte("\u2029")) {
		return append(out, raw...)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(name) // a string always encodes
	return append(out, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
