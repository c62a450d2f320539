package config_test

import (
	"fmt"
	"os"

	"github.com/enricher/enricher/config"
)

func Example() {
	// In production: config.Load(config.ResolvePath(flagValue, os.LookupEnv, exists), os.LookupEnv).
	env := map[string]string{
		"NATS_PASSWORD":            "from-the-environment",
		"ENRICHER_LOG_LEVEL":       "warn",
		"ENRICHER_QUOTA_LIMITS":    "50/1m,1000/1h",
		"ENRICHER_NATS_URL":        "", // empty: ignored, like an unset variable
		"ENRICHER_HTTP_LISTEN":     "", // but for this one: empty turns the listener off
		"ENRICHER_DEFENDER_CLIENT": "not an override",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	cfg, err := config.Load("testdata/full.hcl", lookup)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(cfg.Input.Stream, cfg.Input.Subjects, cfg.Input.AckWait)
	fmt.Println(cfg.Quota.Limits, cfg.QuotaKey())
	fmt.Printf("%s %q %q\n", cfg.Log.Level, cfg.NATS.URL, cfg.HTTP.Listen)
	fmt.Println(cfg.Redacted()["nats"].(map[string]any)["password"])
	fmt.Println(cfg.CredentialProblems())
	// Output:
	// SECURITY_ALERTS [alerts.new alerts.replay.*] 45s
	// [50/1m0s 1000/1h0m0s] contoso-enricher
	// warn "tls://nats-1.example.net:4222, tls://nats-2.example.net:4222" ""
	// [redacted]
	// []
}

func ExampleDiagnostics() {
	_, err := config.Load("testdata/invalid.hcl", nil)
	fmt.Println(err)
	// Output:
	// testdata/invalid.hcl:3:3: Unsupported argument: An argument named "ack_wiat" is not expected here.
	// testdata/invalid.hcl:4:14: input.ack_wait: bad duration "30 seconds": use Go syntax such as "30s", "1m30s" or "500ms"
	// testdata/invalid.hcl:8:14: defender.base_url: "http://defender-sim:8089": plain http:// is accepted only for a loopback host (127.0.0.0/8, ::1, localhost) or with defender.allow_insecure_http = true; use https://
}

func ExampleConfig_Validate() {
	cfg := config.Default() // as the demo builds it, in code
	cfg.Worker.Concurrency = 2000
	cfg.Defender.BaseURL = "http://127.0.0.1:8089" // loopback: plain http is fine
	fmt.Println(cfg.Validate())
	// Output:
	// worker.concurrency must be between 1 and 1024, got 2000
}
