package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// kind is the type of one attribute's value.
type kind int

const (
	kindString   kind = iota // string
	kindBool                 // bool
	kindInt                  // int
	kindDuration             // Go duration string -> time.Duration
	kindStrings              // list of strings -> []string
	kindLimits               // list of "N/W" strings -> []Limit
)

// attrSpec is one attribute of the schema.
type attrSpec struct {
	name   string
	kind   kind
	secret bool              // its value is never printed
	ptr    func(*Config) any // the field it decodes into: *string, *bool, ...
}

// blockSpec is one block of the schema: its attributes and nested blocks.
type blockSpec struct {
	name   string
	attrs  []attrSpec
	blocks []blockSpec
}

// schema returns the blocks of CONTRACT section 2. It is a function, not a
// package variable, so that nothing can change it.
func schema() []blockSpec {
	return []blockSpec{
		{name: "nats", attrs: []attrSpec{
			{"url", kindString, false, func(c *Config) any { return &c.NATS.URL }},
			{"creds_file", kindString, false, func(c *Config) any { return &c.NATS.CredsFile }},
			{"nkey_file", kindString, false, func(c *Config) any { return &c.NATS.NkeyFile }},
			{"user", kindString, false, func(c *Config) any { return &c.NATS.User }},
			{"password", kindString, true, func(c *Config) any { return &c.NATS.Password }},
			{"token", kindString, true, func(c *Config) any { return &c.NATS.Token }},
			{"manage_resources", kindBool, false, func(c *Config) any { return &c.NATS.ManageResources }},
		}, blocks: []blockSpec{
			{name: "tls", attrs: []attrSpec{
				{"ca_file", kindString, false, func(c *Config) any { return &c.NATS.TLS.CAFile }},
				{"cert_file", kindString, false, func(c *Config) any { return &c.NATS.TLS.CertFile }},
				{"key_file", kindString, false, func(c *Config) any { return &c.NATS.TLS.KeyFile }},
			}},
			{name: "embedded", attrs: []attrSpec{
				{"listen", kindString, false, func(c *Config) any { return &c.NATS.Embedded.Listen }},
				{"store_dir", kindString, false, func(c *Config) any { return &c.NATS.Embedded.StoreDir }},
			}},
		}},
		{name: "input", attrs: []attrSpec{
			{"stream", kindString, false, func(c *Config) any { return &c.Input.Stream }},
			{"subjects", kindStrings, false, func(c *Config) any { return &c.Input.Subjects }},
			{"consumer", kindString, false, func(c *Config) any { return &c.Input.Consumer }},
			{"ack_wait", kindDuration, false, func(c *Config) any { return &c.Input.AckWait }},
			{"max_deliver", kindInt, false, func(c *Config) any { return &c.Input.MaxDeliver }},
			{"replicas", kindInt, false, func(c *Config) any { return &c.Input.Replicas }},
		}},
		{name: "output", attrs: []attrSpec{
			{"stream", kindString, false, func(c *Config) any { return &c.Output.Stream }},
			{"subject", kindString, false, func(c *Config) any { return &c.Output.Subject }},
			{"duplicate_window", kindDuration, false, func(c *Config) any { return &c.Output.DuplicateWindow }},
			{"replicas", kindInt, false, func(c *Config) any { return &c.Output.Replicas }},
		}},
		{name: "dead_letter", attrs: []attrSpec{
			{"stream", kindString, false, func(c *Config) any { return &c.DeadLetter.Stream }},
			{"subject", kindString, false, func(c *Config) any { return &c.DeadLetter.Subject }},
			{"replicas", kindInt, false, func(c *Config) any { return &c.DeadLetter.Replicas }},
		}},
		{name: "defender", attrs: []attrSpec{
			{"base_url", kindString, false, func(c *Config) any { return &c.Defender.BaseURL }},
			{"token_url", kindString, false, func(c *Config) any { return &c.Defender.TokenURL }},
			{"scope", kindString, false, func(c *Config) any { return &c.Defender.Scope }},
			{"tenant_id", kindString, false, func(c *Config) any { return &c.Defender.TenantID }},
			{"client_id", kindString, false, func(c *Config) any { return &c.Defender.ClientID }},
			{"client_secret", kindString, true, func(c *Config) any { return &c.Defender.ClientSecret }},
			{"client_secret_file", kindString, false, func(c *Config) any { return &c.Defender.ClientSecretFile }},
			{"timeout", kindDuration, false, func(c *Config) any { return &c.Defender.Timeout }},
			{"allow_insecure_http", kindBool, false, func(c *Config) any { return &c.Defender.AllowInsecureHTTP }},
			{"max_alert_age", kindDuration, false, func(c *Config) any { return &c.Defender.MaxAlertAge }},
		}},
		{name: "quota", attrs: []attrSpec{
			{"bucket", kindString, false, func(c *Config) any { return &c.Quota.Bucket }},
			{"key", kindString, false, func(c *Config) any { return &c.Quota.Key }},
			{"limits", kindLimits, false, func(c *Config) any { return &c.Quota.Limits }},
			{"margin", kindDuration, false, func(c *Config) any { return &c.Quota.Margin }},
			{"replicas", kindInt, false, func(c *Config) any { return &c.Quota.Replicas }},
		}},
		{name: "retry", attrs: []attrSpec{
			{"attempts", kindInt, false, func(c *Config) any { return &c.Retry.Attempts }},
			{"base_delay", kindDuration, false, func(c *Config) any { return &c.Retry.BaseDelay }},
			{"max_delay", kindDuration, false, func(c *Config) any { return &c.Retry.MaxDelay }},
		}},
		{name: "cache", attrs: []attrSpec{
			{"bucket", kindString, false, func(c *Config) any { return &c.Cache.Bucket }},
			{"ttl", kindDuration, false, func(c *Config) any { return &c.Cache.TTL }},
			{"replicas", kindInt, false, func(c *Config) any { return &c.Cache.Replicas }},
			{"local_entries", kindInt, false, func(c *Config) any { return &c.Cache.LocalEntries }},
		}},
		{name: "worker", attrs: []attrSpec{
			{"concurrency", kindInt, false, func(c *Config) any { return &c.Worker.Concurrency }},
		}},
		{name: "http", attrs: []attrSpec{
			{"listen", kindString, false, func(c *Config) any { return &c.HTTP.Listen }},
		}},
		{name: "log", attrs: []attrSpec{
			{"level", kindString, false, func(c *Config) any { return &c.Log.Level }},
			{"format", kindString, false, func(c *Config) any { return &c.Log.Format }},
		}},
	}
}

// bodySchema is the HCL schema of one level: the attributes and block types
// allowed there, none required.
func bodySchema(attrs []attrSpec, blocks []blockSpec) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.name})
	}
	for _, b := range blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.name})
	}
	return s
}

// walkAttrs calls fn for every attribute of the schema with its dotted path
// ("nats.tls.ca_file"), in schema order.
func walkAttrs(fn func(path string, a attrSpec)) {
	var walk func(prefix string, blocks []blockSpec)
	walk = func(prefix string, blocks []blockSpec) {
		for _, b := range blocks {
			p := prefix + b.name
			for _, a := range b.attrs {
				fn(p+"."+a.name, a)
			}
			walk(p+".", b.blocks)
		}
	}
	walk("", schema())
}

// lookupAttr returns the attribute at a dotted path.
func lookupAttr(path string) (attrSpec, bool) {
	var found attrSpec
	ok := false
	walkAttrs(func(p string, a attrSpec) {
		if p == path {
			found, ok = a, true
		}
	})
	return found, ok
}

// formatValue renders a field's value for Redacted: durations and limits as
// their strings, lists as []string.
func formatValue(v any) any {
	switch v := v.(type) {
	case *string:
		return *v
	case *bool:
		return *v
	case *int:
		return *v
	case *time.Duration:
		return v.String()
	case *[]string:
		return append([]string{}, (*v)...)
	case *[]Limit:
		out := make([]string, len(*v))
		for i, l := range *v {
			out[i] = l.String()
		}
		return out
	}
	return nil
}
