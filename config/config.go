// Package config is the enricher's configuration: the HCL schema of CONTRACT
// section 2, its defaults, the ENRICHER_* environment overrides and a
// validation that reports every problem at once with its file position.
//
// The lifecycle is the one of Caddy and Watermill: decode strictly (unknown
// blocks and attributes are errors), apply the defaults for what is absent,
// apply the environment overrides, then Validate.
package config

import "time"

// Config is the complete, effective configuration of one enricher process.
type Config struct {
	// File is the configuration file's path as it was given, "" when the
	// built-in defaults are used.
	File string

	// NATS says how to reach NATS, or how to run the embedded server.
	NATS NATS
	// Input is the stream and durable consumer the alert IDs are read from.
	Input Input
	// Output is the stream enriched events are published to.
	Output Output
	// DeadLetter is the stream messages that cannot be enriched go to.
	DeadLetter DeadLetter
	// Defender is the Microsoft Defender API and its OAuth2 credentials.
	Defender Defender
	// Quota is the fleet-wide call budget kept in a JetStream KV bucket.
	Quota Quota
	// Retry is the per-delivery HTTP retry policy.
	Retry Retry
	// Cache is the KV bucket of outcomes per alert ID.
	Cache Cache
	// Worker is the in-process parallelism.
	Worker Worker
	// HTTP is the operations endpoint (/metrics, /healthz, /readyz).
	HTTP HTTP
	// Log is the logger's level and format.
	Log Log

	// origins records where each attribute's value came from (a file range
	// or an environment variable), keyed by its dotted path such as
	// "input.ack_wait". Nil for a Config built in code.
	origins map[string]origin
}

// NATS is the `nats` block.
type NATS struct {
	// URL is "" for the embedded server, or a comma-separated list of
	// nats://, tls://, ws://, wss:// URLs or host:port pairs.
	URL string
	// CredsFile is the path of a NATS .creds file (JWT and nkey seed).
	CredsFile string
	// NkeyFile is the path of a file holding an nkey seed.
	NkeyFile string
	// User is the user name of user/password authentication.
	User string
	// Password is the password of user/password authentication; secret.
	Password string
	// Token is a NATS authentication token; secret.
	Token string
	// ManageResources makes `run` create or update the declared streams,
	// consumer and buckets itself.
	ManageResources bool
	// TLS is the client TLS configuration; all fields empty means none.
	TLS TLS
	// Embedded configures the server started when URL is "".
	Embedded Embedded
}

// TLS is the `nats.tls` block. All fields empty means no TLS block.
type TLS struct {
	// CAFile is a PEM file of the CAs to trust for the server certificate.
	CAFile string
	// CertFile is the client certificate (PEM), set together with KeyFile.
	CertFile string
	// KeyFile is the client certificate's private key (PEM).
	KeyFile string
}

// Embedded is the `nats.embedded` block.
type Embedded struct {
	// Listen is the host:port the embedded server listens on.
	Listen string
	// StoreDir is the directory of the embedded server's JetStream file store.
	StoreDir string
}

// Input is the `input` block.
type Input struct {
	// Stream is the name of the stream of alert IDs.
	Stream string
	// Subjects are the subjects the input stream captures (wildcards allowed).
	Subjects []string
	// Consumer is the durable pull consumer shared by all workers.
	Consumer string
	// AckWait is how long a delivered message may stay unacknowledged.
	AckWait time.Duration
	// MaxDeliver is how many deliveries a message gets before it is dead-lettered.
	MaxDeliver int
	// Replicas is the input stream's replica count (1, 3 or 5).
	Replicas int
}

// Output is the `output` block.
type Output struct {
	// Stream is the name of the stream of enriched events.
	Stream string
	// Subject is the literal subject enriched events are published to.
	Subject string
	// DuplicateWindow is the stream's de-duplication window.
	DuplicateWindow time.Duration
	// Replicas is the output stream's replica count (1, 3 or 5).
	Replicas int
}

// DeadLetter is the `dead_letter` block.
type DeadLetter struct {
	// Stream is the name of the dead-letter stream.
	Stream string
	// Subject is the literal subject dead letters are published to.
	Subject string
	// Replicas is the dead-letter stream's replica count (1, 3 or 5).
	Replicas int
}

// Defender is the `defender` block.
type Defender struct {
	// BaseURL is the API's base URL (https, or http to a loopback host).
	BaseURL string
	// TokenURL is the OAuth2 token endpoint; "" derives it from TenantID
	// (see Config.TokenURL).
	TokenURL string
	// Scope is the OAuth2 scope requested.
	Scope string
	// TenantID is the Entra ID tenant.
	TenantID string
	// ClientID is the application (client) ID.
	ClientID string
	// ClientSecret is the client secret; secret, never printed or logged.
	ClientSecret string
	// ClientSecretFile is a file holding the client secret (white space
	// around it is trimmed); see Config.ClientSecret.
	ClientSecretFile string
	// Timeout bounds each HTTP attempt.
	Timeout time.Duration
	// AllowInsecureHTTP permits http:// to a non-loopback host.
	AllowInsecureHTTP bool
	// MaxAlertAge is the age beyond which alerts are not queried.
	MaxAlertAge time.Duration
}

// Quota is the `quota` block.
type Quota struct {
	// Bucket is the JetStream KV bucket shared by all workers.
	Bucket string
	// Key is the KV key of the budget; "" derives it (see Config.QuotaKey).
	Key string
	// Limits are the N/W limits, all enforced together.
	Limits []Limit
	// Margin is the safety added to every window.
	Margin time.Duration
	// Replicas is the bucket's replica count (1, 3 or 5).
	Replicas int
}

// Retry is the `retry` block.
type Retry struct {
	// Attempts is the number of HTTP attempts per delivery for retryable failures.
	Attempts int
	// BaseDelay is the first backoff delay.
	BaseDelay time.Duration
	// MaxDelay caps every backoff delay.
	MaxDelay time.Duration
}

// Bounds of cache.local_entries: the tier holds at most that many outcomes
// and that many KiB of them (10 MiB at the default).
const (
	DefaultLocalEntries = 10000
	MinLocalEntries     = 16 // below, the KiB budget holds no user entity
	MaxLocalEntries     = 1000000
)

// Cache is the `cache` block.
type Cache struct {
	// Bucket is the KV bucket of outcomes per alert ID.
	Bucket string
	// TTL is how long an outcome is kept.
	TTL time.Duration
	// Replicas is the bucket's replica count (1, 3 or 5).
	Replicas int
	// LocalEntries bounds the in-process tier in front of the bucket: the
	// most recent outcomes each worker keeps in memory, at most that many
	// and that many KiB (0 = no tier).
	LocalEntries int
}

// Worker is the `worker` block.
type Worker struct {
	// Concurrency is the number of messages processed at once (1 to 1024).
	Concurrency int
}

// HTTP is the `http` block.
type HTTP struct {
	// Listen is the host:port of /metrics, /healthz and /readyz; "" = off.
	Listen string
}

// Log is the `log` block.
type Log struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is json or console.
	Format string
}

// Default returns the defaults of CONTRACT section 2. Each call returns a
// new value that the caller may change freely.
func Default() *Config {
	return &Config{
		NATS: NATS{
			ManageResources: true,
			Embedded:        Embedded{Listen: "127.0.0.1:4222", StoreDir: "data/nats"},
		},
		Input: Input{
			Stream:     "ALERTS",
			Subjects:   []string{"alerts.new"},
			Consumer:   "enricher",
			AckWait:    30 * time.Second,
			MaxDeliver: 10,
			Replicas:   1,
		},
		Output: Output{
			Stream:          "ENRICHED",
			Subject:         "alerts.enriched",
			DuplicateWindow: 2 * time.Minute,
			Replicas:        1,
		},
		DeadLetter: DeadLetter{Stream: "ENRICHER_DLQ", Subject: "alerts.dlq", Replicas: 1},
		Defender: Defender{
			BaseURL:     "https://api.securitycenter.microsoft.com",
			Scope:       "https://api.securitycenter.microsoft.com/.default",
			Timeout:     10 * time.Second,
			MaxAlertAge: 720 * time.Hour,
		},
		Quota: Quota{
			Bucket:   "enricher_quota",
			Limits:   []Limit{{Calls: 100, Window: time.Minute}, {Calls: 1500, Window: time.Hour}},
			Margin:   time.Second,
			Replicas: 1,
		},
		Retry:  Retry{Attempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: time.Minute},
		Cache:  Cache{Bucket: "enricher_users", TTL: 24 * time.Hour, Replicas: 1, LocalEntries: DefaultLocalEntries},
		Worker: Worker{Concurrency: 16},
		HTTP:   HTTP{Listen: "127.0.0.1:9090"},
		Log:    Log{Level: "info", Format: "json"},
	}
}
