package worker

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enricher/enricher/enrich/sim"
)

// rotatingIdP stands in front of the simulator's token endpoint and
// accepts exactly one client secret at a time, as an identity provider
// does once the old secret is deleted. It counts token requests by the
// secret they carried.
type rotatingIdP struct {
	next http.Handler

	mu       sync.Mutex
	accepted string
	granted  map[string]int // secret -> tokens issued
	refused  map[string]int // secret -> requests refused
}

func (p *rotatingIdP) accept(secret string) {
	p.mu.Lock()
	p.accepted = secret
	p.mu.Unlock()
}

func (p *rotatingIdP) counts(secret string) (granted, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.granted[secret], p.refused[secret]
}

func (p *rotatingIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		p.next.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil { // the simulator reads the parsed form again
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	secret := r.PostForm.Get("client_secret")
	if _, pass, ok := r.BasicAuth(); ok {
		secret, _ = url.QueryUnescape(pass)
	}
	p.mu.Lock()
	ok := secret == p.accepted
	if ok {
		p.granted[secret]++
	} else {
		p.refused[secret]++
	}
	p.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
		return
	}
	p.next.ServeHTTP(w, r)
}

// TestSecretRotationWithoutRestart: a worker reads its client secret from
// defender.client_secret_file. The identity provider accepts secret A;
// alerts are enriched. The file is rewritten to B, the provider switched
// to accept only B, and every issued token revoked: the next token request
// carries B, with the same worker (no restart), and every alert of the
// second batch is enriched (no message lost, no dead letter).
func TestSecretRotationWithoutRestart(t *testing.T) {
	t.Parallel()
	const secretA, secretB = "rotation-secret-A-5d0e", "rotation-secret-B-a8c4"
	e := newEnv(t, sim.Options{Alerts: 100, ClientID: "rotating-app"})
	idp := &rotatingIdP{next: e.Sim, accepted: secretA, granted: map[string]int{}, refused: map[string]int{}}
	front := httptest.NewServer(idp)
	t.Cleanup(front.Close)
	e.Cfg.Defender.BaseURL = front.URL
	e.Cfg.Defender.TokenURL = front.URL + "/tenant/oauth2/v2.0/token"
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client_secret")
	writeSecret(t, secretFile, secretA+"\n")
	e.Cfg.Defender.ClientSecret = ""
	e.Cfg.Defender.ClientSecretFile = secretFile
	e.startWorkers(1)

	ids := e.Sim.AlertIDs(-1)
	e.publish(alertBodies(ids[:10])...)
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 10 || len(dead) != 0 {
		t.Fatalf("before the rotation: %d events and %d dead letters, want 10 and 0", len(outputs), len(dead))
	}
	if g, _ := idp.counts(secretA); g == 0 {
		t.Fatal("no token was issued for secret A")
	}

	// Rotate: new secret in the file (atomically, as a secret manager does),
	// the old one no longer accepted, every token issued with it revoked.
	writeSecret(t, secretFile, secretB+"\n")
	idp.accept(secretB)
	e.Sim.ExpireTokens()
	grantedA, _ := idp.counts(secretA)

	e.publish(alertBodies(ids[10:30])...)
	outputs, dead = e.waitSettled(30 * time.Second)
	if len(dead) != 0 {
		t.Errorf("after the rotation: %d dead letters (first: %s), want 0", len(dead), dead[0].Header.Get(HeaderError))
	}
	if len(outputs) != 30 {
		t.Errorf("after the rotation: %d events in all, want 30", len(outputs))
	}
	assertNoDuplicates(t, outputs)
	gB, rB := idp.counts(secretB)
	gA, rA := idp.counts(secretA)
	if gB == 0 {
		t.Error("no token was requested with secret B after the rotation")
	}
	if gA != grantedA || rA != 0 {
		t.Errorf("secret A was used after the rotation: %d more tokens, %d refused requests", gA-grantedA, rA)
	}
	if rB != 0 {
		t.Errorf("%d token requests with secret B were refused", rB)
	}
	if st := e.Sim.Stats(); st.ByStatus[http.StatusUnauthorized] == 0 {
		t.Error("the simulator answered no 401: the revoked token was never presented, the test did not exercise the rotation")
	}
	assertNoSecret(t, "the worker's log", e.log.String(), secretA, secretB)
}

// writeSecret replaces path's content atomically (write and rename).
func writeSecret(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func alertBodies(ids []string) [][]byte {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = []byte(id)
	}
	return out
}
