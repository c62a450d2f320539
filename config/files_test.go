package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Defender.ClientSecretFile = secret
	if p := c.FileProblems(); len(p) != 0 {
		t.Errorf("FileProblems() = %v for a readable file", p)
	}
	c.NATS.NkeyFile = filepath.Join(dir, "missing.nk")
	c.NATS.TLS.CAFile = filepath.Join(dir, "missing-ca.pem")
	p := c.FileProblems()
	if len(p) != 2 || !strings.Contains(p[0], "nats.nkey_file") || !strings.Contains(p[1], "nats.tls.ca_file") {
		t.Errorf("FileProblems() = %v, want the nkey and CA files named", p)
	}
	for _, line := range p {
		if strings.Contains(line, "s3cr3t") {
			t.Errorf("a file's content leaked: %s", line)
		}
	}
}
