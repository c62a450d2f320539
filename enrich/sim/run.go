package sim

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// shutdownGrace is how long Serve waits for calls in flight at shutdown.
const shutdownGrace = 5 * time.Second

// Run listens on listen (host:port; port 0 picks a free one) and serves
// New(opts) as Serve does. It logs the bound address at info level as
// "addr". To learn the address programmatically, listen yourself and call
// Serve.
func Run(ctx context.Context, listen string, opts Options, log zerolog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen for the simulator on %s: %w", listen, err)
	}
	return New(opts).Serve(ctx, ln, log)
}

// Serve answers HTTP requests on ln until ctx is done, then shuts down: it
// stops accepting, lets calls in flight finish (at most 5 s, then cancels
// them) and closes ln. It returns nil after a shutdown caused by ctx, or the
// error that stopped serving. Each request is logged at debug level (method,
// path, status, duration; never a header or a form value).
func (s *Server) Serve(ctx context.Context, ln net.Listener, log zerolog.Logger) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	var active atomic.Int64 // requests being answered
	logged := logRequests(s, log)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			active.Add(1)
			defer active.Add(-1)
			logged.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          stdlog.New(log.With().Str("component", "http").Logger(), "", 0),
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("defender simulator listening")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve the simulator: %w", err)
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Shutdown alone waits up to 5 s for a connection that was opened but
	// never sent a request; close everything as soon as no call is in flight.
	shDone := make(chan error, 1)
	go func() { shDone <- srv.Shutdown(shCtx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-shDone:
			break wait
		case <-tick.C:
			if active.Load() == 0 {
				_ = srv.Close()
			}
		}
	}
	if err != nil {
		cancelBase() // ends latency sleeps of calls still in flight
		err = errors.Join(fmt.Errorf("shut the simulator down: %w", err), srv.Close())
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve the simulator: %w", serr))
	}
	log.Info().Msg("defender simulator stopped")
	return err
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs each request at debug level.
func logRequests(h http.Handler, log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if log.GetLevel() > zerolog.DebugLevel {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", sw.status).
			Dur("took", time.Since(start)).Msg("simulator request")
	})
}
