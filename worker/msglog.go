package worker

import (
	"sync/atomic"

	"github.com/rs/zerolog"
)

// msgLog is the logger of one message (subject, stream_seq, delivery and,
// once the body is parsed, alert_id), built on its first use: most
// messages never log a line, and building a zerolog context copies a
// buffer of some hundred bytes.
type msgLog struct {
	base     *zerolog.Logger
	subject  string
	seq, dlv uint64
	// alertID is the alert_id of the lines, once parsed is set: the
	// parsed ID, or "" when the body holds no valid one.
	alertID string
	parsed  bool
	// built is the logger; the handler and the confirm loop may both ask.
	built atomic.Pointer[zerolog.Logger]
}

// parsedID sets the alert_id of the message's lines from now on. It is
// called by the handler before anything else can log about the message.
func (m *msgLog) parsedID(id string) {
	m.alertID, m.parsed = id, true
	m.built.Store(nil)
}

// get returns the message's logger, building it on first use.
func (m *msgLog) get() *zerolog.Logger {
	if l := m.built.Load(); l != nil {
		return l
	}
	c := m.base.With().Str("subject", m.subject).Uint64("stream_seq", m.seq).Uint64("delivery", m.dlv)
	if m.parsed {
		c = c.Str("alert_id", m.alertID)
	}
	l := c.Logger()
	if m.built.CompareAndSwap(nil, &l) {
		return &l
	}
	return m.built.Load()
}

// debugOn reports whether l writes debug lines, so a per-message debug
// line builds the message's logger only when it is written.
func debugOn(l *zerolog.Logger) bool {
	return l.GetLevel() <= zerolog.DebugLevel && zerolog.GlobalLevel() <= zerolog.DebugLevel
}
