package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
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
// ErrInvalidInput and never quote the body.
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
	alert, err := json.Marshal(struct {
		ID string `json:"id"`
	}{id})
	if err != nil {
		return Input{}, fmt.Errorf("%w: encode alert: %w", ErrInvalidInput, err)
	}
	return Input{ID: id, Alert: alert}, nil
}

func parseObject(b []byte) (Input, error) {
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

// Expired reports whether the input's lastUpdateTime is known and older
// than maxAge at now. Inputs without a usable lastUpdateTime never expire.
func (in Input) Expired(now time.Time, maxAge time.Duration) bool {
	return !in.LastUpdate.IsZero() && maxAge > 0 && now.Sub(in.LastUpdate) > maxAge
}
