package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// tooLargeSize is the least size of a BadTooLarge body: over the 64 KiB a
// client must refuse.
const tooLargeSize = 64<<10 + 4<<10

// faultResponse is the answer forced by Options.Fault. Call with s.mu held.
func (s *Server) faultResponse(alertID string, f *Fault) response {
	var resp response
	switch {
	case f.Body != nil:
		resp = response{status: f.Status, header: http.Header{}, body: bytes.Clone(f.Body)}
	case f.Status == http.StatusOK:
		body := []byte("{}")
		if idx, ok := s.data.index[alertID]; ok && !s.data.noUser[idx] {
			body = s.data.userJSON(idx)
		}
		resp = response{status: f.Status, header: http.Header{}, body: body}
	default:
		resp = errorResponse(f.Status, "", "")
	}
	if f.RetryAfter > 0 {
		resp.header.Set("Retry-After", retryAfter(f.RetryAfter))
	}
	return resp
}

// badResponse is a hostile 200 in place of alert idx's user entity, of
// Options.BadResponseKind. Call with s.mu held.
func (s *Server) badResponse(idx int) response {
	kind := s.opts.BadResponseKind
	if kind == BadMixed {
		kinds := cycledKinds()
		kind = kinds[s.badCycle%len(kinds)]
		s.badCycle++
	}
	return response{status: http.StatusOK, header: http.Header{}, body: badBody(kind, s.data.user(idx))}
}

// badBody builds the body of a bad response of kind from a user entity.
func badBody(kind string, u userEntity) []byte {
	switch kind {
	case BadNotJSON:
		return []byte("<html><head><title>502 Bad Gateway</title></head>\n" +
			"<body><h1>Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>\n")
	case BadTooLarge:
		// The entity plus a long field: still one valid JSON object.
		pad := strings.Repeat("this user has an unusually long note attached; ", tooLargeSize/47+1)
		return mustJSON(struct {
			userEntity
			Notes string `json:"notes"`
		}{u, pad})
	case BadNoID:
		var m map[string]any
		if err := json.Unmarshal(mustJSON(u), &m); err != nil {
			panic(fmt.Sprintf("sim: decode own user entity: %v", err))
		}
		delete(m, "id")
		return mustJSON(m)
	default: // BadArray
		return mustJSON([]userEntity{u})
	}
}

// mustJSON marshals a value built by this package, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal %T: %v", v, err))
	}
	return b
}
