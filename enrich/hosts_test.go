package enrich

import "testing"

func TestDefaultTokenURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ base, tenant, want string }{
		{"https://api.securitycenter.microsoft.com", "t1", "https://login.microsoftonline.com/t1/oauth2/v2.0/token"},
		{"https://eu.api.security.microsoft.com/", "t1", "https://login.microsoftonline.com/t1/oauth2/v2.0/token"},
		{"https://api-gcc.securitycenter.microsoft.us", "t1", "https://login.microsoftonline.com/t1/oauth2/v2.0/token"},
		{"https://api-gov.securitycenter.microsoft.us", "t1", "https://login.microsoftonline.us/t1/oauth2/v2.0/token"},
		{"https://API-GOV.securitycenter.microsoft.us:443", "t1", "https://login.microsoftonline.us/t1/oauth2/v2.0/token"},
		{"https://api.securitycenter.microsoft.com", "a/b", "https://login.microsoftonline.com/a%2Fb/oauth2/v2.0/token"},
		{"https://api.securitycenter.microsoft.com", " ", ""},
	} {
		if got := DefaultTokenURL(tc.base, tc.tenant); got != tc.want {
			t.Errorf("DefaultTokenURL(%q, %q) = %q, want %q", tc.base, tc.tenant, got, tc.want)
		}
	}
}

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
		if want := TokenHostFor("https://" + h.Host); h.TokenHost != want {
			t.Errorf("%s: table says token host %s, TokenHostFor says %s", h.Host, h.TokenHost, want)
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
