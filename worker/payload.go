package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter whose body had to be cut to fit max_payload.
const (
	HeaderBodyTruncated = "Enricher-Body-Truncated" // the original body size in bytes
	HeaderBodySHA256    = "Enricher-Body-Sha256"    // hex SHA-256 of the original body
)

// payloadSlack covers what the client adds on the wire beyond the headers
// counted here.
const payloadSlack = 64

// wireSize is the size the server checks against max_payload: the body,
// the encoded headers, and the Nats-Expected-Stream header of the publish.
func wireSize(m *nats.Msg, stream string) int {
	n := len(m.Data) + len("NATS/1.0\r\n\r\n") + payloadSlack
	n += len(jetstream.ExpectedStreamHeader) + 4 + len(stream)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + 4 + len(v)
		}
	}
	return n
}

// fits reports whether m can be published to stream under max (0 = no
// limit known).
func fits(m *nats.Msg, stream string, limit int64) bool {
	return limit <= 0 || int64(wireSize(m, stream)) <= limit
}

// fitDeadLetter makes a dead letter fit limit (max_payload, or the
// dead-letter stream's max_msg_size). A body that fits
// whole is stored whole (the contract); only when body plus headers cannot
// fit is the reason shortened and then the body cut, the cut marked with
// its original size and digest. It reports whether the body was cut.
func fitDeadLetter(m *nats.Msg, stream string, limit int64) bool {
	if fits(m, stream, limit) {
		return false
	}
	if r := m.Header.Get(HeaderError); len(r) > 120 {
		m.Header.Set(HeaderError, oneLine(r[:120]))
	}
	if fits(m, stream, limit) {
		return false
	}
	if m.Header.Get(HeaderBodyTruncated) == "" { // a second cut keeps the original's
		sum := sha256.Sum256(m.Data)
		m.Header.Set(HeaderBodyTruncated, strconv.Itoa(len(m.Data)))
		m.Header.Set(HeaderBodySHA256, hex.EncodeToString(sum[:]))
	}
	over := wireSize(m, stream) - int(limit)
	keep := max(len(m.Data)-over, 0)
	m.Data = m.Data[:keep]
	return true
}

// overStreamMax reports whether a publish was refused because the message
// is over the stream's own max_msg_size (a stream set up by hand with
// nats { manage_resources = false }, or edited since): permanent, like
// max_payload, so it is never retried.
func overStreamMax(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && ae.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// streamMaxMsgSize is the max_msg_size of stream, or 0 when it has none or
// it cannot be read.
func (w *Worker) streamMaxMsgSize(ctx context.Context, stream string) int64 {
	s, err := w.js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	return int64(max(s.CachedInfo().Config.MaxMsgSize, 0))
}
