package worker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
)

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	// Listen is host:port; port 0 or -1 picks a free port.
	Listen string
	// StoreDir is the JetStream file store directory.
	StoreDir string
	// Logger receives the server's notices, warnings and errors.
	Logger zerolog.Logger

	// User and Password, when User is set, are the only credentials the
	// server accepts.
	User, Password string
	// Token, when set, is the only token the server accepts.
	Token string
	// NkeyFile, when set, holds the nkey seed of the only user the server
	// accepts (the server keeps only its public key).
	NkeyFile string
	// TLS, when CertFile and KeyFile are set, makes the server require TLS
	// with that certificate; with CAFile it also requires client
	// certificates signed by that CA (mutual TLS).
	TLS config.TLS
	// CredsFile is refused: JWT credentials need a server in operator mode,
	// which the embedded server is not.
	CredsFile string
}

// EmbeddedFromConfig returns the options of the embedded server declared
// by the nats block: its listen address and store, and the same
// credentials and TLS the worker itself connects with.
func EmbeddedFromConfig(n config.NATS, log zerolog.Logger) EmbeddedOptions {
	return EmbeddedOptions{
		Listen: n.Embedded.Listen, StoreDir: n.Embedded.StoreDir, Logger: log,
		User: n.User, Password: n.Password, Token: n.Token, NkeyFile: n.NkeyFile, TLS: n.TLS, CredsFile: n.CredsFile,
	}
}

// authenticates reports whether the server will require clients to prove
// who they are: a user, a token, an nkey or a client certificate.
func (o EmbeddedOptions) authenticates() bool {
	return o.User != "" && o.Password != "" || o.Token != "" || o.NkeyFile != "" || o.servesTLS() && o.TLS.CAFile != ""
}

func (o EmbeddedOptions) servesTLS() bool { return o.TLS.CertFile != "" && o.TLS.KeyFile != "" }

// ErrListen is wrapped when the embedded server cannot bind its address.
var ErrListen = errors.New("embedded nats cannot listen")

// ErrInsecureListen is wrapped when the embedded server is asked to listen
// beyond loopback without authentication.
var ErrInsecureListen = errors.New("embedded nats refuses to listen beyond loopback without authentication")

// Embedded is an in-process NATS server with JetStream. This file is the
// only place outside tests that imports nats-server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream on opts.Listen and
// waits until it accepts connections. It refuses (ErrInsecureListen) a
// non-loopback address unless the options require authentication; its
// errors never hold a password, token or key.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen %q: %w", opts.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen %q: bad port: %w", opts.Listen, err)
	}
	if !loopbackHost(host) && !opts.authenticates() {
		return nil, fmt.Errorf("%w: %s (set nats.user and nats.password, nats.token, nats.nkey_file, "+
			"or nats.tls with ca_file, cert_file and key_file for client certificates)", ErrInsecureListen, opts.Listen)
	}
	sopts := &server.Options{
		ServerName: "enricher-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
	}
	if err := opts.secure(sopts); err != nil {
		return nil, err
	}
	if port <= 0 {
		sopts.Port = server.RANDOM_PORT
	} else {
		// nats-server reports a bind failure only through its logger; probe first
		// so that "port in use" is a clear start-up error.
		l, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w on %s: %w", ErrListen, opts.Listen, err)
		}
		_ = l.Close()
	}
	if err := usableDir(opts.StoreDir); err != nil {
		return nil, fmt.Errorf("embedded nats store_dir %q: %w", opts.StoreDir, err)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(serverLogger{opts.Logger}, false, false, false)
	if !loopbackHost(host) && !opts.servesTLS() {
		opts.Logger.Warn().Str("listen", opts.Listen).Msg("embedded nats listens beyond loopback without TLS: credentials and messages travel in clear text; set nats.tls")
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w on %s: not ready after 15s", ErrListen, opts.Listen)
	}
	return &Embedded{srv: srv}, nil
}

// ErrEmbeddedAuth is wrapped when the embedded server cannot require what
// the options ask for.
var ErrEmbeddedAuth = errors.New("embedded nats cannot require these credentials")

// secure sets the server's authentication and TLS from o.
func (o EmbeddedOptions) secure(s *server.Options) error {
	switch {
	case o.CredsFile != "":
		return fmt.Errorf("%w: nats.creds_file holds JWT credentials, which need a NATS server in operator mode; "+
			"set nats.url, or use nats.user and nats.password, nats.token or nats.nkey_file", ErrEmbeddedAuth)
	case o.TLS.CAFile != "" && !o.servesTLS():
		return fmt.Errorf("%w: nats.tls.ca_file is set without cert_file and key_file; "+
			"the embedded server serves TLS only with a certificate", ErrEmbeddedAuth)
	case o.User != "" && o.Password == "":
		return fmt.Errorf("%w: nats.user without nats.password", ErrEmbeddedAuth)
	}
	switch {
	case o.User != "":
		s.Users = []*server.User{{Username: o.User, Password: o.Password}}
	case o.Token != "":
		s.Authorization = o.Token
	case o.NkeyFile != "":
		pub, err := nkeyPublicKey(o.NkeyFile)
		if err != nil {
			return err
		}
		s.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	}
	if !o.servesTLS() {
		return nil
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile, CaFile: o.TLS.CAFile,
		Verify: o.TLS.CAFile != "", // GenTLSConfig's minimum version is TLS 1.2
	})
	if err != nil {
		return fmt.Errorf("embedded nats tls (cert_file %s): %w", o.TLS.CertFile, err)
	}
	s.TLS, s.TLSConfig, s.TLSVerify, s.TLSTimeout = true, tc, o.TLS.CAFile != "", 5
	s.TLSCert, s.TLSKey, s.TLSCaCert = o.TLS.CertFile, o.TLS.KeyFile, o.TLS.CAFile
	return nil
}

// nkeyPublicKey reads an nkey seed file and returns the user's public key.
// Errors name the file, never its content.
func nkeyPublicKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("embedded nats nkey_file: %w", err)
	}
	defer wipe(b)
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", fmt.Errorf("embedded nats nkey_file %s: not an nkey seed", path)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("embedded nats nkey_file %s: not a user nkey seed", path)
	}
	return pub, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}

// loopbackHost reports whether a listen host accepts only local
// connections: localhost or a loopback IP. "" and 0.0.0.0 are every
// interface, and any other name may resolve beyond the machine.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ClientURL is the URL clients of this process connect to (tls:// when the
// server requires TLS); an all-interfaces listen address is reached on
// 127.0.0.1.
func (e *Embedded) ClientURL() string {
	u := e.srv.ClientURL()
	for _, all := range []string{"://0.0.0.0:", "://[::]:", "://:"} {
		u = strings.Replace(u, all, "://127.0.0.1:", 1)
	}
	return u
}

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

// usableDir creates dir if needed and checks that files can be written in
// it, so an unusable store fails start-up at once with its own reason.
func usableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".enricher-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}
