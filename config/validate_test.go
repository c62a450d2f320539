package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefenderURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      string // "" = valid; else a message part, positioned at needle
		needle    string
	}{
		{"https", `base_url = "https://api.example.com"`, "", ""},
		{"http 127.0.0.1", `base_url = "http://127.0.0.1:8089"`, "", ""},
		{"http 127.8.9.10", `base_url = "http://127.8.9.10"`, "", ""},
		{"http ::1", `base_url = "http://[::1]:8089"`, "", ""},
		{"http localhost", `token_url = "http://LOCALHOST:8089/t/oauth2/v2.0/token"`, "", ""},
		{"http non-loopback", `base_url = "http://sim.internal:8089"`, "plain http:// is accepted only for a loopback host", `"http://sim`},
		{"http look-alike", `base_url = "http://127.0.0.1.example.com"`, "plain http://", `"http://`},
		{"http token_url", `token_url = "http://10.0.0.5/t"`, "defender.token_url: \"http://10.0.0.5/t\": plain http://", `"http://`},
		{"allow_insecure_http", "base_url = \"http://sim:8089\"\n  allow_insecure_http = true", "", ""},
		{"allow_insecure_http from env", "base_url = \"http://sim:8089\"\n  allow_insecure_http = env.INSECURE", "", ""},
		{"ftp", `base_url = "ftp://api.example.com"`, "must be an https:// URL", `"ftp`},
		{"relative", `base_url = "api.example.com/v1"`, "must be an absolute URL", `"api`},
		{"empty base_url", `base_url = ""`, "defender.base_url must be set", `""`},
		{"password hidden", `base_url = "http://u:hunter22@sim:1"`, `"http://[redacted]@sim:1" must not hold user information`, `"http`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "defender {\n  " + tt.src + "\n}\n"
			path := writeConfig(t, src)
			c, err := Load(path, envMap(map[string]string{"INSECURE": "true"}))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				if c.Defender.BaseURL == "" {
					t.Errorf("base_url lost")
				}
				return
			}
			ds := diagnosticsOf(t, err)
			wantDiagAt(t, ds, path, src, tt.needle, tt.want)
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("the URL's password leaked: %v", err)
			}
		})
	}
}

func TestValidateFileValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, needle, want string
	}{
		{"replicas", "input { replicas = 2 }", "2", "input.replicas must be 1, 3 or 5, got 2"},
		{"max_deliver", "input { max_deliver = 0 }", "0", "input.max_deliver must be at least 1, got 0"},
		{"stream with dot", `output { stream = "ENRICHED.v1" }`, `"ENRICHED`, `output.stream: "ENRICHED.v1" must not contain white space`},
		{"stream with space", `dead_letter { stream = "DL Q" }`, `"DL`, `dead_letter.stream: "DL Q" must not contain`},
		{"empty consumer", `input { consumer = "" }`, `""`, "input.consumer: must not be empty"},
		{"consumer wildcard", `input { consumer = "enr*" }`, `"enr`, `input.consumer: "enr*" must not contain`},
		{"bucket name", `quota { bucket = "enricher.quota" }`, `"enricher`, `quota.bucket: "enricher.quota" may only hold letters`},
		{"same buckets", `cache { bucket = "enricher_quota" }`, `"enricher_quota"`, `cache.bucket must differ from quota.bucket "enricher_quota"`},
		{"quota key", `quota { key = "a..b" }`, `"a..b"`, `quota.key: "a..b" must not be empty nor start`},
		{"no limits", `quota { limits = [] }`, "[]", "quota.limits must hold at least one limit"},
		{"negative margin", `quota { margin = "-1s" }`, `"-1s"`, "quota.margin must not be negative"},
		{"no subjects", `input { subjects = [] }`, "[]", "input.subjects must list at least one subject"},
		{"bad subject", `input { subjects = ["alerts.new", "alerts..x"] }`, `"alerts..x"`, `input.subjects[1]: "alerts..x" has an empty token`},
		{"gt in the middle", `input { subjects = ["a.>.b"] }`, `"a.>`, `may only have '>' as its last token`},
		{"capture all", `input { subjects = [">"] }`, `">"`, "overlaps the reserved subjects $JS.>"},
		{"input overlap", `input { subjects = ["in.*", "in.new"] }`, `"in.new"`, `input.subjects "in.*" and "in.new" overlap`},
		{"output wildcard", `output { subject = "alerts.*" }`, `"alerts.*"`, "must be a literal subject, without wildcards"},
		{"output captured by input", "input { subjects = [\"in.>\"] }\noutput { subject = \"in.x\" }", `"in.x"`,
			`output.subject "in.x" overlaps input.subjects "in.>": the worker would consume its own output`},
		{"default dlq captured by input", `input { subjects = ["in", "alerts.dlq"] }`, `"alerts.dlq"`,
			`dead_letter.subject "alerts.dlq" overlaps input.subjects "alerts.dlq"`},
		{"output equals dlq", `dead_letter { subject = "alerts.enriched" }`, `"alerts.enriched"`, "dead_letter.subject must differ from output.subject"},
		{"same streams", `output { stream = "ALERTS" }`, `"ALERTS"`, `output.stream must differ from input.stream "ALERTS"`},
		{"base above max", "retry {\n  base_delay = \"2m\"\n}", `"2m"`, "retry.base_delay 2m0s must not exceed retry.max_delay 1m0s"},
		{"zero timeout", `defender { timeout = "0s" }`, `"0s"`, "defender.timeout must be a positive duration, got 0s"},
		{"local entries", "cache { local_entries = -1 }", "-1", "cache.local_entries must be 0 (off) or between 16 and 1000000, got -1"},
		{"few local entries", "cache { local_entries = 8 }", "8", "cache.local_entries must be 0 (off) or between 16 and 1000000, got 8"},
		{"concurrency", "worker { concurrency = 1025 }", "1025", "worker.concurrency must be between 1 and 1024, got 1025"},
		{"log level", `log { level = "trace" }`, `"trace"`, `log.level must be debug, info, warn or error, got "trace"`},
		{"http listen", `http { listen = "localhost" }`, `"localhost"`, `http.listen "localhost": is not host:port`},
		{"tenant", `defender { tenant_id = "a b" }`, `"a b"`, `defender.tenant_id "a b" may only hold`},
		{"scope", `defender { scope = " " }`, `" "`, "defender.scope must not be empty"},
		{"secret and file", "defender {\n  client_secret = \"abcdef\"\n  client_secret_file = \"/s\"\n}", `"/s"`, "set client_secret or client_secret_file, not both"},
		{"nats url scheme", `nats { url = "nats://a:4222,https://b" }`, `"nats://a`, `nats.url: entry 2: scheme "https" is not one of nats, tls, ws, wss`},
		{"nats url port", `nats { url = "a:99999" }`, `"a:`, "nats.url: entry 1: the port must be a number from 1 to 65535"},
		{"nats url empty entry", `nats { url = "nats://a:4222,,nats://b" }`, `"nats`, "nats.url: entry 2: is empty"},
		{"nats auth methods", "nats {\n  creds_file = \"a.creds\"\n  token = \"tok-12345\"\n}", `"tok`, "nats: set one authentication method, not creds_file and token"},
		{"nats password alone", `nats { password = "pw-12345" }`, `"pw`, "nats.password is set without nats.user"},
		{"nats tls pair", "nats {\n  tls { cert_file = \"c.pem\" }\n}", `"c.pem"`, "nats.tls: cert_file and key_file must be set together"},
		{"embedded listen", "nats {\n  embedded { listen = \"4222\" }\n}", `"4222"`, `nats.embedded.listen "4222": is not host:port`},
		{"embedded store_dir", "nats {\n  embedded { store_dir = \"\" }\n}", `""`, "nats.embedded.store_dir must be set when nats.url is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := tt.src + "\n"
			path := writeConfig(t, src)
			_, err := Load(path, nil)
			ds := diagnosticsOf(t, err)
			wantDiagAt(t, ds, path, src, tt.needle, tt.want)
			if len(ds) != 1 {
				t.Errorf("got %d diagnostics, want 1:\n%v", len(ds), ds)
			}
		})
	}
}

func TestValidFileValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src string }{
		{"creds_file alone", `nats { creds_file = "/etc/nats/enricher.creds" }`},
		{"nkey_file alone", `nats { nkey_file = "/etc/nats/enricher.nk" }`},
		{"user and password", "nats {\n  user = \"u\"\n  password = \"p\"\n}"},
		{"token alone", `nats { token = "t" }`},
		{"cluster urls", `nats { url = "nats://a:4222, tls://b, ws://c:80/ws, wss://d, e:4222, [::1]:4222" }`},
		{"no embedded when url is set", "nats {\n  url = \"nats://a\"\n  embedded { listen = \"\" }\n}"},
		{"wildcard input", "input { subjects = [\"alerts.in.*\", \"raw.>\"] }"},
		{"margin zero", `quota { margin = "0s" }`},
		{"http off", `http { listen = "" }`},
		{"listen all interfaces", `http { listen = ":9090" }`},
		{"replicas 5", "cache { replicas = 5 }"},
		{"tls ca only", "nats {\n  tls { ca_file = \"ca.pem\" }\n}"},
		{"concurrency bounds", "worker { concurrency = 1024 }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(writeConfig(t, tt.src+"\n"), nil); err != nil {
				t.Errorf("got %v, want valid", err)
			}
		})
	}
}

// TestValidateBuiltInCode covers Configs made in code, as the demo does:
// no positions, every problem at once.
func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Worker.Concurrency = 0
	c.Quota.Limits = []Limit{{Calls: 0, Window: time.Minute}}
	c.Output.Subject = "alerts.new"
	c.Retry.Attempts = -1
	err := c.Validate()
	ds := diagnosticsOf(t, err)
	want := []string{
		`output.subject "alerts.new" overlaps input.subjects "alerts.new": the worker would consume its own output`,
		"quota.limits[0]: 0 calls per 1m0s is not a positive limit",
		"retry.attempts must be at least 1, got -1",
		"worker.concurrency must be between 1 and 1024, got 0",
	}
	if len(ds) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%v", len(ds), len(want), ds)
	}
	for i, d := range ds {
		if d.String() != want[i] || d.Line != 0 || d.File != "" {
			t.Errorf("diagnostic %d = %+v, want %q without file or position", i, d, want[i])
		}
	}
}

func TestSubjectsOverlap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"*.b", "a.*", true},
		{"a.*.c", "a.b.>", true},
		{"a.b", "a.b.c", false},
		{">", "x", true},
	}
	for _, tt := range tests {
		if got := subjectsOverlap(tt.a, tt.b); got != tt.want {
			t.Errorf("subjectsOverlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := subjectsOverlap(tt.b, tt.a); got != tt.want {
			t.Errorf("subjectsOverlap(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}
