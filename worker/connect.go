package worker

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
)

// ErrNATSRefused is wrapped when NATS refuses the credentials or the TLS
// handshake: retrying will not help, so start-up fails.
var ErrNATSRefused = errors.New("nats refused the connection")

// ConnectOptions builds the nats.go options for cfg: authentication, TLS,
// endless reconnects, and handlers that log connection changes.
func ConnectOptions(cfg config.NATS, name string, log zerolog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil when the connection is closed on purpose
				log.Warn().Err(err).Msg("nats disconnected; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn().Err(err).Msg("nats async error")
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NkeyFile != "" {
		if o, err := nats.NkeyOptionFromSeed(cfg.NkeyFile); err == nil {
			opts = append(opts, o)
		} else {
			opts = append(opts, func(*nats.Options) error {
				return fmt.Errorf("%w: nkey_file %s: %w", ErrNATSRefused, cfg.NkeyFile, err)
			})
		}
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLS.CAFile))
	}
	if cfg.TLS.CertFile != "" || cfg.TLS.KeyFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLS.CertFile, cfg.TLS.KeyFile))
	}
	return opts
}

// Connect connects to url (a comma-separated list for a cluster). It waits
// for an unreachable server, retrying until ctx is done, but fails at once
// with ErrNATSRefused when the server refuses the credentials or TLS.
func Connect(ctx context.Context, url string, opts []nats.Option, log zerolog.Logger) (*nats.Conn, error) {
	delay := 200 * time.Millisecond
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, ErrNATSRefused) {
			return nil, err
		}
		if refused(err) {
			return nil, fmt.Errorf("%w: %w%s", ErrNATSRefused, err, refusalHint(err))
		}
		log.Warn().Err(err).Str("url", config.RedactURLs(url)).Dur("retry_in", delay).Msg("nats not reachable; retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to nats: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func refused(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) ||
		errors.Is(err, nats.ErrNkeysNotSupported) || errors.Is(err, nats.ErrTLS) ||
		errors.Is(err, nats.ErrClientCertOrRootCAsRequired) || errors.Is(err, ErrNATSRefused) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"authorization", "authentication", "tls", "x509", "certificate", "no such file", "user credentials", "nkey"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// refusalHint says which setting a refusal points at, so the start-up
// error is clear whichever way the server closed the connection.
func refusalHint(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return " (the server's certificate is not signed by a CA of nats.tls ca_file)"
	case errors.As(err, &badHost):
		return " (the server's certificate does not name the host of nats.url)"
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "after TLS handshake") ||
		strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority"):
		return " (the server wants a client certificate it trusts: check nats.tls cert_file and key_file)"
	case errors.Is(err, nats.ErrAuthorization):
		return " (check nats.creds_file, nats.nkey_file, nats.user and nats.password, or nats.token)"
	case errors.Is(err, nats.ErrSecureConnWanted):
		return " (nats.tls is set but the server does not offer TLS)"
	}
	return ""
}
