package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Override is one environment variable that replaces a file attribute.
type Override struct {
	// Env is the variable's name, such as "ENRICHER_NATS_URL".
	Env string
	// Attr is the dotted path of the attribute it replaces, such as "nats.url".
	Attr string
	// EmptyApplies: set but empty, the variable still applies ("" is the
	// attribute's "off"). Every other variable counts as unset when empty,
	// so that an empty placeholder (an unset variable in a compose file)
	// never switches a worker to an embedded server, to no quota or to no
	// secret.
	EmptyApplies bool
}

// Overrides lists the environment overrides of CONTRACT section 2, in the
// order they are applied (after the file).
func Overrides() []Override {
	return []Override{
		{"ENRICHER_NATS_URL", "nats.url", false},
		{"ENRICHER_DEFENDER_BASE_URL", "defender.base_url", false},
		{"ENRICHER_DEFENDER_TOKEN_URL", "defender.token_url", false},
		{"ENRICHER_DEFENDER_TENANT_ID", "defender.tenant_id", false},
		{"ENRICHER_DEFENDER_CLIENT_ID", "defender.client_id", false},
		{"ENRICHER_DEFENDER_CLIENT_SECRET", "defender.client_secret", false},
		{"ENRICHER_QUOTA_LIMITS", "quota.limits", false},
		{"ENRICHER_WORKER_CONCURRENCY", "worker.concurrency", false},
		{"ENRICHER_HTTP_LISTEN", "http.listen", true},
		{"ENRICHER_LOG_LEVEL", "log.level", false},
		{"ENRICHER_LOG_FORMAT", "log.format", false},
	}
}

// applyOverrides applies the set ENRICHER_* variables (non-empty, but for
// those whose empty value applies). A value
// that does not parse is a diagnostic naming the variable. Setting
// ENRICHER_DEFENDER_CLIENT_SECRET replaces a client_secret_file of the file.
func (d *decoder) applyOverrides() {
	for _, o := range Overrides() {
		v, ok := d.lookupEnv(o.Env)
		if !ok || (v == "" && !o.EmptyApplies) {
			continue
		}
		spec, ok := lookupAttr(o.Attr)
		if !ok {
			continue // unreachable: TestOverridesNameAttributes
		}
		d.bad[o.Attr] = false
		if err := setFromString(o.Attr, spec, spec.ptr(d.cfg), v); err != nil {
			d.bad[o.Attr] = true
			d.diags = append(d.diags, Diagnostic{Message: o.Env + ": " + err.Error()})
			continue
		}
		d.cfg.setOrigin(o.Attr, origin{env: o.Env})
		if o.Attr == "defender.client_secret" {
			d.cfg.Defender.ClientSecretFile = ""
			d.cfg.setOrigin("defender.client_secret_file", origin{})
		}
	}
}

// setOrigin records where path's value came from, forgetting the origins
// of its former elements; a zero origin forgets path altogether.
func (c *Config) setOrigin(path string, o origin) {
	for k := range c.origins {
		if baseKey(k) == path {
			delete(c.origins, k)
		}
	}
	if o != (origin{}) {
		c.origins[path] = o
	}
}

// setFromString stores an override's text in the field of the given kind.
// Its errors never quote a secret.
func setFromString(path string, spec attrSpec, ptr any, v string) error {
	switch spec.kind {
	case kindString:
		*ptr.(*string) = v
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s: want a whole number, got %q", path, v)
		}
		*ptr.(*int) = n
	case kindLimits:
		limits, err := ParseLimits(strings.Split(v, ","))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		*ptr.(*[]Limit) = limits
	default:
		return fmt.Errorf("%s: cannot be set from the environment", path)
	}
	return nil
}
