package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Defender.ClientSecretFile = secret
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles() = %v for a readable file", err)
	}
	c.Defender.ClientSecretFile = dir
	if err := c.CheckFiles(); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("CheckFiles() = %v for a directory, want \"is a directory\"", err)
	}
	c.Defender.ClientSecretFile = secret
	c.NATS.NkeyFile = filepath.Join(dir, "missing.nk")
	c.NATS.TLS.CAFile = filepath.Join(dir, "missing-ca.pem")
	err := c.CheckFiles()
	var ds Diagnostics
	if !errors.As(err, &ds) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("CheckFiles() = %v, want Diagnostics", err)
	}
	if len(ds) != 2 || !strings.Contains(ds[0].Message, "nats.nkey_file") || !strings.Contains(ds[1].Message, "nats.tls.ca_file") {
		t.Errorf("CheckFiles() = %v, want the nkey and CA files named", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a file's content leaked: %v", err)
	}
}

// TestCheckFilesPositions: a file named in the configuration file is
// reported at its attribute, FILE:LINE:COL like every other problem.
func TestCheckFilesPositions(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "defender {\n  tenant_id = \"t\"\n  client_secret_file = \"/no/such/secret\"\n}\n")
	c, err := Load(path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	want := path + `:3:24: defender.client_secret_file "/no/such/secret" cannot be read: no such file or directory`
	if err == nil || err.Error() != want {
		t.Errorf("CheckFiles() = %v\nwant %s", err, want)
	}
}
