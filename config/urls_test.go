package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestDefenderURLRulesMatchTheClient(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://user:hunter2@api.example.com",
		"https://api.example.com/?x=1",
		"https://api.example.com/#frag",
	} {
		c := Default()
		c.Defender.BaseURL = u
		err := c.Validate()
		if err == nil {
			t.Errorf("base_url %q accepted; the client refuses it at start", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the password of %q appears in %v", u, err)
		}
	}
	c := Default()
	c.Defender.BaseURL = "https://user:hunter2@api.example.com"
	if got := c.Redacted(); strings.Contains(fmt.Sprint(got), "hunter2") {
		t.Errorf("Redacted() shows the base_url password: %v", got)
	}
}

func TestTokenURLFollowsTheCloud(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{
		"https://api.securitycenter.microsoft.com":        "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
		"https://eu.api.security.microsoft.com":           "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
		"https://api-gcc.securitycenter.microsoft.us":     "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
		"https://api-gov.securitycenter.microsoft.us":     "https://login.microsoftonline.us/t1/oauth2/v2.0/token",
		"https://api.securitycenter.windows.com":          "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
		"http://127.0.0.1:8089":                           "http://127.0.0.1:8089/t1/oauth2/v2.0/token",
		"http://sim:8089/":                                "http://sim:8089/t1/oauth2/v2.0/token",
		"https://API-GOV.securitycenter.microsoft.us:443": "https://login.microsoftonline.us/t1/oauth2/v2.0/token",
	} {
		c := Default()
		c.Defender.BaseURL, c.Defender.TenantID = base, "t1"
		if got := c.TokenURL(); got != want {
			t.Errorf("TokenURL() for %s = %s, want %s", base, got, want)
		}
	}
}

func TestTokenURLEscapesTheTenant(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Defender.TenantID = "a/b"
	if got, want := c.TokenURL(), "https://login.microsoftonline.com/a%2Fb/oauth2/v2.0/token"; got != want {
		t.Errorf("TokenURL() = %s, want %s", got, want)
	}
}
