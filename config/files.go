package config

import (
	"fmt"
	"os"
)

// FileProblems lists the files the configuration names that cannot be
// read here: defender.client_secret_file and the NATS credential and TLS
// files. It is not part of Validate (a config may be checked on another
// machine than the one it runs on): `validate` prints these as warnings,
// `run` refuses to start with them (exit 2). Messages name the attribute
// and the path, never a file's content.
func (c *Config) FileProblems() []string {
	var out []string
	for _, f := range []struct{ attr, path string }{
		{"defender.client_secret_file", c.Defender.ClientSecretFile},
		{"nats.creds_file", c.NATS.CredsFile},
		{"nats.nkey_file", c.NATS.NkeyFile},
		{"nats.tls.ca_file", c.NATS.TLS.CAFile},
		{"nats.tls.cert_file", c.NATS.TLS.CertFile},
		{"nats.tls.key_file", c.NATS.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			out = append(out, fmt.Sprintf("%s %q cannot be read: %v", f.attr, f.path, unwrapPathError(err)))
			continue
		}
		_ = fh.Close()
	}
	return out
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
