package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSecretsNeverInDiagnostics loads files whose secrets are wrong in
// various ways; the diagnostics must say what is wrong, never the value.
func TestSecretsNeverInDiagnostics(t *testing.T) {
	t.Parallel()
	const secret = "Zq9SECRETxy"
	tests := []struct {
		name, src string
		env       map[string]string
		want      string // a part of the expected diagnostic
	}{
		{"bad escape in client_secret", `defender { client_secret = "` + secret + `\q" }`, nil, "Invalid escape sequence"},
		{"bad escape in password", "nats {\n  user = \"u\"\n  password = \"" + secret + "\\q\"\n}", nil, "Invalid escape sequence"},
		{"unknown variable in token", `nats { token = "${` + secret + `}" }`, nil, "Unknown variable"},
		{"list as client_secret", `defender { client_secret = ["` + secret + `"] }`, nil, "defender.client_secret: unsuitable value: not a string"},
		{"map as password", `nats { password = { a = "` + secret + `" } }`, nil, "nats.password: unsuitable value"},
		{"secret and file", "defender {\n  client_secret = \"" + secret + "\"\n  client_secret_file = \"/s\"\n}", nil, "not both"},
		{"password without user", `nats { password = "` + secret + `" }`, nil, "without nats.user"},
		{"token and creds", "nats {\n  token = \"" + secret + "\"\n  creds_file = \"c\"\n}", nil, "one authentication method"},
		{"secret in the nats url", `nats { url = "nats://u:` + secret + `@h:1, http://x" }`, nil, "entry 2"},
		{"token in the nats url", `nats { url = "ws://` + secret + `@h:99999" }`, nil, "has a bad port"},
		{"unparsable url with token", `nats { url = "ws://` + secret + `@h:x" }`, nil, "is not a valid URL"},
		{"host:port with password", `nats { url = "u:` + secret + `@h:4222" }`, nil, "entry 1"},
		{"secret in base_url", `defender { base_url = "http://u:` + secret + `@api.example" }`, nil, "must not hold user information"},
		{"env secret with bad other override", `log { level = "info" }`,
			map[string]string{"ENRICHER_DEFENDER_CLIENT_SECRET": secret, "ENRICHER_LOG_LEVEL": secret}, "log.level must be"},
		{"secret via env reference", `defender { client_secret = "${env.S}${env.MISSING}" }`, map[string]string{"S": secret}, "MISSING is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.src+"\n")
			_, err := Load(path, envMap(tt.env))
			ds := diagnosticsOf(t, err)
			if _, ok := findDiag(ds, tt.want); !ok {
				t.Errorf("no diagnostic contains %q:\n%v", tt.want, ds)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the secret leaked:\n%v", err)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	src := `nats {
  url      = "nats://alice:natspass1@n1:4222, n2:4222, tls://tok3n4567@n3"
  user     = "alice"
  password = "natspass1"
}
defender { client_secret = env.SECRET }
`
	path := writeConfig(t, src)
	c, err := Load(path, envMap(map[string]string{"SECRET": "clientsecret9"}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, s := range []string{"natspass1", "clientsecret9", "tok3n4567"} {
		if strings.Contains(out, s) {
			t.Errorf("Redacted() holds %q: %s", s, out)
		}
	}
	nats := r["nats"].(map[string]any)
	checks := []struct {
		got, want any
	}{
		{r["file"], path},
		{nats["url"], "nats://[redacted]@n1:4222,n2:4222,tls://[redacted]@n3"},
		{nats["user"], "alice"},
		{nats["password"], Redaction},
		{nats["token"], ""}, // unset stays empty: the log shows it is not set
		{r["defender"].(map[string]any)["client_secret"], Redaction},
		{r["defender"].(map[string]any)["timeout"], "10s"},
		{nats["embedded"].(map[string]any)["listen"], "127.0.0.1:4222"},
		{r["worker"].(map[string]any)["concurrency"], 16},
		{r["nats"].(map[string]any)["manage_resources"], true},
	}
	for i, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("check %d: got %v, want %v", i, ch.got, ch.want)
		}
	}
	if got := strings.Join(r["quota"].(map[string]any)["limits"].([]string), ","); got != "100/1m0s,1500/1h0m0s" {
		t.Errorf("quota.limits = %q", got)
	}
	// A secret file's path is kept: it is not the secret.
	c.Defender.ClientSecret, c.Defender.ClientSecretFile = "", "/run/secrets/s"
	if got := c.Redacted()["defender"].(map[string]any)["client_secret_file"]; got != "/run/secrets/s" {
		t.Errorf("client_secret_file = %v", got)
	}
}
