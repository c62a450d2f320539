package worker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and localhost
// (usable as a client certificate too), a client certificate, and a
// client certificate from another CA, as PEM files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// RogueCA signed RogueCert/RogueKey; the servers do not trust it.
	RogueCA, RogueCert, RogueKey string
}

// newPKI generates the certificates in a temporary directory.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := newCA(t, "enricher test CA")
	rogue, rogueKey := newCA(t, "rogue CA")
	p := &testPKI{
		CA:      writeFile(t, dir, "ca.pem", pemCert(ca)),
		RogueCA: writeFile(t, dir, "rogue-ca.pem", pemCert(rogue)),
	}
	srvCert, srvKey := newLeaf(t, ca, caKey, "nats-server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
	p.ServerCert, p.ServerKey = writeFile(t, dir, "server.pem", srvCert), writeFile(t, dir, "server-key.pem", srvKey)
	cliCert, cliKey := newLeaf(t, ca, caKey, "enricher", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	p.ClientCert, p.ClientKey = writeFile(t, dir, "client.pem", cliCert), writeFile(t, dir, "client-key.pem", cliKey)
	rCert, rKey := newLeaf(t, rogue, rogueKey, "enricher", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	p.RogueCert, p.RogueKey = writeFile(t, dir, "rogue.pem", rCert), writeFile(t, dir, "rogue-key.pem", rKey)
	return p
}

var serial = big.NewInt(time.Now().UnixNano())

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Add(serial, big.NewInt(int64(len(name)))),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// newLeaf returns the PEM certificate and key of a leaf for 127.0.0.1 and
// localhost signed by ca.
func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage []x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// requireMutualTLS makes a test server serve TLS with the PKI's server
// certificate and require client certificates signed by its CA.
func requireMutualTLS(t *testing.T, p *testPKI) func(*server.Options) {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	return func(o *server.Options) { o.TLSConfig, o.TLSVerify, o.TLSTimeout = tc, true, 5 }
}

// TestMutualTLSWorkerProcessesAlerts: against a server that requires TLS
// and a client certificate, a worker configured with nats.tls (its CA,
// certificate and key) connects and enriches alerts; every connection the
// server holds is TLS.
func TestMutualTLSWorkerProcessesAlerts(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	e := newSecureEnv(t, sim.Options{Alerts: 50}, []nats.Option{nats.RootCAs(p.CA), nats.ClientCert(p.ClientCert, p.ClientKey)}, requireMutualTLS(t, p))
	if !strings.HasPrefix(e.Cfg.NATS.URL, "tls://") {
		t.Fatalf("server URL %s, want tls://", e.Cfg.NATS.URL)
	}
	e.Cfg.NATS.TLS = config.TLS{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
	e.startWorkers(1)
	e.runAlerts(10)
	cz, err := e.srv.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cz.NumConns < 2 {
		t.Errorf("server holds %d connections, want the worker's and the test's", cz.NumConns)
	}
	for _, c := range cz.Conns {
		if c.TLSVersion == "" {
			t.Errorf("connection %q is not TLS", c.Name)
		}
	}
	assertNoSecret(t, "the worker's log", e.log.String(), mustRead(t, p.ClientKey))
}

// TestTLSRefusals: against the same server, each wrong TLS setting makes
// StartRuntime fail at once with an error wrapping ErrNATSRefused (so `run`
// exits 1), never a retry loop.
func TestTLSRefusals(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	e := newSecureEnv(t, sim.Options{Alerts: 10}, []nats.Option{nats.RootCAs(p.CA), nats.ClientCert(p.ClientCert, p.ClientKey)}, requireMutualTLS(t, p))
	tests := []struct {
		name     string
		tls      config.TLS
		mentions []string
	}{
		{"no client certificate", config.TLS{CAFile: p.CA}, []string{"tls", "client certificate", "cert_file"}},
		{"client certificate of an untrusted CA", config.TLS{CAFile: p.CA, CertFile: p.RogueCert, KeyFile: p.RogueKey}, []string{"tls", "client certificate"}},
		{"server not trusted (system roots)", config.TLS{}, []string{"certificate", "ca_file"}},
		{"server not trusted (other CA)", config.TLS{CAFile: p.RogueCA, CertFile: p.ClientCert, KeyFile: p.ClientKey}, []string{"certificate", "ca_file"}},
		{"missing CA file", config.TLS{CAFile: p.CA + ".missing"}, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := *e.Cfg
			cfg.NATS.TLS = tt.tls
			start := time.Now()
			err := startRuntimeErr(t, &cfg, &syncBuffer{})
			wantRefused(t, err, tt.mentions...)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refusal took %s: the runtime retried instead of failing", d)
			}
		})
	}
}

// TestTLSWantedServerPlain: a worker with a tls block refuses a server that
// does not offer TLS rather than falling back to plain text.
func TestTLSWantedServerPlain(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	e := newEnv(t, sim.Options{Alerts: 10})
	e.Cfg.NATS.TLS = config.TLS{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
	wantRefused(t, startRuntimeErr(t, e.Cfg, &syncBuffer{}), "secure", "does not offer tls")
}

// TestEmbeddedServesMutualTLS: StartEmbedded with a certificate, key and
// CA serves TLS only (tls:// URL) and requires a client certificate of
// that CA.
func TestEmbeddedServesMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: zerolog.Nop(),
		TLS: config.TLS{CAFile: p.CA, CertFile: p.ServerCert, KeyFile: p.ServerKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if !strings.HasPrefix(srv.ClientURL(), "tls://127.0.0.1:") {
		t.Errorf("ClientURL = %s, want tls://127.0.0.1:port", srv.ClientURL())
	}
	ctx := t.Context()
	ok := config.NATS{TLS: config.TLS{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}}
	nc, err := Connect(ctx, srv.ClientURL(), ConnectOptions(ok, "test", zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatalf("connect with a client certificate: %v", err)
	}
	if st, err := nc.TLSConnectionState(); err != nil || len(st.PeerCertificates) == 0 {
		t.Errorf("connection is not TLS: %v", err)
	}
	nc.Close()
	_, err = Connect(ctx, srv.ClientURL(), ConnectOptions(config.NATS{TLS: config.TLS{CAFile: p.CA}}, "test", zerolog.Nop()), zerolog.Nop())
	wantRefused(t, err, "tls", "client certificate")
	_, err = Connect(ctx, strings.Replace(srv.ClientURL(), "tls://", "nats://", 1), ConnectOptions(config.NATS{}, "test", zerolog.Nop()), zerolog.Nop())
	wantRefused(t, err)
	// Without a CA the server still serves TLS but asks for no client certificate.
	plain, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: zerolog.Nop(),
		TLS: config.TLS{CertFile: p.ServerCert, KeyFile: p.ServerKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Shutdown)
	nc, err = Connect(ctx, plain.ClientURL(), ConnectOptions(config.NATS{TLS: config.TLS{CAFile: p.CA}}, "test", zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatalf("connect to a TLS server without client verification: %v", err)
	}
	nc.Close()
	// A CA alone cannot make the embedded server serve TLS.
	_, err = StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: zerolog.Nop(), TLS: config.TLS{CAFile: p.CA}})
	if !errors.Is(err, ErrEmbeddedAuth) {
		t.Errorf("CA without certificate: got %v, want ErrEmbeddedAuth", err)
	}
}
