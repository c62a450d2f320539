package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/enricher/enricher/internal/jsonwalk"
)

// MaxBodySize is the largest input body accepted (1 MiB).
const MaxBodySize = 1 << 20

// ErrInvalidInput is wrapped by every error from ParseInput: the message
// becomes an invalid_input dead letter.
var ErrInvalidInput = errors.New("invalid input")

// Input is one parsed input message.
type Input struct {
	// ID is the alert ID, valid by ValidAlertID.
	ID string
	// Alert is the JSON object carried into the output: the input object
	// unchanged, or {"id": ...} for a bare ID.
	Alert json.RawMessage
	// LastUpdate is the alert's lastUpdateTime when the input had a valid
	// one, else the zero time.
	LastUpdate time.Time
}

// ParseInput parses an input body: an alert ID as text (surrounding white
// space ignored), or a JSON object with a string field "id" (a body whose
// first non-space byte is '{', exactly one JSON value). Errors wrap
// ErrInvalidInput and quote no more of the body than one character of
// encoding/json's syntax errors.
func ParseInput(body []byte) (Input, error) {
	if len(body) > MaxBodySize {
		return Input{}, fmt.Errorf("%w: body of %d bytes is over the %d-byte limit", ErrInvalidInput, len(body), MaxBodySize)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseObject(trimmed)
	}
	id := string(trimmed)
	if err := CheckAlertID(id); err != nil {
		return Input{}, fmt.Errorf("%w: bare alert id: %w", ErrInvalidInput, err)
	}
	// CheckAlertID passed, so id is only A-Z a-z 0-9 _ -: nothing that
	// JSON (or encoding/json's HTML escaping) escapes. The alert is the id
	// between quotes, byte for byte what json.Marshal wrote for it.
	alert := make([]byte, 0, len(`{"id":""}`)+len(id))
	alert = append(alert, `{"id":"`...)
	alert = append(alert, id...)
	alert = append(alert, `"}`...)
	return Input{ID: id, Alert: alert}, nil
}

// parseObject parses a JSON object body, trimmed. It validates b in one
// pass (utf8.Valid, json.Valid), then walks the members of what is now
// known to be valid JSON by hand (internal/jsonwalk) for "id" and
// "lastUpdateTime", as encoding/json's decoding into a map did before it:
// member names compare after unescaping, the last of duplicate members
// wins, and values are unescaped as encoding/json unescapes them.
func parseObject(b []byte) (Input, error) {
	if !utf8.Valid(b) {
		return Input{}, fmt.Errorf("%w: JSON body is not valid UTF-8", ErrInvalidInput)
	}
	if !json.Valid(b) {
		return Input{}, invalidObject(b)
	}
	var rawID, rawTime []byte
	err := jsonwalk.Members(b, func(_, key, value []byte) error {
		if string(key) == "id" {
			rawID = value
		} else if string(key) == "lastUpdateTime" {
			rawTime = value
		}
		return nil
	})
	if err != nil { // a member name that does not decode: not on valid JSON
		return Input{}, fmt.Errorf("%w: JSON body: %w", ErrInvalidInput, err)
	}
	if rawID == nil {
		return Input{}, fmt.Errorf("%w: JSON body has no \"id\" field", ErrInvalidInput)
	}
	var id string
	switch rawID[0] {
	case '"':
		s, err := jsonwalk.Unquote(rawID)
		if err != nil {
			return Input{}, fmt.Errorf("%w: JSON field \"id\" is not a string", ErrInvalidInput)
		}
		id = string(s)
	case 'n':
		// null: encoding/json leaves the string empty, which
		// CheckAlertID rejects below.
	default:
		return Input{}, fmt.Errorf("%w: JSON field \"id\" is not a string", ErrInvalidInput)
	}
	if err := CheckAlertID(id); err != nil {
		return Input{}, fmt.Errorf("%w: JSON field \"id\": %w", ErrInvalidInput, err)
	}
	in := Input{ID: id, Alert: json.RawMessage(b)}
	if len(rawTime) > 0 && rawTime[0] == '"' { // anything else (null too) gives no time
		if s, err := jsonwalk.Unquote(rawTime); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, string(s)); err == nil {
				in.LastUpdate = t
			}
		}
	}
	return in, nil
}

// invalidObject returns the error for a body starting with '{' that is
// valid UTF-8 but not valid JSON: encoding/json's own message when the
// first value is malformed or incomplete, else the object is followed by
// more than white space. Only failures pay for the decoder.
func invalidObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%w: JSON body: %w", ErrInvalidInput, err)
	}
	return fmt.Errorf("%w: JSON body has data after the object", ErrInvalidInput)
}

// Expired reports whether the input's lastUpdateTime is known and older
// than maxAge at now. Inputs without a usable lastUpdateTime never expire.
func (in Input) Expired(now time.Time, maxAge time.Duration) bool {
	return !in.LastUpdate.IsZero() && maxAge > 0 && now.Sub(in.LastUpdate) > maxAge
}
