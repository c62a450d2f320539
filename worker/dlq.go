package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	data       []byte
}

// ListDeadLetters reads every message of the dead-letter stream, oldest
// first.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, cfg *config.Config) ([]DeadLetter, error) {
	s, err := js.Stream(ctx, cfg.DeadLetter.Stream)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", cfg.DeadLetter.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", cfg.DeadLetter.Stream, err)
	}
	var out []DeadLetter
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("read dead letter %d: %w", seq, err)
		}
		out = append(out, toDeadLetter(m))
	}
	return out, nil
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	return DeadLetter{
		Sequence: m.Sequence, Time: m.Time, Class: h.Get(HeaderErrorClass), Reason: h.Get(HeaderError),
		AlertID: h.Get(HeaderAlertID), Subject: h.Get(HeaderSourceSubject), Stream: h.Get(HeaderSourceStream),
		SourceSeq: h.Get(HeaderSourceSequence), Deliveries: h.Get(HeaderDeliveries), Size: len(m.Data), data: m.Data,
	}
}

// Replay republishes dead letters onto the input subject they came from
// (or the first input subject) and removes each from the dead-letter stream
// only after the input stream has stored it. seqs nil means all. It
// returns the dead letters replayed.
func Replay(ctx context.Context, js jetstream.JetStream, cfg *config.Config, seqs []uint64) ([]DeadLetter, error) {
	all, err := ListDeadLetters(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, cfg.DeadLetter.Stream)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream: %w", err)
	}
	var done []DeadLetter
	found := map[uint64]bool{}
	for _, dl := range all {
		if seqs != nil && !slices.Contains(seqs, dl.Sequence) {
			continue
		}
		found[dl.Sequence] = true
		m := nats.NewMsg(replaySubject(cfg, dl.Subject))
		m.Data = dl.data
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("replay-%s-%d", cfg.DeadLetter.Stream, dl.Sequence))
		if _, err := js.PublishMsg(ctx, m, jetstream.WithExpectStream(cfg.Input.Stream)); err != nil {
			return done, fmt.Errorf("replay dead letter %d: %w", dl.Sequence, err)
		}
		if err := s.DeleteMsg(ctx, dl.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return done, fmt.Errorf("replayed dead letter %d but could not remove it: %w", dl.Sequence, err)
		}
		done = append(done, dl)
	}
	for _, seq := range seqs {
		if !found[seq] {
			return done, fmt.Errorf("dead letter %d: %w", seq, jetstream.ErrMsgNotFound)
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
