package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/sethvargo/go-retry"
)

// userCall is the state of one GetUser call across its attempts.
type userCall struct {
	c         *Client
	url       string
	res       *Result
	alertID   string
	log       *zerolog.Logger // built by logger on the first line written
	notBefore time.Time       // no attempt before this (from a Retry-After)
}

// logger is the call's logger (the client's, with alert_id), built on
// first use: most calls write no line. A call's attempts run one at a time.
func (u *userCall) logger() *zerolog.Logger {
	if u.log == nil {
		l := u.c.log.With().Str("alert_id", u.alertID).Logger()
		u.log = &l
	}
	return u.log
}

// debug starts a debug line about the call, or returns nil (on which every
// zerolog method is a no-op) when the client writes no debug lines.
func (u *userCall) debug() *zerolog.Event {
	if u.c.log.GetLevel() > zerolog.DebugLevel || zerolog.GlobalLevel() > zerolog.DebugLevel {
		return nil
	}
	return u.logger().Debug()
}

// try is one retry step: get a token, send one attempt, and on a 401 send
// one more at once with a fresh token. It returns the user (nil for a 404)
// or a classified error: retry.RetryableError(transient) to go on, plain
// transient or rejected to stop, or the context's error.
func (u *userCall) try(ctx context.Context) (json.RawMessage, error) {
	tok, err := u.token(ctx)
	if err != nil {
		return nil, err
	}
	user, err := u.attempt(ctx, tok)
	if errors.Is(err, ErrUnauthorized) && ctx.Err() == nil {
		u.c.tokens.invalidate(tok)
		if tok, err = u.token(ctx); err != nil {
			return nil, err
		}
		user, err = u.attempt(ctx, tok)
		if errors.Is(err, ErrUnauthorized) {
			return nil, rejected(fmt.Errorf("again with a fresh token: %w", err))
		}
	}
	return user, classify(ctx, err)
}

// token returns a token, or a classified error.
func (u *userCall) token(ctx context.Context) (string, error) {
	tok, err := u.c.tokens.Token(ctx)
	if err == nil {
		return tok, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	u.debug().Err(err).Msg("defender api: no access token")
	return "", retry.RetryableError(transient(err))
}

// classify maps the outcome of an attempt to what retry.DoValue expects.
func classify(ctx context.Context, err error) error {
	var ae *APIError
	var le *limiterError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &le):
		return transient(err) // the quota is down: give the message back, do not spin
	case errors.Is(err, ErrRedirect):
		return rejected(err)
	case errors.As(err, &ae):
		if retryableStatus(ae.StatusCode) {
			return retry.RetryableError(transient(err))
		}
		return rejected(err)
	}
	// A bad 200, a timeout, a refused or reset connection.
	return retry.RetryableError(transient(err))
}

// attempt waits for quota and sends one request. It returns the user, nil
// and nil for a 404, or an unclassified error.
func (u *userCall) attempt(ctx context.Context, tok string) (json.RawMessage, error) {
	if err := u.c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &limiterError{err: err}
	}
	u.res.Attempts++
	start := time.Now()
	user, status, err := u.send(ctx, tok)
	elapsed := time.Since(start)
	u.res.StatusCodes = append(u.res.StatusCodes, status)
	if u.c.onAttempt != nil {
		u.c.onAttempt(AttemptInfo{Number: u.res.Attempts, Status: status, Elapsed: elapsed})
	}
	ev := u.debug().Int("attempt", u.res.Attempts).Int("status", status).Dur("elapsed", elapsed)
	if err != nil {
		ev = ev.Err(err)
	}
	ev.Msg("defender api attempt")
	return user, err
}

// send makes one HTTP request under the per-attempt timeout and reads its
// answer. status is 0 when no answer arrived.
func (u *userCall) send(ctx context.Context, tok string) (json.RawMessage, int, error) {
	actx, cancel := context.WithTimeout(ctx, u.c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("defender api: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "enricher")
	resp, err := u.c.http.Do(req)
	if err != nil {
		return nil, 0, u.transportError(ctx, actx, err)
	}
	receivedAt := time.Now()
	defer drainAndClose(resp.Body)
	code := resp.StatusCode
	switch {
	case code == http.StatusOK:
		body, over, err := readCapped(resp.Body, MaxUserBytes)
		if err != nil {
			return nil, code, u.transportError(ctx, actx, err)
		}
		if over {
			return nil, code, fmt.Errorf("%w: over %d bytes", ErrBadResponse, MaxUserBytes)
		}
		user, err := parseUser(body)
		return user, code, err
	case code < 400:
		return nil, code, fmt.Errorf("%w: status %d", ErrBadResponse, code)
	}
	body, _, err := readCapped(resp.Body, maxErrorBody)
	if err != nil && ctx.Err() != nil {
		return nil, code, ctx.Err()
	}
	ae := newAPIError(resp, body, receivedAt, tok)
	if code == http.StatusNotFound {
		return nil, code, nil
	}
	if ae.RetryAfter > 0 {
		if until := receivedAt.Add(ae.RetryAfter); until.After(u.notBefore) {
			u.notBefore = until
		}
		if code == http.StatusTooManyRequests {
			if err := u.c.limiter.Pause(ctx, u.notBefore); err != nil {
				if ctx.Err() != nil {
					return nil, code, ctx.Err()
				}
				u.logger().Warn().Err(err).Msg("quota: pause after a 429 not recorded")
			}
		}
	}
	return nil, code, ae
}

// transportError names a failed exchange without wrapping the per-attempt
// context's error (so errors.Is(err, context.DeadlineExceeded) stays about
// the caller's context).
func (u *userCall) transportError(ctx, actx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s", ErrTimeout, u.c.timeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() { // a transport timeout (dial, tls, headers)
		return fmt.Errorf("%w: %s", ErrTimeout, cleanText(err.Error(), maxErrorText, nil))
	}
	return fmt.Errorf("defender api: request failed: %w", err)
}
