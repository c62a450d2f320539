package enrich

import (
	"net/url"
	"strings"
)

// Token hosts of the Microsoft identity platform.
const (
	TokenHostCommercial = "login.microsoftonline.com"
	TokenHostUSGov      = "login.microsoftonline.us"
)

// APIHost is one known Defender for Endpoint API host.
type APIHost struct {
	Host      string // e.g. "api.securitycenter.microsoft.com"
	Cloud     string // "commercial", "gcc" or "gcc-high" (GCC High and DoD)
	Region    string // "global", or the data region ("us", "eu", "uk", "au", "swa", "ina")
	TokenHost string // where its tokens come from
}

// KnownAPIHosts returns the documented API hosts (a fresh slice each call).
func KnownAPIHosts() []APIHost {
	c, g := TokenHostCommercial, TokenHostUSGov
	return []APIHost{
		{"api.securitycenter.microsoft.com", "commercial", "global", c},
		{"api.security.microsoft.com", "commercial", "global", c},
		{"us.api.security.microsoft.com", "commercial", "us", c},
		{"eu.api.security.microsoft.com", "commercial", "eu", c},
		{"uk.api.security.microsoft.com", "commercial", "uk", c},
		{"au.api.security.microsoft.com", "commercial", "au", c},
		{"swa.api.security.microsoft.com", "commercial", "swa", c},
		{"ina.api.security.microsoft.com", "commercial", "ina", c},
		{"api-us.securitycenter.microsoft.com", "commercial", "us", c},
		{"api-eu.securitycenter.microsoft.com", "commercial", "eu", c},
		{"api-uk.securitycenter.microsoft.com", "commercial", "uk", c},
		{"api-gcc.securitycenter.microsoft.us", "gcc", "us", c},
		{"api-gov.securitycenter.microsoft.us", "gcc-high", "us", g},
	}
}

// LookupAPIHost finds a known host by host name or by base URL.
func LookupAPIHost(hostOrURL string) (APIHost, bool) {
	host := hostOf(hostOrURL)
	for _, h := range KnownAPIHosts() {
		if h.Host == host {
			return h, true
		}
	}
	return APIHost{}, false
}

// hostOf returns the lower-case host name (no port) of a URL or bare host.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return strings.ToLower(u.Hostname())
		}
		return ""
	}
	if i := strings.IndexAny(s, ":/"); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}
