package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/schemas"
)

// Header names of CONTRACT section 3.
const (
	HeaderAlertID        = "Enricher-Alert-Id"
	HeaderStatus         = "Enricher-Status"
	HeaderErrorClass     = "Enricher-Error-Class"
	HeaderError          = "Enricher-Error"
	HeaderSourceSubject  = "Enricher-Source-Subject"
	HeaderSourceStream   = "Enricher-Source-Stream"
	HeaderSourceSequence = "Enricher-Source-Sequence"
	HeaderDeliveries     = "Enricher-Deliveries"
)

// settle stores the outcome, then acknowledges the input: the output event
// or dead letter first (and only once the server has it), then Ack or Term;
// a retry is a NakWithDelay. When the store fails, the message is Nak'd so
// it is tried again; it is never acknowledged without its outcome stored.
func (w *Worker) settle(workCtx context.Context, d *delivery, o outcome, stopHeartbeat func()) {
	if o.event != nil {
		m, err := w.outputMsg(d, o.event)
		body := m.Data
		switch {
		case err != nil:
			o = dead(ClassInvalidInput, err.Error())
		case !fits(m, w.cfg.Output.Stream, w.nc.MaxPayload()):
			o = dead(ClassInvalidInput, fmt.Sprintf("the enriched output of %d bytes would not fit the server's max_payload of %d bytes", len(body), w.nc.MaxPayload()))
		default:
			var ok bool
			if o, ok = w.storeOutput(workCtx, d, o, m, stopHeartbeat); ok {
				return
			}
		}
	}
	if o.deadClass != "" {
		reason := oneLine(o.reason)
		if w.marks != nil {
			if err := w.marks.MarkDead(workCtx, d.meta.Stream, d.meta.Sequence.Stream, o.deadClass, reason); err != nil {
				sampled(d.log.get(), w.sample.cache).Warn().Err(err).Bool("sampled", true).Msg("dead-letter mark not stored")
			}
		}
		m := nats.NewMsg(w.cfg.DeadLetter.Subject)
		m.Data = d.msg.Data()
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", d.meta.Stream, d.meta.Sequence.Stream))
		m.Header.Set(HeaderErrorClass, o.deadClass)
		m.Header.Set(HeaderError, reason)
		m.Header.Set(HeaderSourceSubject, d.msg.Subject())
		m.Header.Set(HeaderSourceStream, d.meta.Stream)
		m.Header.Set(HeaderSourceSequence, strconv.FormatUint(d.meta.Sequence.Stream, 10))
		m.Header.Set(HeaderDeliveries, strconv.FormatUint(d.meta.NumDelivered, 10))
		if d.alertID != "" {
			m.Header.Set(HeaderAlertID, d.alertID)
		}
		if fitDeadLetter(m, w.cfg.DeadLetter.Stream, w.nc.MaxPayload()) {
			d.log.get().Error().Int("size", len(d.msg.Data())).Msg("input too large to store whole with the dead-letter headers: body cut, see Enricher-Body-Truncated")
		}
		err := w.store(workCtx, &d.log, m, w.cfg.DeadLetter.Stream)
		if overStreamMax(err) {
			if limit := w.streamMaxMsgSize(workCtx, w.cfg.DeadLetter.Stream); limit > 0 {
				if fitDeadLetter(m, w.cfg.DeadLetter.Stream, limit) {
					d.log.get().Error().Int("size", len(d.msg.Data())).Int64("max_msg_size", limit).
						Msg("input too large for the dead-letter stream's max_msg_size: body cut, see Enricher-Body-Truncated")
				}
				err = w.store(workCtx, &d.log, m, w.cfg.DeadLetter.Stream)
			}
		}
		if overStreamMax(err) {
			// Not even the headers fit: a stream misconfigured by hand. The
			// message waits for it to be fixed, without a hot loop.
			stopHeartbeat()
			d.log.get().Error().Err(err).Str("class", o.deadClass).Str("stream", w.cfg.DeadLetter.Stream).
				Msg("the dead-letter stream's max_msg_size refuses even a cut dead letter; raise it: will retry the message")
			_ = d.msg.NakWithDelay(w.cfg.Retry.MaxDelay)
			return
		}
		if err != nil {
			stopHeartbeat()
			sampled(d.log.get(), w.sample.publish).Error().Err(err).Str("class", o.deadClass).Bool("sampled", true).Msg("dead letter not stored; will retry the message")
			_ = d.msg.NakWithDelay(w.cfg.Retry.BaseDelay)
			return
		}
		stopHeartbeat()
		if err := d.msg.TermWithReason(o.deadClass); err != nil {
			d.log.get().Warn().Err(err).Msg("term failed; a redelivery will be deduplicated")
		}
		d.log.get().Warn().Str("class", o.deadClass).Str("reason", reason).Msg("dead letter")
		w.observe(o)
		return
	}
	stopHeartbeat()
	if o.retryIn > 0 {
		_ = d.msg.NakWithDelay(o.retryIn)
	} else {
		_ = d.msg.Nak()
	}
	sampled(d.log.get(), w.sample.retry).Info().Str("reason", oneLine(o.reason)).Dur("retry_in", o.retryIn).Bool("sampled", true).Msg("will retry")
	w.observe(o)
}

// outputMsg is the NATS message of an output event, with the contract's
// headers; its error is the event's encoding error.
func (w *Worker) outputMsg(d *delivery, e *schemas.EnrichedAlert) (*nats.Msg, error) {
	body, err := e.Marshal()
	m := nats.NewMsg(w.cfg.Output.Subject)
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, "enr-"+d.meta.Stream+"-"+strconv.FormatUint(d.meta.Sequence.Stream, 10))
	m.Header.Set(HeaderAlertID, e.AlertID)
	m.Header.Set(HeaderStatus, string(e.Enrichment.Status))
	return m, err
}

// storeOutput stores an output event and then acks the input. It hands
// the publish to the confirm loop when it can (asynchronous: the handler
// is free for the next message while the server stores this one), and
// otherwise stores it here, waiting. It returns false with a dead letter
// when the event cannot fit the server's max_payload (or, stored here, the
// output stream's max_msg_size; the confirm loop finds that one through
// storeOutputSync).
func (w *Worker) storeOutput(workCtx context.Context, d *delivery, o outcome, m *nats.Msg, stopHeartbeat func()) (outcome, bool) {
	if w.outputs != nil {
		f, err := w.js.PublishMsgAsync(m, jetstream.WithExpectStream(w.cfg.Output.Stream))
		if err == nil {
			d.handedOver = true
			w.outputs.add(pendingOutput{f: f, d: d, o: o, stop: stopHeartbeat, workCtx: workCtx})
			return o, true
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return tooLarge(m, w.nc.MaxPayload()), false
		}
	}
	return w.storeOutputSync(workCtx, d, o, m, stopHeartbeat)
}

// storeOutputSync stores an output event, waiting for the stream's ack
// (with retries), then acks the input; a store that keeps failing Naks it.
func (w *Worker) storeOutputSync(workCtx context.Context, d *delivery, o outcome, m *nats.Msg, stopHeartbeat func()) (outcome, bool) {
	err := w.store(workCtx, &d.log, m, w.cfg.Output.Stream)
	if errors.Is(err, nats.ErrMaxPayload) {
		return tooLarge(m, w.nc.MaxPayload()), false
	}
	if overStreamMax(err) {
		return dead(ClassInvalidInput, fmt.Sprintf("the enriched output of %d bytes is over the max_msg_size of the output stream %s", len(m.Data), w.cfg.Output.Stream)), false
	}
	if err != nil {
		stopHeartbeat()
		sampled(d.log.get(), w.sample.publish).Error().Err(err).Bool("sampled", true).Msg("output not stored; will retry the message")
		_ = d.msg.NakWithDelay(w.cfg.Retry.BaseDelay)
		return o, true
	}
	w.stored(d, o, stopHeartbeat)
	return o, true
}

// tooLarge is the dead letter of an output event the server refused for
// its size.
func tooLarge(m *nats.Msg, limit int64) outcome {
	return dead(ClassInvalidInput, fmt.Sprintf("the enriched output of %d bytes does not fit the server's max_payload of %d bytes", len(m.Data), limit))
}

// stored acks a message whose output event the server has.
func (w *Worker) stored(d *delivery, o outcome, stopHeartbeat func()) {
	stopHeartbeat()
	w.ack(d)
	if debugOn(&w.log) {
		d.log.get().Debug().Str("status", string(o.event.Enrichment.Status)).Str("source", string(o.event.Enrichment.Source)).
			Int("attempts", o.event.Enrichment.Attempts).Msg("enriched")
	}
	w.observe(o)
}

// store publishes m to JetStream, expecting stream, and retries with
// backoff until the server has it, refuses it for its size (max_payload,
// or the stream's max_msg_size: permanent) or ctx ends. A duplicate (same
// Nats-Msg-Id inside the window) counts as stored. Failures are logged
// (sampled) on log, the message's logger.
func (w *Worker) store(ctx context.Context, log *msgLog, m *nats.Msg, stream string) error {
	delay := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.js.PublishMsg(pctx, m, jetstream.WithExpectStream(stream))
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, nats.ErrMaxPayload) || overStreamMax(err) || ctx.Err() != nil {
			return fmt.Errorf("publish to %s: %w", m.Subject, err)
		}
		sampled(log.get(), w.sample.publish).Warn().Err(err).Str("to", m.Subject).Bool("sampled", true).Msg("publish failed; retrying")
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish to %s: %w (last error: %w)", m.Subject, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// ack confirms the input once its outcome is stored. If the ack is lost,
// the redelivery republishes under the same Nats-Msg-Id and is deduplicated.
//
// A plain Ack, not DoubleAck: waiting for the server's confirmation would
// add a round trip per message and buy nothing, since a lost ack only
// causes that deduplicated redelivery.
func (w *Worker) ack(d *delivery) {
	if err := d.msg.Ack(); err != nil {
		d.log.get().Warn().Err(err).Msg("ack not sent; a redelivery will be deduplicated")
	}
}

// oneLine makes a reason fit one header line of bounded length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	if len(s) > 400 {
		s = strings.ToValidUTF8(s[:400], "") + "..."
	}
	if s == "" {
		s = "unknown error"
	}
	return s
}
