package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// contractDefaults is CONTRACT section 2, written out independently of Default.
func contractDefaults() Config {
	return Config{
		NATS: NATS{
			URL: "", ManageResources: true,
			Embedded: Embedded{Listen: "127.0.0.1:4222", StoreDir: "data/nats"},
		},
		Input: Input{
			Stream: "ALERTS", Subjects: []string{"alerts.new"}, Consumer: "enricher",
			AckWait: 30 * time.Second, MaxDeliver: 10, Replicas: 1,
		},
		Output:     Output{Stream: "ENRICHED", Subject: "alerts.enriched", DuplicateWindow: 2 * time.Minute, Replicas: 1},
		DeadLetter: DeadLetter{Stream: "ENRICHER_DLQ", Subject: "alerts.dlq", Replicas: 1},
		Defender: Defender{
			BaseURL: "https://api.securitycenter.microsoft.com",
			Scope:   "https://api.securitycenter.microsoft.com/.default",
			Timeout: 10 * time.Second, MaxAlertAge: 720 * time.Hour,
		},
		Quota: Quota{
			Bucket: "enricher_quota",
			Limits: []Limit{{100, time.Minute}, {1500, time.Hour}},
			Margin: time.Second, Replicas: 1,
		},
		Retry:  Retry{Attempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: time.Minute},
		Cache:  Cache{Bucket: "enricher_users", TTL: 24 * time.Hour, Replicas: 1, LocalEntries: 10000},
		Worker: Worker{Concurrency: 16},
		HTTP:   HTTP{Listen: "127.0.0.1:9090"},
		Log:    Log{Level: "info", Format: "json"},
	}
}

// public strips the unexported bookkeeping so that configs compare by value.
func public(c *Config) Config {
	out := *c
	out.origins = nil
	return out
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	empty := writeConfig(t, "# nothing set\n")
	tests := []struct {
		name string
		load func() (*Config, error)
		file string
	}{
		{"Default", func() (*Config, error) { return Default(), nil }, ""},
		{"Load without a file", func() (*Config, error) { return Load("", nil) }, ""},
		{"Load an empty file", func() (*Config, error) { return Load(empty, envMap(nil)) }, empty},
		{"Load with unrelated env", func() (*Config, error) {
			return Load("", envMap(map[string]string{"HOME": "/root", "ENRICHER_NATS_URL": ""}))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.load()
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			want := contractDefaults()
			want.File = tt.file
			if !reflect.DeepEqual(public(got), want) {
				t.Errorf("got %+v\nwant %+v", public(got), want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("defaults do not validate: %v", err)
			}
		})
	}
}

func TestDefaultReturnsIndependentValues(t *testing.T) {
	t.Parallel()
	a := Default()
	a.Input.Subjects[0] = "changed"
	a.Quota.Limits[0].Calls = 1
	if b := Default(); b.Input.Subjects[0] != "alerts.new" || b.Quota.Limits[0].Calls != 100 {
		t.Errorf("changing one Default() changed another: %+v", b)
	}
}

func TestLoadFullExample(t *testing.T) {
	t.Parallel()
	const path = "testdata/full.hcl"
	got, err := Load(path, envMap(map[string]string{"NATS_PASSWORD": "nats-pass-1234"}))
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	want := Config{
		File: path,
		NATS: NATS{
			URL:  "tls://nats-1.example.net:4222, tls://nats-2.example.net:4222",
			User: "enricher", Password: "nats-pass-1234", ManageResources: false,
			TLS: TLS{
				CAFile: "/etc/enricher/nats-ca.pem", CertFile: "/etc/enricher/nats-client.pem",
				KeyFile: "/etc/enricher/nats-client-key.pem",
			},
			Embedded: Embedded{Listen: "127.0.0.1:14222", StoreDir: "/var/lib/enricher/nats"},
		},
		Input: Input{
			Stream: "SECURITY_ALERTS", Subjects: []string{"alerts.new", "alerts.replay.*"},
			Consumer: "enricher_prod", AckWait: 45 * time.Second, MaxDeliver: 8, Replicas: 3,
		},
		Output:     Output{Stream: "ALERTS_ENRICHED", Subject: "alerts.out.enriched", DuplicateWindow: 5 * time.Minute, Replicas: 3},
		DeadLetter: DeadLetter{Stream: "ALERTS_DLQ", Subject: "alerts.out.dlq", Replicas: 3},
		Defender: Defender{
			BaseURL:          "https://api-eu.securitycenter.microsoft.com",
			TokenURL:         "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
			Scope:            "https://api-eu.securitycenter.microsoft.com/.default",
			TenantID:         "contoso.onmicrosoft.com",
			ClientID:         "8f1c2a7e-0000-4000-8000-00000000beef",
			ClientSecretFile: "/run/secrets/defender_client_secret",
			Timeout:          15 * time.Second, MaxAlertAge: 168 * time.Hour,
		},
		Quota: Quota{
			Bucket: "enricher_quota_prod", Key: "contoso-enricher",
			Limits: []Limit{{90, time.Minute}, {1400, time.Hour}}, Margin: 2 * time.Second, Replicas: 3,
		},
		Retry:  Retry{Attempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 30 * time.Second},
		Cache:  Cache{Bucket: "enricher_users_prod", TTL: 12 * time.Hour, Replicas: 3, LocalEntries: 5000},
		Worker: Worker{Concurrency: 32},
		HTTP:   HTTP{Listen: "0.0.0.0:9191"},
		Log:    Log{Level: "debug", Format: "console"},
	}
	if !reflect.DeepEqual(public(got), want) {
		t.Errorf("got  %+v\nwant %+v", public(got), want)
	}
	// Every attribute of the schema is written in the documented example.
	walkAttrs(func(path string, _ attrSpec) {
		if _, ok := got.origins[path]; !ok {
			t.Errorf("testdata/full.hcl does not set %s", path)
		}
	})
}

// TestSchemaCoversConfig proves that every leaf field of Config (but File)
// is decoded by exactly one attribute of the schema.
func TestSchemaCoversConfig(t *testing.T) {
	t.Parallel()
	c := &Config{}
	fields := map[uintptr]string{}
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			if !sf.IsExported() || sf.Name == "File" {
				continue
			}
			if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Duration]() {
				walk(f, name+sf.Name+".")
				continue
			}
			fields[f.Addr().Pointer()] = name + sf.Name
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	seen := map[uintptr]string{}
	walkAttrs(func(path string, a attrSpec) {
		p := reflect.ValueOf(a.ptr(c)).Pointer()
		if _, ok := fields[p]; !ok {
			t.Errorf("attribute %s does not point at a Config field", path)
		}
		if prev, dup := seen[p]; dup {
			t.Errorf("attributes %s and %s decode into the same field", prev, path)
		}
		seen[p] = path
	})
	for p, name := range fields {
		if _, ok := seen[p]; !ok {
			t.Errorf("field %s has no attribute", name)
		}
	}
	// The 50 of CONTRACT section 2, and cache.local_entries (README).
	if len(seen) != 51 {
		t.Errorf("the schema has %d attributes, want the 50 of CONTRACT section 2 and cache.local_entries", len(seen))
	}
}

func TestOverridesNameAttributes(t *testing.T) {
	t.Parallel()
	for _, o := range Overrides() {
		if !strings.HasPrefix(o.Env, "ENRICHER_") {
			t.Errorf("override %s does not start with ENRICHER_", o.Env)
		}
		if _, ok := lookupAttr(o.Attr); !ok {
			t.Errorf("override %s names unknown attribute %s", o.Env, o.Attr)
		}
	}
	if n := len(Overrides()); n != 11 {
		t.Errorf("got %d overrides, want the 11 of the contract", n)
	}
}
