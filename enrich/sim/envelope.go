package sim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/enricher/enricher/schemas"
)

// Envelope is the documented Defender error body:
// {"error":{"code":"...","message":"...","target":"<guid>"}}.
type Envelope struct {
	// Error holds the details.
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is the inside of an Envelope.
type EnvelopeError struct {
	// Code is the error code, e.g. "ResourceNotFound" or "TooManyRequests".
	Code string `json:"code"`
	// Message is free text.
	Message string `json:"message"`
	// Target is a correlation GUID, fresh for every error.
	Target string `json:"target"`
}

// codeFor is the error code the simulator uses for a status.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "ResourceNotFound"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadRequest"
}

// messageFor is the standard message for a status.
func messageFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "The request is invalid."
	case http.StatusUnauthorized:
		return "Invalid Authorization payload."
	case http.StatusForbidden:
		return "The application does not have the required permission."
	case http.StatusNotFound:
		return "The requested resource was not found."
	case http.StatusTooManyRequests:
		return "API call quota exceeded."
	case http.StatusServiceUnavailable:
		return "The service is temporarily unavailable."
	}
	if status >= 500 {
		return "An internal error occurred."
	}
	return http.StatusText(status)
}

// envelopeBody is the JSON of an Envelope with a fresh target GUID.
func envelopeBody(code, message string) []byte {
	b, err := json.Marshal(Envelope{Error: EnvelopeError{Code: code, Message: message, Target: newGUID()}})
	if err != nil { // cannot happen: plain strings
		panic(fmt.Sprintf("sim: marshal error envelope: %v", err))
	}
	return b
}

// errorResponse is an API error answer; code "" and message "" take the
// standard ones for status.
func errorResponse(status int, code, message string) response {
	if code == "" {
		code = codeFor(status)
	}
	if message == "" {
		message = messageFor(status)
	}
	return response{status: status, header: http.Header{}, body: envelopeBody(code, message)}
}

// notFound is the 404 for an alert; a malformed ID is not echoed.
func notFound(alertID string, hasAlert bool) response {
	shown := alertID
	if !schemas.ValidAlertID(alertID) {
		shown = "(malformed id)"
	}
	msg := "Alert " + shown + " was not found."
	if hasAlert {
		msg = "No user was found for alert " + shown + "."
	}
	return errorResponse(http.StatusNotFound, "ResourceNotFound", msg)
}

// unauthorized is the 401 of the API, with a WWW-Authenticate challenge.
func unauthorized(message string) response {
	r := errorResponse(http.StatusUnauthorized, "Unauthorized", message)
	r.header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return r
}

// tooMany is a 429 asking to wait at least wait.
func tooMany(wait time.Duration) response {
	r := errorResponse(http.StatusTooManyRequests, "TooManyRequests", "API call quota exceeded.")
	r.header.Set("Retry-After", retryAfter(wait))
	return r
}

// retryAfter formats wait as whole seconds, rounded up, at least 1.
func retryAfter(wait time.Duration) string {
	secs := (wait + time.Second - 1) / time.Second
	return strconv.FormatInt(int64(max(secs, 1)), 10)
}

// oauthError is an error answer of the token endpoint.
func oauthError(status int, code, description string) response {
	body, err := json.Marshal(map[string]any{
		"error":             code,
		"error_description": description,
		"timestamp":         time.Now().UTC().Format(time.DateTime + "Z"),
		"trace_id":          newGUID(),
		"correlation_id":    newGUID(),
	})
	if err != nil { // cannot happen: plain values
		panic(fmt.Sprintf("sim: marshal oauth error: %v", err))
	}
	h := http.Header{}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return response{status: status, header: h, body: body}
}

// newGUID returns a random version 4 GUID in lower case.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
