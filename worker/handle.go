package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/enrich"
	"github.com/enricher/enricher/schemas"
)

// Dead-letter classes (Enricher-Error-Class).
const (
	ClassInvalidInput     = "invalid_input"
	ClassAPIRejected      = "api_rejected"
	ClassRetriesExhausted = "retries_exhausted"
)

// delivery is one message being handled, with what is known about it.
type delivery struct {
	msg     jetstream.Msg
	meta    *jetstream.MsgMetadata
	alertID string // set once parsed
	// log is the message's logger, built on first use.
	log msgLog
	// handedOver: the output's publish went to the confirm loop, which
	// now owns the message (its heartbeat, its ack, its in-flight count).
	handedOver bool
	// priorAttempts: the HTTP attempts of earlier deliveries (DeadMarks);
	// attemptsKnown: it could be read (a failed read must not make the
	// next record lower).
	priorAttempts int
	attemptsKnown bool
}

// outcome is what the walk decided for a delivery: exactly one of an
// output event, a dead letter, or a retry later.
type outcome struct {
	event     *schemas.EnrichedAlert
	deadClass string
	reason    string
	retryIn   time.Duration
	retry     bool
}

// handle walks one message top to bottom: parse, cache, (quota and) API
// call, decide, publish, then ack. It never panics and never returns
// without settling the message one way or another, or handing it to the
// confirm loop, which settles it once the stream has its output: it
// reports whether it did that.
//
// Every log line about the message carries alert_id: the parsed ID, or ""
// when the body holds no valid one (stream_seq then names the message).
func (w *Worker) handle(ctx, workCtx context.Context, beats *heartbeats, msg jetstream.Msg) (handedOver bool) {
	d := &delivery{msg: msg}
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error().Str("subject", msg.Subject()).Str("alert_id", "").Err(err).Msg("message without jetstream metadata; nak")
		_ = msg.Nak()
		return false
	}
	d.meta = meta
	d.log = msgLog{base: &w.log, subject: msg.Subject(), seq: meta.Sequence.Stream, dlv: meta.NumDelivered}

	stop := beats.start(msg).stop
	defer func() {
		if !d.handedOver {
			stop()
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			if d.handedOver { // the confirm loop settles it
				handedOver = true
				d.log.get().Error().Str("panic", fmt.Sprint(p)).Msg("panic after the output was handed over; recovered")
				return
			}
			stop()
			w.recovered(ctx, d, p)
		}
	}()

	in, perr := schemas.ParseInput(msg.Data())
	if perr == nil {
		d.alertID = in.ID
		d.log.parsedID(in.ID)
	} else {
		d.log.parsedID("")
	}

	var o outcome
	if class, reason, ok := w.deadMarked(workCtx, d); ok {
		o = dead(class, reason)
	} else if d.meta.NumDelivered > uint64(2*w.cfg.Input.MaxDeliver) {
		o = dead(ClassRetriesExhausted, fmt.Sprintf("delivered %d times without an outcome (max_deliver %d)", d.meta.NumDelivered, w.cfg.Input.MaxDeliver))
	} else {
		o = w.decide(workCtx, d, in, perr)
	}
	w.settle(workCtx, d, o, stop)
	return d.handedOver
}

// deadMarked returns the dead letter already decided for a redelivered
// message, so it settles the same way again (the store deduplicates it).
func (w *Worker) deadMarked(ctx context.Context, d *delivery) (string, string, bool) {
	if w.marks == nil || d.meta.NumDelivered <= 1 {
		return "", "", false
	}
	class, reason, ok, err := w.marks.DeadMark(ctx, d.meta.Stream, d.meta.Sequence.Stream)
	if err != nil {
		sampled(d.log.get(), w.sample.cache).Warn().Err(err).Bool("sampled", true).Msg("dead-letter mark unreadable; deciding again")
	}
	return class, reason, ok
}

// decide finds the outcome of the parsed input (in, or the parse error).
func (w *Worker) decide(ctx context.Context, d *delivery, in schemas.Input, err error) outcome {
	if err != nil {
		return dead(ClassInvalidInput, err.Error())
	}
	now := w.now()
	if in.Expired(now, w.cfg.Defender.MaxAlertAge) {
		return event(schemas.NewEnriched(in, schemas.StatusExpired, nil, schemas.SourceNone, 0, now, w.id))
	}
	if size, ok := w.outputFits(d, in, now); !ok {
		return dead(ClassInvalidInput, fmt.Sprintf("the enriched output (at least %d bytes, without the user) would not fit the server's max_payload of %d bytes", size, w.nc.MaxPayload()))
	}
	if o, ok := w.fromCache(ctx, d, in); ok {
		return o
	}
	return w.fromAPI(ctx, d, in)
}

// outputFits reports whether in's output event can fit max_payload at
// all: an input close to the limit whose event would not fit even without
// a user costs no quota and no API call. Only such inputs pay for the
// exact check (an encoding); it returns the smallest event's size then.
func (w *Worker) outputFits(d *delivery, in schemas.Input, now time.Time) (int, bool) {
	limit := w.nc.MaxPayload()
	if limit <= 0 || int64(len(in.Alert)+2*len(in.ID)) < limit-outputFitsSlack {
		return 0, true
	}
	// The smallest event: not_found from the API on its first attempt.
	e := schemas.NewEnriched(in, schemas.StatusNotFound, nil, schemas.SourceAPI, 1, now, w.id)
	m, err := w.outputMsg(d, &e)
	if err != nil {
		return 0, true // settle reports the encoding error
	}
	return len(m.Data), fits(m, w.cfg.Output.Stream, limit)
}

// outputFitsSlack bounds what an output event adds to its input and ID:
// the other members, the enrichment block and the headers, without a user.
const outputFitsSlack = 4096

func (w *Worker) fromCache(ctx context.Context, d *delivery, in schemas.Input) (outcome, bool) {
	if w.cache == nil {
		return outcome{}, false
	}
	c, ok, err := w.cache.Get(ctx, in.ID)
	if err != nil {
		sampled(d.log.get(), w.sample.cache).Warn().Err(err).Bool("sampled", true).Msg("outcome cache unavailable; asking the API")
		return outcome{}, false
	}
	if !ok {
		return outcome{}, false
	}
	return event(schemas.NewEnriched(in, c.Status, c.User, schemas.SourceCache, 0, w.now(), w.id)), true
}

func (w *Worker) fromAPI(ctx context.Context, d *delivery, in schemas.Input) outcome {
	w.readAttempts(ctx, d)
	res, err := w.fetcher.GetUser(ctx, in.ID)
	switch {
	case err == nil:
		status := schemas.StatusNotFound
		if res.Found {
			status = schemas.StatusEnriched
		}
		if w.cache != nil {
			if cerr := w.cache.Put(ctx, in.ID, CachedOutcome{Status: status, User: res.User}); cerr != nil {
				sampled(d.log.get(), w.sample.cache).Warn().Err(cerr).Bool("sampled", true).Msg("outcome cache write failed")
			}
		}
		return event(schemas.NewEnriched(in, status, res.User, schemas.SourceAPI, d.priorAttempts+res.Attempts, w.now(), w.id))
	case errors.Is(err, enrich.ErrRejected):
		return dead(ClassAPIRejected, err.Error())
	case ctx.Err() != nil:
		// Shutting down: hand the message to another worker at once.
		return outcome{retry: true, reason: "worker shutting down"}
	case d.meta.NumDelivered >= uint64(w.cfg.Input.MaxDeliver):
		return dead(ClassRetriesExhausted, fmt.Sprintf("still failing after %d deliveries: %v", d.meta.NumDelivered, err))
	default:
		w.markAttempts(ctx, d, res.Attempts)
		return outcome{retry: true, retryIn: w.nakDelay(d.meta.NumDelivered), reason: err.Error()}
	}
}

// readAttempts notes the HTTP attempts the earlier deliveries of a
// redelivered message recorded.
func (w *Worker) readAttempts(ctx context.Context, d *delivery) {
	if w.marks == nil || d.meta.NumDelivered <= 1 {
		d.attemptsKnown = true
		return
	}
	n, err := w.marks.Attempts(ctx, d.meta.Stream, d.meta.Sequence.Stream)
	if err != nil {
		sampled(d.log.get(), w.sample.cache).Warn().Err(err).Bool("sampled", true).Msg("attempts of earlier deliveries unreadable; the event will count fewer")
		return
	}
	d.priorAttempts, d.attemptsKnown = n, true
}

// markAttempts records, before a retry, the HTTP attempts made for the
// message so far, for the event's attempts. After a failed read it writes
// nothing: a lower count must not replace a higher one.
func (w *Worker) markAttempts(ctx context.Context, d *delivery, attempts int) {
	if w.marks == nil || attempts == 0 || !d.attemptsKnown {
		return
	}
	if err := w.marks.MarkAttempts(ctx, d.meta.Stream, d.meta.Sequence.Stream, d.priorAttempts+attempts); err != nil {
		sampled(d.log.get(), w.sample.cache).Warn().Err(err).Bool("sampled", true).Msg("attempts not recorded; the event will count fewer")
	}
}

// nakDelay grows with the delivery count, from where the in-process
// retries stopped, capped at retry.max_delay, with ±20% jitter.
func (w *Worker) nakDelay(delivered uint64) time.Duration {
	r := w.cfg.Retry
	d := r.BaseDelay
	for i := 0; i < r.Attempts+int(delivered)-1 && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// recovered turns a panic into a retry (or, on the last delivery, a dead
// letter), so one bad message never stops a worker.
func (w *Worker) recovered(ctx context.Context, d *delivery, p any) {
	if !d.log.parsed { // the panic came before the parse: this and the dead letter's lines
		d.log.parsedID(d.alertID)
	}
	d.log.get().Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Msg("panic while handling a message; recovered")
	if d.meta != nil && d.meta.NumDelivered >= uint64(w.cfg.Input.MaxDeliver) {
		func() {
			defer func() {
				if p2 := recover(); p2 != nil {
					_ = d.msg.NakWithDelay(w.cfg.Retry.MaxDelay)
				}
			}()
			w.settle(ctx, d, dead(ClassRetriesExhausted, fmt.Sprintf("panic on delivery %d: %v", d.meta.NumDelivered, p)), func() {})
		}()
		return
	}
	_ = d.msg.NakWithDelay(w.cfg.Retry.BaseDelay)
}

func dead(class, reason string) outcome { return outcome{deadClass: class, reason: reason} }

func event(e schemas.EnrichedAlert) outcome { return outcome{event: &e} }
