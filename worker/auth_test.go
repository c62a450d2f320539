package worker

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// withUsers makes a test server accept only these user/password pairs.
func withUsers(pairs ...string) func(*server.Options) {
	return func(o *server.Options) {
		for i := 0; i+1 < len(pairs); i += 2 {
			o.Users = append(o.Users, &server.User{Username: pairs[i], Password: pairs[i+1]})
		}
	}
}

// TestUserPasswordAuth: a worker with nats.user/password enriches alerts
// on a server that requires them; a wrong password is refused at once with
// ErrNATSRefused, and neither password reaches the log or the error.
func TestUserPasswordAuth(t *testing.T) {
	t.Parallel()
	const pw, wrong = "worker-pw-4b7e19", "not-the-pw-0aa2"
	e := newSecureEnv(t, sim.Options{Alerts: 50}, []nats.Option{nats.UserInfo("admin", "admin-pw-c5")}, withUsers("enricher", pw, "admin", "admin-pw-c5"))
	e.Cfg.NATS.User, e.Cfg.NATS.Password = "enricher", pw
	e.startWorkers(1)
	e.runAlerts(5)

	bad := *e.Cfg
	bad.NATS.Password = wrong
	var log syncBuffer
	err := startRuntimeErr(t, &bad, &log)
	wantRefused(t, err, "authorization", "nats.password")
	assertNoSecret(t, "the refusal", err.Error(), wrong, pw)
	assertNoSecret(t, "the workers' logs", e.log.String()+log.String(), pw, wrong)
}

// TestTokenAuth: the same with nats.token.
func TestTokenAuth(t *testing.T) {
	t.Parallel()
	const tok = "worker-token-93f0c2d8"
	e := newSecureEnv(t, sim.Options{Alerts: 50}, []nats.Option{nats.Token(tok)}, func(o *server.Options) { o.Authorization = tok })
	e.Cfg.NATS.Token = tok
	e.startWorkers(1)
	e.runAlerts(5)

	bad := *e.Cfg
	bad.NATS.Token = "wrong-token-11e5"
	var log syncBuffer
	err := startRuntimeErr(t, &bad, &log)
	wantRefused(t, err, "authorization")
	assertNoSecret(t, "the workers' logs and the refusal", e.log.String()+log.String()+err.Error(), tok, "wrong-token-11e5")
}

// newUserSeed returns a new user nkey's public key and seed.
func newUserSeed(t *testing.T) (pub string, seed []byte) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err = kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err = kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return pub, seed
}

// TestNkeyAuth: a worker with nats.nkey_file (a user seed) enriches alerts
// on a server that knows only the public key; another seed is refused, a
// file that holds no seed is refused naming the file, and no seed is
// logged.
func TestNkeyAuth(t *testing.T) {
	t.Parallel()
	pub, seed := newUserSeed(t)
	_, otherSeed := newUserSeed(t)
	e := newSecureEnv(t, sim.Options{Alerts: 50}, []nats.Option{nats.UserInfo("admin", "admin-pw-c5")},
		withUsers("admin", "admin-pw-c5"), func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	dir := t.TempDir()
	e.Cfg.NATS.NkeyFile = writeFile(t, dir, "enricher.nk", append(seed, '\n'))
	e.startWorkers(1)
	e.runAlerts(5)

	var log syncBuffer
	bad := *e.Cfg
	bad.NATS.NkeyFile = writeFile(t, dir, "other.nk", otherSeed)
	err := startRuntimeErr(t, &bad, &log)
	wantRefused(t, err, "authorization")

	bad.NATS.NkeyFile = writeFile(t, dir, "garbage.nk", []byte("not a seed at all\n"))
	err = startRuntimeErr(t, &bad, &log)
	wantRefused(t, err, "garbage.nk")
	assertNoSecret(t, "the workers' logs", e.log.String()+log.String(), string(seed), string(otherSeed))
}

// TestEmbeddedRequiresCredentials: StartEmbedded with a password, a token
// or an nkey accepts only clients that present it; ConnectOptions built
// from the same nats block get in, others get ErrNATSRefused.
func TestEmbeddedRequiresCredentials(t *testing.T) {
	t.Parallel()
	_, seed := newUserSeed(t)
	_, otherSeed := newUserSeed(t)
	dir := t.TempDir()
	tests := []struct {
		name       string
		good, evil config.NATS
	}{
		{"password", config.NATS{User: "enricher", Password: "emb-pw-61"}, config.NATS{User: "enricher", Password: "nope"}},
		{"token", config.NATS{Token: "emb-token-72"}, config.NATS{Token: "emb-token-73"}},
		{"nkey", config.NATS{NkeyFile: writeFile(t, dir, "good.nk", seed)}, config.NATS{NkeyFile: writeFile(t, dir, "evil.nk", otherSeed)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := tt.good
			n.Embedded = config.Embedded{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}
			var logs syncBuffer
			srv, err := StartEmbedded(EmbeddedFromConfig(n, zerolog.New(&logs)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			nc, err := Connect(t.Context(), srv.ClientURL(), ConnectOptions(n, "good", zerolog.Nop()), zerolog.Nop())
			if err != nil {
				t.Fatalf("connect with the configured credentials: %v", err)
			}
			nc.Close()
			_, err = Connect(t.Context(), srv.ClientURL(), ConnectOptions(tt.evil, "evil", zerolog.Nop()), zerolog.Nop())
			wantRefused(t, err, "authorization")
			_, err = Connect(t.Context(), srv.ClientURL(), ConnectOptions(config.NATS{}, "anonymous", zerolog.Nop()), zerolog.Nop())
			wantRefused(t, err, "authorization")
			assertNoSecret(t, "the embedded server's log", logs.String(), "emb-pw-61", "emb-token-72", string(seed))
		})
	}
	// The embedded server cannot check JWT credentials: refused, not ignored.
	_, err := StartEmbedded(EmbeddedFromConfig(config.NATS{CredsFile: "u.creds", Embedded: config.Embedded{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}}, zerolog.Nop()))
	if err == nil || !strings.Contains(err.Error(), "operator mode") {
		t.Errorf("creds_file for the embedded server: got %v, want a refusal", err)
	}
}

// operatorMode is a trusted operator with a JetStream-enabled account in a
// memory resolver, for servers that authenticate JWT credentials.
type operatorMode struct {
	t        *testing.T
	operator *jwt.OperatorClaims
	system   string
	account  nkeys.KeyPair
	resolver *server.MemAccResolver
}

func newOperatorMode(t *testing.T) *operatorMode {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, err := okp.PublicKey()
	must(err)
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(okp)
	must(err)
	oc, err := jwt.DecodeOperatorClaims(ojwt)
	must(err)
	m := &operatorMode{t: t, operator: oc, resolver: &server.MemAccResolver{}}
	account := func(js bool) (nkeys.KeyPair, string) {
		kp, err := nkeys.CreateAccount()
		must(err)
		pub, err := kp.PublicKey()
		must(err)
		ac := jwt.NewAccountClaims(pub)
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		enc, err := ac.Encode(okp)
		must(err)
		must(m.resolver.Store(pub, enc))
		return kp, pub
	}
	_, m.system = account(false)
	m.account, _ = account(true)
	return m
}

// options puts a server in operator mode.
func (m *operatorMode) options(o *server.Options) {
	o.TrustedOperators = []*jwt.OperatorClaims{m.operator}
	o.AccountResolver = m.resolver
	o.SystemAccount = m.system
}

// creds returns the .creds file content of a new user of the account
// signed by signer (the account's key, or another one).
func (m *operatorMode) creds(name string, signer nkeys.KeyPair) (creds []byte, userJWT, seed string) {
	m.t.Helper()
	ukp, err := nkeys.CreateUser()
	if err != nil {
		m.t.Fatal(err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = name
	userJWT, err = uc.Encode(signer)
	if err != nil {
		m.t.Fatal(err)
	}
	s, _ := ukp.Seed()
	creds, err = jwt.FormatUserConfig(userJWT, s)
	if err != nil {
		m.t.Fatal(err)
	}
	return creds, userJWT, string(s)
}

// TestCredsFileAuth: in operator mode (a trusted operator, accounts in a
// memory resolver), a worker with nats.creds_file (user JWT and nkey seed)
// enriches alerts; creds issued by an account the operator does not know
// are refused; neither the JWT nor the seed is logged.
func TestCredsFileAuth(t *testing.T) {
	t.Parallel()
	m := newOperatorMode(t)
	_, adminJWT, adminSeed := m.creds("admin", m.account)
	e := newSecureEnv(t, sim.Options{Alerts: 50}, []nats.Option{nats.UserJWTAndSeed(adminJWT, adminSeed)}, m.options)
	creds, userJWT, seed := m.creds("enricher", m.account)
	dir := t.TempDir()
	e.Cfg.NATS.CredsFile = writeFile(t, dir, "enricher.creds", creds)
	e.startWorkers(1)
	e.runAlerts(5)

	stranger, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	strangerCreds, strangerJWT, strangerSeed := m.creds("stranger", stranger)
	bad := *e.Cfg
	bad.NATS.CredsFile = writeFile(t, dir, "stranger.creds", strangerCreds)
	var log syncBuffer
	err = startRuntimeErr(t, &bad, &log)
	wantRefused(t, err, "authorization")
	assertNoSecret(t, "the workers' logs and the refusal", e.log.String()+log.String()+err.Error(), userJWT, seed, strangerJWT, strangerSeed)
}

// TestRuntimeEmbeddedRequiresCredentials: `run` with no nats.url starts
// the embedded server with the nats block's own credentials and TLS, so the
// worker gets in and an anonymous client does not.
func TestRuntimeEmbeddedRequiresCredentials(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := map[string]func(*config.NATS){
		"password": func(n *config.NATS) { n.User, n.Password = "enricher", "rt-embedded-pw-5e" },
		"token":    func(n *config.NATS) { n.Token = "rt-embedded-token-6f" },
		"mutual tls": func(n *config.NATS) {
			n.TLS = config.TLS{CAFile: p.CA, CertFile: p.ServerCert, KeyFile: p.ServerKey}
		},
	}
	for name, set := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			api0 := sim.New(sim.Options{Alerts: 20, ClientID: "app", ClientSecret: "embedded-secret"})
			api := httptest.NewServer(api0)
			t.Cleanup(api.Close)
			cfg := testConfig("", api.URL, "app", "embedded-secret")
			cfg.NATS.Embedded = config.Embedded{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}
			set(&cfg.NATS)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			rt, err := StartRuntime(ctx, RuntimeOptions{Config: cfg, Logger: zerolog.New(&logs), ShutdownGrace: time.Second})
			if err != nil {
				cancel()
				t.Fatalf("start with the embedded server: %v", err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = rt.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			url := rt.Conn().ConnectedUrl()
			if cfg.NATS.TLS.CertFile != "" {
				if _, err := rt.Conn().TLSConnectionState(); err != nil {
					t.Errorf("the worker's connection is not TLS: %v", err)
				}
			}
			_, err = Connect(ctx, url, ConnectOptions(config.NATS{TLS: config.TLS{CAFile: cfg.NATS.TLS.CAFile}}, "anonymous", zerolog.Nop()), zerolog.Nop())
			wantRefused(t, err)
			// Alerts published by an authenticated client are enriched.
			nc, err := Connect(ctx, url, ConnectOptions(cfg.NATS, "publisher", zerolog.Nop()), zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			for _, id := range api0.AlertIDs(2) {
				if _, err := js.Publish(ctx, cfg.Input.Subjects[0], []byte(id)); err != nil {
					t.Fatal(err)
				}
			}
			out, err := js.Stream(ctx, cfg.Output.Stream)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "two output events", func() bool {
				info, err := out.Info(ctx)
				return err == nil && info.State.Msgs == 2
			})
			assertNoSecret(t, "the runtime's log", logs.String(), "rt-embedded-pw-5e", "rt-embedded-token-6f", mustRead(t, p.ServerKey))
		})
	}
}
