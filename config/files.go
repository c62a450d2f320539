package config

import (
	"errors"
	"fmt"
	"os"
)

// CheckFiles checks that the files the configuration names can be read
// here: defender.client_secret_file and the NATS credential and TLS files.
// It returns a Diagnostics error positioned at each attribute whose file
// cannot be opened, or nil. It is not part of Validate, which a Config
// built in code passes without touching the disk; `validate` and `run`
// both call it (exit 2). Messages name the attribute and the path, never
// a file's content.
func (c *Config) CheckFiles() error {
	var ds Diagnostics
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
		if err := readable(f.path); err != nil {
			msg := fmt.Sprintf("%s %q cannot be read: %v", f.attr, f.path, err)
			ds = append(ds, c.diagnostic(problem{keys: []string{f.attr}, msg: msg}))
		}
	}
	return ds.err()
}

// readable checks that path is a file that can be opened for reading.
func readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return unwrapPathError(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return unwrapPathError(err)
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
