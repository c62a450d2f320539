package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Redaction replaces a secret's value wherever the configuration is shown.
const Redaction = "[redacted]"

// ErrNoClientSecret is returned by ClientSecret when neither client_secret
// nor client_secret_file is set.
var ErrNoClientSecret = errors.New("no defender client secret configured")

// TokenURL is the OAuth2 token endpoint: defender.token_url, or the Entra ID
// v2.0 endpoint of defender.tenant_id on the sign-in host of the API's
// cloud: login.microsoftonline.us for US Government GCC High and DoD
// (api-gov.*.microsoft.us), login.microsoftonline.com for every other
// Microsoft host. A base_url that is not a Microsoft host (the simulator, a
// test double) serves its own token endpoint: <base_url>/<tenant_id>/oauth2/v2.0/token.
func (c *Config) TokenURL() string {
	if c.Defender.TokenURL != "" {
		return c.Defender.TokenURL
	}
	path := "/" + url.PathEscape(c.Defender.TenantID) + "/oauth2/v2.0/token"
	u, err := url.Parse(c.Defender.BaseURL)
	if err != nil || u.Host == "" {
		return "https://login.microsoftonline.com" + path
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case strings.HasPrefix(h, "api-gov.") && strings.HasSuffix(h, ".microsoft.us"):
		return "https://login.microsoftonline.us" + path
	case microsoftHost(h):
		return "https://login.microsoftonline.com" + path
	default:
		return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/") + path
	}
}

// microsoftHost reports whether h is a Microsoft API host (whose tokens
// come from Entra ID).
func microsoftHost(h string) bool {
	for _, d := range []string{".microsoft.com", ".microsoft.us", ".windows.com", ".windows.net"} {
		if strings.HasSuffix(h, d) {
			return true
		}
	}
	return false
}

// QuotaKey is the KV key of the shared budget: quota.key, or a key derived
// from tenant_id and client_id ("defender_" and 16 hex digits of the
// SHA-256 of "tenant/client"), so that workers using the same API
// credentials share one budget. It is always a valid KV key.
func (c *Config) QuotaKey() string {
	if c.Quota.Key != "" {
		return c.Quota.Key
	}
	sum := sha256.Sum256([]byte(c.Defender.TenantID + "/" + c.Defender.ClientID))
	return "defender_" + hex.EncodeToString(sum[:8])
}

// CredentialProblems lists what is missing to call the real API: the
// client ID, a secret, and the tenant ID unless token_url is set. It is not
// part of Validate: `validate` prints these as warnings and `run` refuses
// to start with them.
func (c *Config) CredentialProblems() []string {
	d := c.Defender
	var out []string
	if d.ClientID == "" {
		out = append(out, "defender.client_id is not set (nor ENRICHER_DEFENDER_CLIENT_ID)")
	}
	if d.ClientSecret == "" && d.ClientSecretFile == "" {
		out = append(out, "neither defender.client_secret (nor ENRICHER_DEFENDER_CLIENT_SECRET) nor defender.client_secret_file is set")
	}
	if d.TenantID == "" && d.TokenURL == "" {
		out = append(out, "defender.tenant_id is not set (nor ENRICHER_DEFENDER_TENANT_ID); it is needed unless defender.token_url is set")
	}
	return out
}

// ClientSecret returns the client secret: client_secret, or the content of
// client_secret_file with its surrounding white space trimmed. Its errors
// name the file but never hold its content.
func (c *Config) ClientSecret() (string, error) {
	d := c.Defender
	if d.ClientSecret != "" {
		return d.ClientSecret, nil
	}
	if d.ClientSecretFile == "" {
		return "", ErrNoClientSecret
	}
	b, err := os.ReadFile(d.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("reading defender.client_secret_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("defender.client_secret_file %q is empty: %w", d.ClientSecretFile, ErrNoClientSecret)
	}
	return s, nil
}

// Redacted returns the effective configuration for the start-up log, as
// nested maps keyed by block and attribute name (durations and limits as
// strings), plus "file". client_secret, nats.password and nats.token are
// replaced by Redaction when set, as is the user information of every
// nats.url entry; file paths are kept.
func (c *Config) Redacted() map[string]any {
	out := map[string]any{"file": c.File}
	walkAttrs(func(path string, a attrSpec) {
		v := formatValue(a.ptr(c))
		if s, ok := v.(string); ok && s != "" {
			switch {
			case a.secret:
				v = Redaction
			case path == "nats.url" || path == "defender.base_url" || path == "defender.token_url":
				v = RedactURLs(s)
			}
		}
		parts := strings.Split(path, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	})
	return out
}
