package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// planJSON is the output of `enricher plan -format json`.
type planJSON struct {
	Pending bool `json:"pending"`
	Changes []struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Stream string `json:"stream"`
		Action string `json:"action"`
		Fields []struct {
			Field string `json:"field"`
			From  string `json:"from"`
			To    string `json:"to"`
		} `json:"fields"`
	} `json:"changes"`
}

// runPlanJSON runs `plan -format json` and decodes its output.
func runPlanJSON(t *testing.T, cfgPath string) (int, planJSON) {
	t.Helper()
	code, out, errOut := runBin(t, 30*time.Second, "plan", "-config", cfgPath, "-format", "json")
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan -format json (exit %d) is not JSON: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return code, p
}

// TestCLIPlanApply: against a fresh server `plan` exits 3 and changes
// nothing; `apply` exits 0 and creates the resources; `plan` then exits 0;
// a changed input.max_deliver is planned as one update of that one field
// (text and JSON), and apply makes it so.
func TestCLIPlanApply(t *testing.T) {
	t.Parallel()
	s := startNATS(t, natsOptions(-1, t.TempDir()))
	js := connectJS(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := workerConfig{NATSURL: s.ClientURL()}
	cfg := base.write(t)

	code, out, errOut := runBin(t, 30*time.Second, "plan", "-config", cfg)
	if code != 3 {
		t.Fatalf("plan on a fresh server: exit %d, want 3\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "will be created"); n != 6 {
		t.Errorf("plan on a fresh server: %d creations, want 6 (3 streams, 1 consumer, 2 buckets):\n%s", n, out)
	}
	code, p := runPlanJSON(t, cfg)
	if code != 3 || !p.Pending || len(p.Changes) != 6 {
		t.Errorf("plan -format json on a fresh server: exit %d, pending %v, %d changes; want 3, true, 6", code, p.Pending, len(p.Changes))
	}
	for _, c := range p.Changes {
		if c.Action != "create" {
			t.Errorf("fresh server: %s %s has action %q, want create", c.Kind, c.Name, c.Action)
		}
	}
	if names := streamNames(ctx, t, js); len(names) != 0 {
		t.Fatalf("plan changed the server: streams %v exist", names)
	}

	if code, out, errOut := runBin(t, 30*time.Second, "apply", "-config", cfg); code != 0 ||
		!strings.Contains(out, "created consumer ALERTS/enricher") || !strings.Contains(out, "Resources: 6 added, 0 changed, 0 destroyed.") {
		t.Fatalf("apply: exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, name := range []string{inputStream, outputStream, dlqStream, "KV_enricher_quota", "KV_enricher_users"} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Errorf("after apply, stream %s: %v", name, err)
		}
	}
	if got := consumerMaxDeliver(ctx, t, js); got != "10" {
		t.Errorf("after apply, consumer max_deliver metadata %q, want 10", got)
	}
	code, out, errOut = runBin(t, 30*time.Second, "plan", "-config", cfg)
	if code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("plan after apply: exit %d, want 0 and \"No changes\"\n%s%s", code, out, errOut)
	}
	code, p = runPlanJSON(t, cfg)
	if code != 0 || p.Pending {
		t.Errorf("plan -format json after apply: exit %d, pending %v; want 0, false", code, p.Pending)
	}
	if code, out, errOut := runBin(t, 30*time.Second, "apply", "-config", cfg); code != 0 || !strings.Contains(out, "Resources: 0 added, 0 changed") {
		t.Errorf("second apply: exit %d, want 0 and nothing added or changed\n%s%s", code, out, errOut)
	}

	changed := base
	changed.MaxDeliver = 5
	cfg5 := changed.write(t)
	code, out, errOut = runBin(t, 30*time.Second, "plan", "-config", cfg5)
	if code != 3 {
		t.Fatalf("plan with max_deliver = 5: exit %d, want 3\n%s%s", code, out, errOut)
	}
	if strings.Count(out, "will be updated") != 1 || !strings.Contains(out, "consumer ALERTS/enricher will be updated") ||
		!strings.Contains(out, `max_deliver: "10" -> "5"`) || strings.Contains(out, "will be created") {
		t.Errorf("plan with max_deliver = 5 should update only the consumer's max_deliver:\n%s", out)
	}
	code, p = runPlanJSON(t, cfg5)
	if code != 3 || !p.Pending {
		t.Errorf("plan -format json with max_deliver = 5: exit %d, pending %v; want 3, true", code, p.Pending)
	}
	var updates int
	for _, c := range p.Changes {
		switch c.Action {
		case "none":
		case "update":
			updates++
			if c.Kind != "consumer" || c.Name != inputConsumer {
				t.Errorf("update of %s %s, want only consumer %s", c.Kind, c.Name, inputConsumer)
			}
			if len(c.Fields) != 1 || c.Fields[0].Field != "max_deliver" || c.Fields[0].From != "10" || c.Fields[0].To != "5" {
				t.Errorf("update fields %+v, want exactly max_deliver 10 -> 5", c.Fields)
			}
		default:
			t.Errorf("%s %s has action %q, want none or update", c.Kind, c.Name, c.Action)
		}
	}
	if updates != 1 {
		t.Errorf("%d updates in the JSON plan, want 1", updates)
	}

	if code, out, errOut := runBin(t, 30*time.Second, "apply", "-config", cfg5); code != 0 {
		t.Fatalf("apply max_deliver = 5: exit %d\n%s%s", code, out, errOut)
	}
	if got := consumerMaxDeliver(ctx, t, js); got != "5" {
		t.Errorf("after apply, consumer max_deliver metadata %q, want 5", got)
	}
	if code, out, errOut := runBin(t, 30*time.Second, "plan", "-config", cfg5); code != 0 {
		t.Errorf("plan after the second apply: exit %d, want 0\n%s%s", code, out, errOut)
	}
}

func streamNames(ctx context.Context, t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(ctx)
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("list streams: %v", err)
	}
	return names
}

// consumerMaxDeliver reads input.max_deliver from the consumer's metadata
// (the server-side MaxDeliver is -1 by design; the worker enforces it).
func consumerMaxDeliver(ctx context.Context, t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	c, err := js.Consumer(ctx, inputStream, inputConsumer)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	return c.CachedInfo().Config.Metadata["enricher.max_deliver"]
}

// TestCLIConnectErrorHidesCredentials: when plan, apply or dlq cannot
// reach NATS, the error names the server without the password or token
// that nats.url (or ENRICHER_NATS_URL) carries.
func TestCLIConnectErrorHidesCredentials(t *testing.T) {
	t.Parallel()
	url := "nats://alice:S3cretPassw0rd@127.0.0.1:" + strconv.Itoa(freePort(t)) + ",nats://tok3nValue@127.0.0.1:1"
	cfg := writeFile(t, "leak.hcl", "nats {\n  url = \""+url+"\"\n}\n")
	for _, args := range [][]string{{"plan"}, {"apply"}, {"dlq", "list"}} {
		code, out, errOut := runBin(t, 30*time.Second, append(args, "-config", cfg)...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		for _, secret := range []string{"S3cretPassw0rd", "tok3nValue", "alice"} {
			if strings.Contains(out+errOut, secret) {
				t.Errorf("%v printed %q:\n%s%s", args, secret, out, errOut)
			}
		}
		if !strings.Contains(errOut, "127.0.0.1") {
			t.Errorf("%v: the error does not name the server: %s", args, errOut)
		}
	}
}
