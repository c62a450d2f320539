package worker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	// Listen is host:port; port 0 or -1 picks a free port.
	Listen string
	// StoreDir is the JetStream file store directory.
	StoreDir string
	// Logger receives the server's notices, warnings and errors.
	Logger zerolog.Logger
}

// ErrListen is wrapped when the embedded server cannot bind its address.
var ErrListen = errors.New("embedded nats cannot listen")

// Embedded is an in-process NATS server with JetStream. This file is the
// only place outside tests that imports nats-server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream on opts.Listen and
// waits until it accepts connections.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen %q: %w", opts.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen %q: bad port: %w", opts.Listen, err)
	}
	if port <= 0 {
		port = server.RANDOM_PORT
	} else {
		// nats-server reports a bind failure only through its logger; probe first
		// so that "port in use" is a clear start-up error.
		l, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w on %s: %w", ErrListen, opts.Listen, err)
		}
		_ = l.Close()
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "enricher-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(serverLogger{opts.Logger}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w on %s: not ready after 15s", ErrListen, opts.Listen)
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger adapts zerolog to nats-server's Logger. Fatal errors are
// logged, never turned into an exit.
type serverLogger struct{ log zerolog.Logger }

func (l serverLogger) Noticef(f string, v ...any) { l.log.Debug().Msgf(f, v...) }
func (l serverLogger) Warnf(f string, v ...any)   { l.log.Warn().Msgf(f, v...) }
func (l serverLogger) Fatalf(f string, v ...any)  { l.log.Error().Msgf(f, v...) }
func (l serverLogger) Errorf(f string, v ...any)  { l.log.Error().Msgf(f, v...) }
func (l serverLogger) Debugf(f string, v ...any)  { l.log.Trace().Msgf(f, v...) }
func (l serverLogger) Tracef(f string, v ...any)  { l.log.Trace().Msgf(f, v...) }
