package enrich

import (
	"strings"
	"testing"

	"github.com/enricher/enricher/config"
)

func TestKnownAPIHosts(t *testing.T) {
	t.Parallel()
	hosts := KnownAPIHosts()
	if len(hosts) != 13 {
		t.Errorf("got %d hosts, want 13", len(hosts))
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h.Host] {
			t.Errorf("duplicate host %s", h.Host)
		}
		seen[h.Host] = true
		// The token URL the runtime uses comes from config: the table agrees.
		c := config.Default()
		c.Defender.BaseURL, c.Defender.TenantID = "https://"+h.Host, "t"
		if got := c.TokenURL(); !strings.HasPrefix(got, "https://"+h.TokenHost+"/") {
			t.Errorf("%s: table says token host %s, config derives %s", h.Host, h.TokenHost, got)
		}
	}
	hosts[0].Host = "changed"
	if KnownAPIHosts()[0].Host == "changed" {
		t.Error("KnownAPIHosts shares its slice with callers")
	}
	for in, want := range map[string]string{
		"https://swa.api.security.microsoft.com": "swa",
		"api-uk.securitycenter.microsoft.com":    "uk",
		"ina.api.security.microsoft.com:443":     "ina",
	} {
		if h, ok := LookupAPIHost(in); !ok || h.Region != want {
			t.Errorf("LookupAPIHost(%q) = %+v, %v; want region %s", in, h, ok, want)
		}
	}
	if _, ok := LookupAPIHost("https://evil.example.com"); ok {
		t.Error("LookupAPIHost found an unknown host")
	}
}
