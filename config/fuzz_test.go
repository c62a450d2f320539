package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad writes arbitrary bytes to a file and loads it: Load must never
// panic, and must return either a valid Config or Diagnostics.
func FuzzLoad(f *testing.F) {
	full, err := os.ReadFile("testdata/full.hcl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte("log { level = env.LEVEL }\nworker { concurrency = 1e400 }\n"))
	f.Add([]byte("input { subjects = [for s in [\"a\"] : s] }\n"))
	env := envMap(map[string]string{"LEVEL": "debug", "NATS_PASSWORD": "p"})
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.hcl")
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, env)
		switch {
		case err == nil && c == nil:
			t.Fatal("Load returned neither a Config nor an error")
		case err == nil:
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted a config that Validate rejects: %v", verr)
			}
			_ = c.Redacted()
		case !errors.Is(err, ErrInvalid):
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}
