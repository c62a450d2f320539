// Package sim is a simulator of the Microsoft Defender for Endpoint API as the
// enricher uses it: the Microsoft identity platform token endpoint
// (client-credentials grant) and GET /api/alerts/{id}/user, with the
// documented error envelope, per-client sliding-window rate limits answered
// with 429 and Retry-After, injected failures, latency and hostile bodies.
//
// A *Server is an http.Handler, so tests mount it in httptest; `enricher sim`
// serves it with Run. Routes:
//
//	POST /{tenant}/oauth2/v2.0/token   token (also the legacy POST /{tenant}/oauth2/token)
//	GET  /api/alerts/{id}/user         the user entity of an alert
//	GET  /_sim/alerts?n=K              the first K alert IDs of the data set (JSON array)
//	GET  /_sim/stats                   counters and window maxima (Stats as JSON)
//	POST /_sim/reset                   clears counters, the request log and the limiter
//
// The data set is deterministic: Options.Alerts alert IDs generated from a
// fixed seed, so the same N always gives the same IDs in the same order (and
// a smaller N gives a prefix of a larger one). Roughly one alert in ten has no
// user and answers 404.
//
// Everything the server decides happens under one mutex, with the clock read
// inside it, so the rate limits are exact even with many concurrent callers.
package sim
