package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// problem is one validation failure: its message and the attributes it
// concerns, the first of which with a known origin gives its position.
type problem struct {
	keys []string
	msg  string
}

// checker collects problems.
type checker struct{ probs []problem }

// add records a problem concerning keys.
func (ch *checker) add(keys []string, format string, args ...any) {
	ch.probs = append(ch.probs, problem{keys: keys, msg: fmt.Sprintf(format, args...)})
}

// addf records a problem concerning one attribute.
func (ch *checker) addf(key, format string, args ...any) {
	ch.add([]string{key}, format, args...)
}

// positive checks that a duration is above zero.
func (ch *checker) positive(key string, d time.Duration) {
	if d <= 0 {
		ch.addf(key, "%s must be a positive duration, got %s", key, d)
	}
}

// replicas checks a replica count.
func (ch *checker) replicas(key string, n int) {
	if n != 1 && n != 3 && n != 5 {
		ch.addf(key, "%s must be 1, 3 or 5, got %d", key, n)
	}
}

// check records err, if any, as a problem of key.
func (ch *checker) check(key string, err error) bool {
	if err != nil {
		ch.addf(key, "%s: %v", key, err)
		return false
	}
	return true
}

// Validate checks the configuration and returns a Diagnostics error with
// every problem, positioned in the file for a Config from Load, or nil. It
// does not check the credentials (see CredentialProblems).
func (c *Config) Validate() error {
	var ds Diagnostics
	for _, p := range c.problems() {
		ds = append(ds, c.diagnostic(p))
	}
	return ds.err()
}

// diagnostic positions a problem at the origin of its first key that has one.
func (c *Config) diagnostic(p problem) Diagnostic {
	for _, k := range p.keys {
		o, ok := c.origins[k]
		if !ok {
			o, ok = c.origins[baseKey(k)]
		}
		if !ok {
			continue
		}
		if o.env != "" {
			return Diagnostic{Message: o.env + ": " + p.msg}
		}
		return at(o.rng, p.msg)
	}
	return Diagnostic{File: c.File, Message: p.msg}
}

// problems runs every check.
func (c *Config) problems() []problem {
	ch := &checker{}
	c.checkNATS(ch)
	c.checkEmbeddedAuth(ch)
	c.checkStreams(ch)
	c.checkDefender(ch)
	c.checkBuckets(ch)
	c.checkProcess(ch)
	return ch.probs
}

// checkNATS checks the nats block.
func (c *Config) checkNATS(ch *checker) {
	n := c.NATS
	if strings.TrimSpace(n.URL) != "" {
		for i, e := range strings.Split(n.URL, ",") {
			if err := checkServerURL(strings.TrimSpace(e)); err != nil {
				ch.addf("nats.url", "nats.url: entry %d: %v", i+1, err)
			}
		}
	}
	var methods, keys []string
	for _, m := range []struct {
		name string
		keys []string
		val  string
	}{
		{"creds_file", []string{"nats.creds_file"}, n.CredsFile},
		{"nkey_file", []string{"nats.nkey_file"}, n.NkeyFile},
		{"user/password", []string{"nats.user", "nats.password"}, n.User + n.Password},
		{"token", []string{"nats.token"}, n.Token},
	} {
		if m.val == "" {
			continue
		}
		if len(methods) > 0 {
			keys = append(keys, m.keys...) // point at the second method and after
		}
		methods = append(methods, m.name)
	}
	if len(methods) > 1 {
		ch.add(keys, "nats: set one authentication method, not %s", strings.Join(methods, " and "))
	}
	if n.Password != "" && n.User == "" {
		ch.addf("nats.password", "nats.password is set without nats.user")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		ch.add([]string{"nats.tls.cert_file", "nats.tls.key_file"}, "nats.tls: cert_file and key_file must be set together")
	}
	embedded := strings.TrimSpace(n.URL) == ""
	switch {
	case n.Embedded.Listen != "":
		if err := checkHostPort(n.Embedded.Listen, true, 0); err != nil {
			ch.addf("nats.embedded.listen", "nats.embedded.listen %q: %v", n.Embedded.Listen, err)
		}
	case embedded:
		ch.addf("nats.embedded.listen", "nats.embedded.listen must be set when nats.url is empty (the embedded server)")
	}
	if embedded && strings.TrimSpace(n.Embedded.StoreDir) == "" {
		ch.addf("nats.embedded.store_dir", "nats.embedded.store_dir must be set when nats.url is empty (the embedded server)")
	}
}

// checkStreams checks the input, output and dead_letter blocks and how
// they relate: distinct streams, no output captured by the input.
func (c *Config) checkStreams(ch *checker) {
	ch.check("input.stream", checkName(c.Input.Stream))
	if len(c.Input.Subjects) == 0 {
		ch.addf("input.subjects", "input.subjects must list at least one subject")
	}
	var inputs []int // indexes of the valid input subjects
	for i, s := range c.Input.Subjects {
		k := fmt.Sprintf("input.subjects[%d]", i)
		if !ch.check(k, checkSubject(s, true)) {
			continue
		}
		for _, j := range inputs {
			if subjectsOverlap(c.Input.Subjects[j], s) {
				ch.addf(k, "input.subjects %q and %q overlap", c.Input.Subjects[j], s)
			}
		}
		inputs = append(inputs, i)
	}
	ch.check("input.consumer", checkName(c.Input.Consumer))
	ch.positive("input.ack_wait", c.Input.AckWait)
	if c.Input.MaxDeliver < 1 {
		ch.addf("input.max_deliver", "input.max_deliver must be at least 1, got %d", c.Input.MaxDeliver)
	}
	ch.replicas("input.replicas", c.Input.Replicas)

	ch.check("output.stream", checkName(c.Output.Stream))
	outOK := ch.check("output.subject", checkSubject(c.Output.Subject, false))
	ch.positive("output.duplicate_window", c.Output.DuplicateWindow)
	ch.replicas("output.replicas", c.Output.Replicas)

	ch.check("dead_letter.stream", checkName(c.DeadLetter.Stream))
	dlqOK := ch.check("dead_letter.subject", checkSubject(c.DeadLetter.Subject, false))
	ch.replicas("dead_letter.replicas", c.DeadLetter.Replicas)

	for _, out := range []struct {
		key, subject string
		ok           bool
	}{{"output.subject", c.Output.Subject, outOK}, {"dead_letter.subject", c.DeadLetter.Subject, dlqOK}} {
		if !out.ok {
			continue
		}
		for _, i := range inputs {
			if subjectsOverlap(out.subject, c.Input.Subjects[i]) {
				ch.add([]string{out.key, fmt.Sprintf("input.subjects[%d]", i)},
					"%s %q overlaps input.subjects %q: the worker would consume its own output",
					out.key, out.subject, c.Input.Subjects[i])
			}
		}
	}
	if outOK && dlqOK && c.Output.Subject == c.DeadLetter.Subject {
		ch.add([]string{"dead_letter.subject", "output.subject"}, "dead_letter.subject must differ from output.subject %q", c.Output.Subject)
	}
	if c.Output.Stream == c.Input.Stream {
		ch.add([]string{"output.stream", "input.stream"}, "output.stream must differ from input.stream %q", c.Input.Stream)
	}
	if c.DeadLetter.Stream == c.Input.Stream || c.DeadLetter.Stream == c.Output.Stream {
		ch.addf("dead_letter.stream", "dead_letter.stream %q must differ from input.stream and output.stream", c.DeadLetter.Stream)
	}
}

// checkDefender checks the defender block (not the credentials' presence).
func (c *Config) checkDefender(ch *checker) {
	d := c.Defender
	if d.BaseURL == "" {
		ch.addf("defender.base_url", "defender.base_url must be set")
	} else {
		ch.check("defender.base_url", checkHTTPURL(d.BaseURL, d.AllowInsecureHTTP))
	}
	if d.TokenURL != "" {
		ch.check("defender.token_url", checkHTTPURL(d.TokenURL, d.AllowInsecureHTTP))
	}
	if strings.TrimSpace(d.Scope) == "" {
		ch.addf("defender.scope", "defender.scope must not be empty")
	}
	if d.TenantID != "" && !isPathSegment(d.TenantID) {
		ch.addf("defender.tenant_id", "defender.tenant_id %q may only hold letters, digits, '.', '_' and '-' (a GUID or a domain name)", d.TenantID)
	}
	if d.ClientSecret != "" && d.ClientSecretFile != "" {
		ch.add([]string{"defender.client_secret_file", "defender.client_secret"}, "defender: set client_secret or client_secret_file, not both")
	}
	ch.positive("defender.timeout", d.Timeout)
	ch.positive("defender.max_alert_age", d.MaxAlertAge)
}

// checkBuckets checks the quota, retry and cache blocks.
func (c *Config) checkBuckets(ch *checker) {
	q := c.Quota
	ch.check("quota.bucket", checkBucket(q.Bucket))
	if q.Key != "" {
		ch.check("quota.key", checkKey(q.Key))
	}
	if len(q.Limits) == 0 {
		ch.addf("quota.limits", "quota.limits must hold at least one limit such as \"100/1m\"")
	}
	for i, l := range q.Limits {
		k := fmt.Sprintf("quota.limits[%d]", i)
		switch {
		case l.Calls <= 0 || l.Window <= 0:
			ch.addf(k, "%s: %d calls per %s is not a positive limit", k, l.Calls, l.Window)
		case l.Calls > MaxLimitCalls:
			ch.addf(k, "%s: %d calls per window is over the quota's maximum of %d", k, l.Calls, MaxLimitCalls)
		}
	}
	if q.Margin < 0 {
		ch.addf("quota.margin", "quota.margin must not be negative, got %s", q.Margin)
	}
	ch.replicas("quota.replicas", q.Replicas)

	r := c.Retry
	if r.Attempts < 1 {
		ch.addf("retry.attempts", "retry.attempts must be at least 1, got %d", r.Attempts)
	}
	ch.positive("retry.base_delay", r.BaseDelay)
	ch.positive("retry.max_delay", r.MaxDelay)
	if r.BaseDelay > r.MaxDelay {
		ch.add([]string{"retry.base_delay", "retry.max_delay"},
			"retry.base_delay %s must not exceed retry.max_delay %s", r.BaseDelay, r.MaxDelay)
	}

	ch.check("cache.bucket", checkBucket(c.Cache.Bucket))
	ch.positive("cache.ttl", c.Cache.TTL)
	ch.replicas("cache.replicas", c.Cache.Replicas)
	if q.Bucket == c.Cache.Bucket {
		ch.add([]string{"cache.bucket", "quota.bucket"}, "cache.bucket must differ from quota.bucket %q", q.Bucket)
	}
	if n := c.Cache.LocalEntries; n != 0 && (n < MinLocalEntries || n > MaxLocalEntries) {
		ch.addf("cache.local_entries", "cache.local_entries must be 0 (off) or between %d and %d, got %d", MinLocalEntries, MaxLocalEntries, n)
	}
}

// checkProcess checks the worker, http and log blocks.
func (c *Config) checkProcess(ch *checker) {
	if n := c.Worker.Concurrency; n < 1 || n > 1024 {
		ch.addf("worker.concurrency", "worker.concurrency must be between 1 and 1024, got %d", n)
	}
	if c.HTTP.Listen != "" {
		if err := checkHostPort(c.HTTP.Listen, true, 0); err != nil {
			ch.addf("http.listen", "http.listen %q: %v", c.HTTP.Listen, err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ch.addf("log.level", "log.level must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		ch.addf("log.format", "log.format must be json or console, got %q", c.Log.Format)
	}
}

// checkEmbeddedAuth checks what the embedded server (nats.url empty) can
// require of its clients: it accepts the same user/password, token or nkey
// the worker connects with and serves TLS with nats.tls cert_file and
// key_file (requiring client certificates signed by ca_file when set); it
// refuses a non-loopback listen address without authentication.
func (c *Config) checkEmbeddedAuth(ch *checker) {
	n := c.NATS
	if strings.TrimSpace(n.URL) != "" {
		return
	}
	if n.User != "" && n.Password == "" {
		ch.addf("nats.user", "nats.user needs nats.password for the embedded server")
	}
	servesTLS := n.TLS.CertFile != "" && n.TLS.KeyFile != ""
	authenticated := n.User != "" && n.Password != "" || n.Token != "" || n.NkeyFile != "" || servesTLS && n.TLS.CAFile != ""
	host, _, err := net.SplitHostPort(n.Embedded.Listen)
	if err != nil || isLoopback(host) || authenticated {
		return // a bad address is reported by checkNATS
	}
	ch.addf("nats.embedded.listen", "nats.embedded.listen %q is not a loopback address: the embedded server refuses to listen "+
		"beyond loopback without authentication (set nats.user and nats.password, nats.token, nats.nkey_file, "+
		"or nats.tls with ca_file, cert_file and key_file for client certificates)", n.Embedded.Listen)
}
