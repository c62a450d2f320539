package enrich

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxRedirects is the most same-host redirects one API request follows.
const MaxRedirects = 3

// defaultTimeout is the per-attempt timeout when Options.Timeout is zero.
const defaultTimeout = 10 * time.Second

// defaultConnections is the idle keep-alive pool per host when
// Options.Connections is zero.
const defaultConnections = 64

// newTransport returns the hardened transport: TLS 1.2 or later with
// verification on, keep-alive with an idle pool of conns connections per
// host (0 = defaultConnections), so that conns concurrent callers each
// keep their connection between calls instead of opening a new one.
func newTransport(timeout time.Duration, conns int) *http.Transport {
	if conns <= 0 {
		conns = defaultConnections
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           2 * conns,
		MaxIdleConnsPerHost:    conns,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// hardenClient returns a copy of hc (or of a client on the hardened
// transport when hc is nil) whose redirect policy is check. A supplied
// transport that skips certificate verification is refused; one that allows
// TLS below 1.2 is cloned with the minimum raised.
func hardenClient(hc *http.Client, timeout time.Duration, conns int, check func(*http.Request, []*http.Request) error) (*http.Client, error) {
	if hc == nil {
		return &http.Client{Transport: newTransport(timeout, conns), CheckRedirect: check}, nil
	}
	c := *hc
	if t, ok := c.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		if t.TLSClientConfig.InsecureSkipVerify {
			return nil, errors.New("http client skips tls certificate verification")
		}
		if t.TLSClientConfig.MinVersion != 0 && t.TLSClientConfig.MinVersion < tls.VersionTLS12 {
			t = t.Clone()
			t.TLSClientConfig.MinVersion = tls.VersionTLS12
			c.Transport = t
		}
	}
	c.CheckRedirect = check
	return &c, nil
}

// sameHostRedirects is the API client's redirect policy: at most
// MaxRedirects hops, each to the same scheme and host (port included) as
// the original request, so the bearer token never goes elsewhere. before,
// when set, runs before each followed hop (the quota counts every request).
func sameHostRedirects(before func(*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		orig := via[0].URL
		if !strings.EqualFold(req.URL.Host, orig.Host) || req.URL.Scheme != orig.Scheme {
			return fmt.Errorf("%w: to another host or scheme (%s://%s)", ErrRedirect, req.URL.Scheme, req.URL.Host)
		}
		if len(via) > MaxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrRedirect, MaxRedirects)
		}
		if before != nil {
			return before(req)
		}
		return nil
	}
}

// checkURL accepts an absolute http(s) URL with a host and no user info,
// query or fragment. Whether plain http is allowed is the configuration's
// decision (defender.allow_insecure_http), not the client's.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid url")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("scheme %q is not https or http", u.Scheme)
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("user info is not allowed")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("query or fragment is not allowed")
	}
	return nil
}
