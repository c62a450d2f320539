// Package enrich is the Microsoft Defender for Endpoint client of the
// enricher: an OAuth2 client-credentials token source, GET
// /api/alerts/{id}/user with error classification, retry with backoff that
// honours Retry-After, and a hook to the fleet-wide quota (Limiter).
//
// Every error GetUser returns wraps ErrTransient (try again later),
// ErrRejected (permanent for this alert) or is a context error; status
// sentinels (ErrNotFound, ErrThrottled, ...) and *APIError say more. No error
// and no log line ever contains the client secret or an access token.
package enrich
