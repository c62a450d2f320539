package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich"
)

// ErrResources is wrapped when the declared NATS resources are missing or
// different and manage_resources is false.
var ErrResources = errors.New("nats resources do not match the configuration")

// RuntimeOptions configures a Runtime.
type RuntimeOptions struct {
	// Config is the validated configuration.
	Config *config.Config
	// Logger receives every log line.
	Logger zerolog.Logger
	// HTTPClient is used for the Defender API; nil = the hardened default.
	HTTPClient *http.Client
	// ID names the worker; "" = host-pid.
	ID string
	// ShutdownGrace bounds the drain of in-flight messages; 0 = 15s.
	ShutdownGrace time.Duration
	// Observer receives settled messages; optional.
	Observer Observer
	// Metrics, when set, receives every figure: settled messages, API
	// attempts, quota waits, cache look-ups, and consumer info refreshed
	// every StatsInterval; the runtime's quota, in-flight count and
	// readiness are read from it at scrape time.
	Metrics *Metrics
	// StatsInterval is how often consumer info is read for Metrics; 0 = 5s.
	StatsInterval time.Duration
}

// Runtime is one running worker with everything it needs: the NATS
// connection (and the embedded server when nats.url is empty), the declared
// resources, the quota, the outcome cache and the Defender client.
type Runtime struct {
	cfg      *config.Config
	log      zerolog.Logger
	embedded *Embedded
	nc       *nats.Conn
	closed   chan struct{}
	js       jetstream.JetStream
	worker   *Worker
	Quota    *enrich.Quota
	// Local is the in-process cache tier; nil when cache.local_entries is
	// 0 or the bucket cannot be watched.
	Local     *LocalCache
	stopLocal context.CancelFunc
	closeOnce sync.Once
	metrics   *Metrics
	statsInt  time.Duration
}

// StartRuntime connects (starting the embedded server if needed), applies
// or checks the declared resources and builds the worker. Errors wrap
// ErrListen, ErrNATSRefused or ErrResources where they apply.
func StartRuntime(ctx context.Context, opts RuntimeOptions) (_ *Runtime, err error) {
	cfg := opts.Config
	r := &Runtime{cfg: cfg, log: opts.Logger, metrics: opts.Metrics, statsInt: opts.StatsInterval}
	if r.statsInt <= 0 {
		r.statsInt = 5 * time.Second
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	url := cfg.NATS.URL
	if url == "" {
		r.embedded, err = StartEmbedded(EmbeddedFromConfig(cfg.NATS, opts.Logger.With().Str("component", "nats-server").Logger()))
		if err != nil {
			return nil, err
		}
		url = r.embedded.ClientURL()
		r.log.Info().Str("url", url).Str("store_dir", cfg.NATS.Embedded.StoreDir).Msg("embedded nats server started")
	}
	id := opts.ID
	if id == "" {
		id = DefaultID()
	}
	r.closed = make(chan struct{})
	nopts := append(ConnectOptions(cfg.NATS, "enricher "+id, r.log), nats.ClosedHandler(func(*nats.Conn) { close(r.closed) }))
	r.nc, err = Connect(ctx, url, nopts, r.log)
	if err != nil {
		return nil, err
	}
	r.js, err = jetstream.New(r.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := r.ensureResources(ctx); err != nil {
		return nil, err
	}
	quotaKV, err := r.js.KeyValue(ctx, cfg.Quota.Bucket)
	if err != nil {
		return nil, fmt.Errorf("quota bucket %s: %w", cfg.Quota.Bucket, err)
	}
	qlog := r.log.With().Str("component", "quota").Logger()
	r.Quota, err = enrich.NewQuota(quotaKV, enrich.QuotaOptions{Key: cfg.QuotaKey(), Limits: cfg.Quota.Limits, Margin: cfg.Quota.Margin, Logger: &qlog})
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	cacheKV, err := r.js.KeyValue(ctx, cfg.Cache.Bucket)
	if err != nil {
		return nil, fmt.Errorf("cache bucket %s: %w", cfg.Cache.Bucket, err)
	}
	var (
		limiter   enrich.Limiter = r.Quota
		kvCache                  = NewKVCache(cacheKV)
		cache     OutcomeCache   = kvCache
		observer                 = opts.Observer
		onAttempt func(enrich.AttemptInfo)
	)
	if r.Local, err = r.startLocalCache(kvCache); err != nil {
		return nil, err
	}
	if r.Local != nil {
		cache = r.Local
	}
	if m := r.metrics; m != nil {
		limiter, cache, onAttempt = m.Limiter(limiter), m.Cache(cache), m.ObserveAttempt
		observer = joinObservers(observer, m)
	}
	fetcher, err := newFetcher(cfg, opts.HTTPClient, limiter, onAttempt, r.log.With().Str("component", "defender").Logger())
	if err != nil {
		return nil, err
	}
	r.worker, err = New(Options{
		Config: cfg, Conn: r.nc, Fetcher: fetcher, Cache: cache, Marks: kvCache, Logger: r.log,
		ID: id, ShutdownGrace: opts.ShutdownGrace, Observer: observer,
	})
	if err != nil {
		return nil, err
	}
	if r.metrics != nil {
		r.metrics.attach(r)
	}
	return r, nil
}

// startLocalCache puts the in-process tier in front of the bucket and
// starts its watch, which lives until the runtime closes. A watch that
// cannot start (say, a user without the permission) leaves the tier off:
// a warning, not a failure.
func (r *Runtime) startLocalCache(kv *KVCache) (*LocalCache, error) {
	if r.cfg.Cache.LocalEntries <= 0 {
		return nil, nil
	}
	local, err := NewLocalCache(kv, r.cfg.Cache.LocalEntries, r.cfg.Cache.TTL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := local.Watch(ctx, r.nc, r.log); err != nil {
		cancel()
		r.log.Warn().Err(err).Msg("in-process cache tier off: every look-up goes to the cache bucket")
		return nil, nil
	}
	r.stopLocal = cancel
	return local, nil
}

// ensureResources applies the declared resources, or with
// manage_resources = false checks that they exist as declared.
func (r *Runtime) ensureResources(ctx context.Context) error {
	declared := DeclaredResources(r.cfg)
	if r.cfg.NATS.ManageResources {
		changes, err := Apply(ctx, r.js, declared)
		if err != nil {
			return fmt.Errorf("apply nats resources: %w", err)
		}
		for _, c := range changes {
			if c.Action != ActionNone {
				r.log.Info().Str("resource", c.Kind+" "+c.Name).Str("action", string(c.Action)).Msg("nats resource applied")
			}
		}
		return nil
	}
	changes, err := Plan(ctx, r.js, declared)
	if err != nil {
		return fmt.Errorf("check nats resources: %w", err)
	}
	if Pending(changes) {
		return fmt.Errorf("%w (manage_resources = false; run `enricher apply`):\n%s", ErrResources, strings.TrimSpace(FormatPlan(changes)))
	}
	return nil
}

// Worker is the runtime's worker (for readiness and metrics).
func (r *Runtime) Worker() *Worker { return r.worker }

// Conn is the runtime's NATS connection.
func (r *Runtime) Conn() *nats.Conn { return r.nc }

// Run runs the worker until ctx is cancelled, then drains the connection
// and stops the embedded server. With Metrics, it also refreshes the
// consumer figures every StatsInterval meanwhile.
func (r *Runtime) Run(ctx context.Context) error {
	stopStats := r.refreshConsumerStats(ctx)
	err := r.worker.Run(ctx)
	stopStats()
	r.Close()
	return err
}

// Close drains the connection and stops the embedded server, as Run does
// when it returns; it does nothing the second time.
func (r *Runtime) Close() { r.closeOnce.Do(r.close) }

func (r *Runtime) close() {
	if r.stopLocal != nil {
		r.stopLocal()
	}
	if r.nc != nil {
		if err := r.nc.Drain(); err != nil {
			r.nc.Close()
		}
		select {
		case <-r.closed:
		case <-time.After(30 * time.Second):
			r.nc.Close()
		}
	}
	if r.embedded != nil {
		r.embedded.Shutdown()
		r.log.Info().Msg("embedded nats server stopped")
	}
}
