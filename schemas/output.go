package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
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

// Marshal encodes the event as one line of JSON.
func (e EnrichedAlert) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode enriched alert %s: %w", e.AlertID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
