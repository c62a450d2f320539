package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/config"
)

// DeadLetter is one message of the dead-letter stream.
type DeadLetter struct {
	Sequence   uint64    `json:"sequence"`
	Time       time.Time `json:"time"`
	Class      string    `json:"class"`
	Reason     string    `json:"reason"`
	AlertID    string    `json:"alertId,omitempty"`
	Subject    string    `json:"sourceSubject"`
	Stream     string    `json:"sourceStream"`
	SourceSeq  string    `json:"sourceSequence"`
	Deliveries string    `json:"deliveries"`
	Size       int       `json:"size"`
	// Preview is the start of the body (at most previewBytes, invalid
	// UTF-8 replaced), to see what an invalid input was.
	Preview string `json:"bodyPreview"`
	data    []byte // the whole body, kept only while replaying
}

// previewBytes bounds DeadLetter.Preview.
const previewBytes = 200

// ListDeadLetters reads every message of the dead-letter stream, oldest
// first.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, cfg *config.Config) ([]DeadLetter, error) {
	var out []DeadLetter
	err := eachDeadLetter(ctx, js, cfg, func(dl DeadLetter) error {
		dl.data = nil // a listing keeps the previews, not every body
		out = append(out, dl)
		return nil
	})
	return out, err
}

// eachDeadLetter calls fn for every message of the dead-letter stream,
// oldest first, one at a time: each read asks the server for the next
// message at or after a sequence, so the sequences of dead letters already
// replayed (deleted) cost nothing, and a large stream is never held in
// memory whole. fn's error stops the walk and is returned.
func eachDeadLetter(ctx context.Context, js jetstream.JetStream, cfg *config.Config, fn func(DeadLetter) error) error {
	s, err := js.Stream(ctx, cfg.DeadLetter.Stream)
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", cfg.DeadLetter.Stream, err)
	}
	last := s.CachedInfo().State.LastSeq // later dead letters wait for the next listing
	for seq := uint64(1); seq <= last; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the dead letter at or after %d: %w", seq, err)
		}
		if m.Sequence > last {
			return nil
		}
		if err := fn(toDeadLetter(m)); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	return DeadLetter{
		Sequence: m.Sequence, Time: m.Time, Class: h.Get(HeaderErrorClass), Reason: h.Get(HeaderError),
		AlertID: h.Get(HeaderAlertID), Subject: h.Get(HeaderSourceSubject), Stream: h.Get(HeaderSourceStream),
		SourceSeq: h.Get(HeaderSourceSequence), Deliveries: h.Get(HeaderDeliveries), Size: len(m.Data),
		Preview: strings.ToValidUTF8(string(m.Data[:min(len(m.Data), previewBytes)]), "\uFFFD"), data: m.Data,
	}
}

// Replay republishes dead letters onto the input subject they came from
// (or the first input subject) and removes each from the dead-letter stream
// only after the input stream has stored it. seqs nil means all. It
// returns the dead letters replayed.
func Replay(ctx context.Context, js jetstream.JetStream, cfg *config.Config, seqs []uint64) ([]DeadLetter, error) {
	s, err := js.Stream(ctx, cfg.DeadLetter.Stream)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", cfg.DeadLetter.Stream, err)
	}
	var done []DeadLetter
	replay := func(dl DeadLetter) error {
		m := nats.NewMsg(replaySubject(cfg, dl.Subject))
		m.Data = dl.data
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("replay-%s-%d", cfg.DeadLetter.Stream, dl.Sequence))
		if _, err := js.PublishMsg(ctx, m, jetstream.WithExpectStream(cfg.Input.Stream)); err != nil {
			return fmt.Errorf("replay dead letter %d: %w", dl.Sequence, err)
		}
		if err := s.DeleteMsg(ctx, dl.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("replayed dead letter %d but could not remove it (replaying it again within the input stream's duplicate window is harmless; after it, remove it first: nats stream rmm %s %d): %w",
				dl.Sequence, cfg.DeadLetter.Stream, dl.Sequence, err)
		}
		done = append(done, dl)
		return nil
	}
	if seqs == nil {
		return done, eachDeadLetter(ctx, js, cfg, replay)
	}
	for _, seq := range seqs {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			return done, fmt.Errorf("dead letter %d: %w", seq, err)
		}
		if err := replay(toDeadLetter(m)); err != nil {
			return done, err
		}
	}
	return done, nil
}

// replaySubject is the dead letter's source subject when it is still an
// input subject, else the first input subject.
func replaySubject(cfg *config.Config, source string) string {
	if slices.Contains(cfg.Input.Subjects, source) {
		return source
	}
	return cfg.Input.Subjects[0]
}
