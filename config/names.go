package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// maxNameLength bounds stream, consumer and bucket names.
const maxNameLength = 255

// checkName checks a stream or consumer name as nats.go does: not empty, no
// white space, control characters, '.', '*', '>', '/' or '\'.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > maxNameLength:
		return fmt.Errorf("is longer than %d bytes", maxNameLength)
	case strings.ContainsAny(s, ".*>/\\") || strings.ContainsFunc(s, isSpaceOrControl):
		return fmt.Errorf("%q must not contain white space, '.', '*', '>', '/' or '\\'", s)
	}
	return nil
}

// checkBucket checks a JetStream KV bucket name: letters, digits, '_', '-'.
func checkBucket(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > maxNameLength:
		return fmt.Errorf("is longer than %d bytes", maxNameLength)
	}
	for _, r := range s {
		if !isAlnum(r) && r != '_' && r != '-' {
			return fmt.Errorf("%q may only hold letters, digits, '_' and '-'", s)
		}
	}
	return nil
}

// checkKey checks a KV key: letters, digits and "-/_=.", with no leading,
// trailing or doubled dot.
func checkKey(s string) error {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return fmt.Errorf("%q must not be empty nor start, end or have two dots in a row", s)
	}
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune("-/_=.", r) {
			return fmt.Errorf("%q may only hold letters, digits and - / _ = .", s)
		}
	}
	return nil
}

// reservedSubjects are the subject spaces of the JetStream and system APIs,
// KV buckets and object stores, which no declared stream may capture.
func reservedSubjects() []string {
	return []string{"$JS.>", "$JSC.>", "$NRG.>", "$SYS.>", "$KV.>", "$O.>"}
}

// checkSubject checks a subject as the NATS server does; wildcards ('*' and
// a final '>') only when allowed.
func checkSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.ContainsFunc(s, isSpaceOrControl) {
		return fmt.Errorf("%q must not contain white space or control characters", s)
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("%q has an empty token (a leading, trailing or doubled '.')", s)
		case (t == "*" || t == ">") && !wildcards:
			return fmt.Errorf("%q must be a literal subject, without wildcards", s)
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("%q may only have '>' as its last token", s)
		}
	}
	for _, r := range reservedSubjects() {
		if subjectsOverlap(s, r) {
			return fmt.Errorf("%q overlaps the reserved subjects %s", s, r)
		}
	}
	return nil
}

// subjectsOverlap reports whether some subject matches both patterns.
func subjectsOverlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		if i == len(ta) || i == len(tb) {
			return len(ta) == len(tb)
		}
		x, y := ta[i], tb[i]
		if x == ">" || y == ">" {
			return true
		}
		if x != "*" && y != "*" && x != y {
			return false
		}
	}
}

// checkServerURL checks one entry of nats.url: a nats://, tls://, ws:// or
// wss:// URL, or host:port. Its errors never quote the entry, which may
// hold a password or a token.
func checkServerURL(e string) error {
	if e == "" {
		return errors.New("is empty")
	}
	if !strings.Contains(e, "://") {
		if err := checkHostPort(e, false, 1); err != nil {
			return fmt.Errorf("%w; want nats://host:port, tls://, ws://, wss:// or host:port", err)
		}
		return nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("scheme %q is not one of nats, tls, ws, wss", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has a bad port")
		}
	}
	return nil
}

// checkHostPort checks host:port with a numeric port of at least minPort.
// An empty host (all interfaces) is accepted only for listen addresses.
func checkHostPort(s string, emptyHost bool, minPort int) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("is not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		return fmt.Errorf("the port must be a number from %d to 65535", minPort)
	}
	if host == "" && !emptyHost {
		return errors.New("has no host")
	}
	if strings.ContainsFunc(host, isSpaceOrControl) || strings.ContainsAny(host, "@/?#") {
		return errors.New("has an invalid host")
	}
	return nil
}

// checkHTTPURL checks a Defender URL: absolute https://, or http:// to a
// loopback host or when insecure HTTP is allowed.
func checkHTTPURL(s string, allowInsecure bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q must be an absolute URL such as https://host", redactURL(s))
	}
	if u.User != nil {
		return fmt.Errorf("%q must not hold user information: credentials go in client_id and client_secret", redactURL(s))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%q must not have a query or a fragment", redactURL(s))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowInsecure || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: plain http:// is accepted only for a loopback host (127.0.0.0/8, ::1, localhost) "+
			"or with defender.allow_insecure_http = true; use https://", redactURL(s))
	}
	return fmt.Errorf("%q must be an https:// URL", redactURL(s))
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isPathSegment reports whether s is safe as one URL path segment: letters,
// digits, '.', '_' and '-'.
func isPathSegment(s string) bool {
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune("._-", r) {
			return false
		}
	}
	return s != "" && s != "." && s != ".."
}

// redactURL hides the user information (a password or a token) of a URL.
// A string that does not parse as a URL but holds an '@' is hidden whole.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		if strings.Contains(s, "@") {
			return Redaction
		}
		return s
	}
	if u.User == nil {
		return s
	}
	u.User = nil
	return strings.Replace(u.String(), "://", "://"+Redaction+"@", 1)
}

// RedactURLs hides the user information (a password or a token) of every
// URL of a comma-separated list, such as nats.url, for messages and logs.
func RedactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func isAlnum(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
