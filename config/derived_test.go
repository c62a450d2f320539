package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTokenURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ tenant, tokenURL, want string }{
		{"contoso.onmicrosoft.com", "", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"2f6a0c1e-0000-4000-8000-000000000001", "", "https://login.microsoftonline.com/2f6a0c1e-0000-4000-8000-000000000001/oauth2/v2.0/token"},
		{"ignored", "http://127.0.0.1:8089/t/oauth2/v2.0/token", "http://127.0.0.1:8089/t/oauth2/v2.0/token"},
	}
	for _, tt := range tests {
		c := Default()
		c.Defender.TenantID, c.Defender.TokenURL = tt.tenant, tt.tokenURL
		if got := c.TokenURL(); got != tt.want {
			t.Errorf("TokenURL() = %q, want %q", got, tt.want)
		}
	}
}

func TestQuotaKey(t *testing.T) {
	t.Parallel()
	key := func(tenant, client, explicit string) string {
		c := Default()
		c.Defender.TenantID, c.Defender.ClientID, c.Quota.Key = tenant, client, explicit
		return c.QuotaKey()
	}
	a := key("t1", "c1", "")
	if err := checkKey(a); err != nil || !strings.HasPrefix(a, "defender_") || len(a) != len("defender_")+16 {
		t.Errorf("derived key %q is not defender_ and 16 hex digits of a valid KV key (%v)", a, err)
	}
	if b := key("t1", "c1", ""); b != a {
		t.Errorf("the derived key is not stable: %q then %q", a, b)
	}
	for _, other := range []string{key("t1", "c2", ""), key("t2", "c1", ""), key("t1c", "1", "")} {
		if other == a {
			t.Errorf("different credentials share the key %q", a)
		}
	}
	if got := key("t1", "c1", "fixed"); got != "fixed" {
		t.Errorf("quota.key = %q, want it to win", got)
	}
}

func TestCredentialProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                     string
		tenant, tokenURL, id, secret, secretFile string
		want                                     []string // the attributes named, in order
	}{
		{"nothing", "", "", "", "", "", []string{"client_id", "client_secret", "tenant_id"}},
		{"complete", "t", "", "i", "s", "", nil},
		{"secret file", "t", "", "i", "", "/f", nil},
		{"token url instead of tenant", "", "https://idp.example/token", "i", "s", "", nil},
		{"no secret", "t", "", "i", "", "", []string{"client_secret"}},
	}
	for _, tt := range tests {
		c := Default()
		d := &c.Defender
		d.TenantID, d.TokenURL, d.ClientID, d.ClientSecret, d.ClientSecretFile = tt.tenant, tt.tokenURL, tt.id, tt.secret, tt.secretFile
		got := c.CredentialProblems()
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %q, want problems about %q", tt.name, got, tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], "defender."+w) {
				t.Errorf("%s: problem %d = %q, want it to name defender.%s", tt.name, i, got[i], w)
			}
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: missing credentials must not fail Validate: %v", tt.name, err)
		}
	}
}

func TestClientSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "secret")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("  s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n\t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret, file, want string
		wantErr                  error
	}{
		{"inline", "inline-secret", "", "inline-secret", nil},
		{"file trimmed", "", good, "s3cret-from-file", nil},
		{"empty file", "", empty, "", ErrNoClientSecret},
		{"missing file", "", filepath.Join(dir, "nope"), "", os.ErrNotExist},
		{"none", "", "", "", ErrNoClientSecret},
	}
	for _, tt := range tests {
		c := Default()
		c.Defender.ClientSecret, c.Defender.ClientSecretFile = tt.secret, tt.file
		got, err := c.ClientSecret()
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestResolvePath(t *testing.T) {
	t.Parallel()
	present := func(string) bool { return true }
	absent := func(string) bool { return false }
	var asked []string
	recorder := func(p string) bool { asked = append(asked, p); return false }
	env := envMap(map[string]string{"ENRICHER_CONFIG": "/etc/enricher/env.hcl"})
	emptyEnv := envMap(map[string]string{"ENRICHER_CONFIG": ""})
	tests := []struct {
		name   string
		flag   string
		env    func(string) (string, bool)
		exists func(string) bool
		want   string
	}{
		{"flag wins", "flag.hcl", env, present, "flag.hcl"},
		{"then the environment", "", env, present, "/etc/enricher/env.hcl"},
		{"empty environment is unset", "", emptyEnv, present, "enricher.hcl"},
		{"then ./enricher.hcl", "", nil, present, "enricher.hcl"},
		{"else the defaults", "", nil, absent, ""},
		{"nil exists", "", nil, nil, ""},
	}
	for _, tt := range tests {
		if got := ResolvePath(tt.flag, tt.env, tt.exists); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	ResolvePath("", nil, recorder)
	if !reflect.DeepEqual(asked, []string{DefaultFile}) {
		t.Errorf("exists was asked about %q, want only %q", asked, DefaultFile)
	}
}
