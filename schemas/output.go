package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Status is the outcome of one enriched event.
type Status string

// The statuses of CONTRACT section 3.
const (
	StatusEnriched Status = "enriched"  // 200: User holds the entity
	StatusNotFound Status = "not_found" // 404: no such alert, or no user for it
	StatusExpired  Status = "expired"   // older than max_alert_age, not queried
)

// Source says where the outcome came from.
type Source string

// The sources of CONTRACT section 3.
const (
	SourceAPI   Source = "api"
	SourceCache Source = "cache"
	SourceNone  Source = "none"
)

// TimeFormat is the layout of enrichedAt: RFC 3339, UTC, always with
// microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// EnrichedAlert is one output event, matching enriched-alert.v1.json.
type EnrichedAlert struct {
	AlertID    string          `json:"alertId"`
	Alert      json.RawMessage `json:"alert"`
	User       json.RawMessage `json:"user"`
	Enrichment Enrichment      `json:"enrichment"`
}

// Enrichment describes how the event was produced.
type Enrichment struct {
	Status     Status `json:"status"`
	Source     Source `json:"source"`
	Attempts   int    `json:"attempts"`
	EnrichedAt string `json:"enrichedAt"`
	Worker     string `json:"worker"`
}

// NewEnriched builds an output event for in. user is the entity for
// StatusEnriched and ignored otherwise.
func NewEnriched(in Input, status Status, user json.RawMessage, source Source, attempts int, at time.Time, worker string) EnrichedAlert {
	if status != StatusEnriched || len(user) == 0 {
		user = json.RawMessage("null")
	}
	return EnrichedAlert{
		AlertID: in.ID,
		Alert:   in.Alert,
		User:    user,
		Enrichment: Enrichment{
			Status:     status,
			Source:     source,
			Attempts:   attempts,
			EnrichedAt: at.UTC().Format(TimeFormat),
			Worker:     worker,
		},
	}
}

// Marshal encodes the event as one line of JSON, exactly as encoding/json
// would (no HTML escaping), without its reflection and without re-scanning
// Alert and User when they are already compact. Alert and User must be
// valid JSON, as ParseInput, the Defender client and the outcome cache
// give them (each validates what it returns); empty means null.
func (e EnrichedAlert) Marshal() ([]byte, error) {
	n := 160 + len(e.AlertID) + len(e.Alert) + len(e.User) + len(e.Enrichment.EnrichedAt) + len(e.Enrichment.Worker)
	b := make([]byte, 0, n)
	b = append(b, `{"alertId":`...)
	b = appendString(b, e.AlertID)
	b = append(b, `,"alert":`...)
	var err error
	if b, err = appendRaw(b, e.Alert); err != nil {
		return nil, fmt.Errorf("encode enriched alert %s: alert: %w", e.AlertID, err)
	}
	b = append(b, `,"user":`...)
	if b, err = appendRaw(b, e.User); err != nil {
		return nil, fmt.Errorf("encode enriched alert %s: user: %w", e.AlertID, err)
	}
	en := e.Enrichment
	b = append(b, `,"enrichment":{"status":`...)
	b = appendString(b, string(en.Status))
	b = append(b, `,"source":`...)
	b = appendString(b, string(en.Source))
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(en.Attempts), 10)
	b = append(b, `,"enrichedAt":`...)
	b = appendString(b, en.EnrichedAt)
	b = append(b, `,"worker":`...)
	b = appendString(b, en.Worker)
	return append(b, "}}"...), nil
}

// appendRaw appends a raw JSON value as encoding/json encodes a
// json.RawMessage: null when empty, compacted when it holds white space
// between tokens (json.Compact then also validates it).
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return append(b, "null"...), nil
	}
	if !needsCompact(raw) {
		return append(b, raw...), nil
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// needsCompact reports whether raw has white space outside its strings.
func needsCompact(raw []byte) bool {
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = inString
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		}
	}
	return false
}

// appendString appends s as a JSON string, escaped as encoding/json does
// without HTML escaping: quote, backslash, control characters, U+2028 and
// U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
