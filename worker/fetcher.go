package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich"
)

// ErrCredentials is wrapped by every call of a worker started without
// complete Defender credentials.
var ErrCredentials = errors.New("defender credentials are not configured")

// newFetcher builds the Defender client of cfg. Without complete
// credentials the worker still runs (every attribute of the configuration
// is optional, and NATS works without them): each message then fails as a
// transient error naming what is missing, is retried, and after
// input.max_deliver deliveries becomes a retries_exhausted dead letter,
// replayable once the credentials are set.
func newFetcher(cfg *config.Config, hc *http.Client, limiter enrich.Limiter, onAttempt func(enrich.AttemptInfo), log zerolog.Logger) (UserFetcher, error) {
	if problems := cfg.CredentialProblems(); len(problems) > 0 {
		for _, p := range problems {
			log.Error().Msg(p)
		}
		log.Error().Msg("the Defender API cannot be called: every alert will fail until the credentials are set")
		return unconfigured{why: strings.Join(problems, "; ")}, nil
	}
	client, err := enrich.NewClient(enrich.Options{
		BaseURL: cfg.Defender.BaseURL, TokenURL: cfg.TokenURL(), Scope: cfg.Defender.Scope,
		ClientID: cfg.Defender.ClientID, ClientSecret: cfg.Defender.ClientSecret, ClientSecretFile: cfg.Defender.ClientSecretFile,
		Timeout: cfg.Defender.Timeout, Attempts: cfg.Retry.Attempts, BaseDelay: cfg.Retry.BaseDelay, MaxDelay: cfg.Retry.MaxDelay,
		Limiter: limiter, HTTPClient: hc, Connections: cfg.Worker.Concurrency, Logger: &log, OnAttempt: onAttempt,
	})
	if err != nil {
		return nil, fmt.Errorf("defender client: %w", err)
	}
	return client, nil
}

// unconfigured answers every call with ErrCredentials, a transient error.
type unconfigured struct{ why string }

func (u unconfigured) GetUser(context.Context, string) (enrich.Result, error) {
	return enrich.Result{}, fmt.Errorf("%w (%s): %w", ErrCredentials, u.why, enrich.ErrTransient)
}
