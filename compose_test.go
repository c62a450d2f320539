package main

// No Docker engine runs here: these tests load docker-compose.yml with the
// Compose specification's own loader and check it against the binary it
// runs (its commands and flags), the configuration it feeds it
// (deploy/enricher.hcl with the compose environment) and the Prometheus
// configuration that scrapes it.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// composeFile is the local stack's definition.
const composeFile = "docker-compose.yml"

// loadCompose loads and validates the compose file with the given profiles
// ("*" = all), from an empty environment.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory("."), cli.WithProfiles(profiles), cli.WithInterpolation(true))
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s is not a valid compose file: %v", composeFile, err)
	}
	return p
}

// usesEnricherImage tells the services that run the enricher binary.
func usesEnricherImage(s types.ServiceConfig) bool {
	return s.Build != nil || strings.HasPrefix(s.Image, "enricher:")
}

// envOf returns a service's environment as a lookup function.
func envOf(s types.ServiceConfig) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := s.Environment[k]
		if !ok || v == nil {
			return "", false
		}
		return *v, true
	}
}

// flagValue returns the value of -name in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "-"+name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v
		}
	}
	return ""
}

// TestComposeFileIsValid: the file loads under the Compose specification,
// with the expected services, the observability ones only under their
// profile.
func TestComposeFileIsValid(t *testing.T) {
	t.Parallel()
	all := loadCompose(t, "*")
	want := []string{"enricher", "grafana", "nats", "prometheus", "publisher", "setup", "sim"}
	if got := all.ServiceNames(); !slices.Equal(sortedCopy(got), want) {
		t.Errorf("services %v, want %v", sortedCopy(got), want)
	}
	base := loadCompose(t)
	for _, name := range []string{"prometheus", "grafana"} {
		if _, ok := base.Services[name]; ok {
			t.Errorf("%s runs without the observability profile", name)
		}
		if s := all.Services[name]; !slices.Contains(s.Profiles, "observability") {
			t.Errorf("%s profiles %v, want observability", name, s.Profiles)
		}
	}
	// Every file a service mounts is in the repository.
	for name, s := range all.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			b, err := os.ReadFile(v.Source)
			if err != nil {
				t.Errorf("%s mounts %s, which cannot be read: %v", name, v.Source, err)
				continue
			}
			var doc any
			switch {
			case strings.HasSuffix(v.Source, ".json"):
				err = json.Unmarshal(b, &doc)
			case strings.HasSuffix(v.Source, ".yml"), strings.HasSuffix(v.Source, ".yaml"):
				err = yaml.Unmarshal(b, &doc)
			}
			if err != nil {
				t.Errorf("%s mounts %s, which does not parse: %v", name, v.Source, err)
			}
		}
	}
	for name, sec := range all.Secrets {
		if _, err := os.Stat(sec.File); err != nil {
			t.Errorf("secret %s: file %s: %v", name, sec.File, err)
		}
	}
}

// TestComposeRunsRealCommands: every service on the enricher image runs a
// command the binary dispatches, with flags its parser accepts and no
// stray argument.
func TestComposeRunsRealCommands(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "*")
	seen := 0
	for name, s := range p.Services {
		if !usesEnricherImage(s) {
			continue
		}
		seen++
		if len(s.Entrypoint) > 0 {
			t.Errorf("%s overrides the image's entrypoint (%v): the commands are checked against the enricher binary", name, s.Entrypoint)
			continue
		}
		cmd := []string(s.Command)
		if len(cmd) == 0 {
			t.Errorf("%s runs the image's default command; name it", name)
			continue
		}
		var out bytes.Buffer
		if code := runCLI([]string{cmd[0], "-h"}, io.Discard, &out); strings.Contains(out.String(), "unknown command") || code == exitOK && cmd[0] != "version" {
			t.Errorf("%s runs %q, which the enricher binary does not dispatch (exit %d): %s", name, cmd[0], code, out.String())
			continue
		}
		var fs *flag.FlagSet
		switch cmd[0] {
		case "run", "validate", "plan", "apply":
			fs, _ = newFlagSet(cmd[0], io.Discard)
			if cmd[0] == "plan" {
				fs.String("format", "", "")
			}
		case "sim":
			// The flags of cli_sim.go: the simulator's own, plus these three.
			fs = flag.NewFlagSet("sim", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			sim.RegisterFlags(fs)
			fs.String("listen", "", "")
			fs.String("log-level", "", "")
			fs.String("log-format", "", "")
		default:
			t.Errorf("%s runs %q: a long-running or one-shot service should run run, sim, apply or validate", name, cmd[0])
			continue
		}
		if err := fs.Parse(cmd[1:]); err != nil {
			t.Errorf("%s: %v: %v", name, cmd, err)
			continue
		}
		if fs.NArg() > 0 {
			t.Errorf("%s: %v: stray arguments %v", name, cmd, fs.Args())
			continue
		}
		// Now the real parser, stopped by -h before anything runs.
		out.Reset()
		runCLI(append(slices.Clone(cmd), "-h"), io.Discard, &out)
		for _, bad := range []string{"flag provided but not defined", "invalid value", "bad flag syntax"} {
			if strings.Contains(out.String(), bad) {
				t.Errorf("%s: the enricher rejects %v: %s", name, cmd, out.String())
			}
		}
	}
	if seen < 3 {
		t.Errorf("%d services on the enricher image, want sim, setup and enricher", seen)
	}
}

// TestComposeEnvIsReadByConfig: every ENRICHER_* variable the file sets is
// one the configuration reads, and the enricher services set nothing else.
func TestComposeEnvIsReadByConfig(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"ENRICHER_CONFIG": true}
	for _, o := range config.Overrides() {
		known[o.Env] = true
	}
	p := loadCompose(t, "*")
	for name, s := range p.Services {
		for k := range s.Environment {
			switch {
			case strings.HasPrefix(k, "ENRICHER_") && !known[k]:
				t.Errorf("%s sets %s, which the configuration does not read", name, k)
			case !strings.HasPrefix(k, "ENRICHER_") && usesEnricherImage(s):
				t.Errorf("%s sets %s: the enricher reads only ENRICHER_* variables", name, k)
			}
		}
	}
}

// TestComposeWorkers: the enricher service runs three replicas of `run`
// on deploy/enricher.hcl, which loads and validates with the compose
// environment applied and points at the stack's own NATS, simulator and
// secret; the resources are applied once by `setup` before the workers
// start; Prometheus scrapes every replica on the port they listen on.
func TestComposeWorkers(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "*")
	w := p.Services["enricher"]
	if w.Deploy == nil || w.Deploy.Replicas == nil {
		t.Error("enricher has no deploy.replicas, want 3")
	} else if *w.Deploy.Replicas != 3 {
		t.Errorf("enricher deploy.replicas = %d, want 3", *w.Deploy.Replicas)
	}
	cfg := composeConfig(t, w)
	if problems := cfg.CredentialProblems(); len(problems) > 0 {
		t.Errorf("enricher run would refuse to start: %v", problems)
	}

	// NATS: the stack's server, with JetStream on a volume and a health check.
	nu, err := url.Parse(cfg.NATS.URL)
	if err != nil || nu.Hostname() != "nats" || nu.Port() != "4222" {
		t.Errorf("nats.url %q, want nats://nats:4222", cfg.NATS.URL)
	}
	n := p.Services["nats"]
	if !strings.HasPrefix(n.Image, "nats:") || !slices.Contains(n.Command, "-js") || flagValue(n.Command, "sd") != "/data" {
		t.Errorf("nats: image %q command %v, want the official image with -js -sd /data", n.Image, n.Command)
	}
	if !slices.ContainsFunc(n.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/data" && v.Type == types.VolumeTypeVolume }) {
		t.Errorf("nats: no named volume on /data: %v", n.Volumes)
	}
	if n.HealthCheck == nil || len(n.HealthCheck.Test) == 0 {
		t.Error("nats has no health check")
	}

	// The simulator, over plain http on the compose network.
	bu, err := url.Parse(cfg.Defender.BaseURL)
	simSvc := p.Services["sim"]
	_, simPort, _ := net.SplitHostPort(flagValue(simSvc.Command, "listen"))
	if err != nil || bu.Hostname() != "sim" || bu.Port() != simPort || !cfg.Defender.AllowInsecureHTTP {
		t.Errorf("defender.base_url %q (allow_insecure_http %v), want http://sim:%s with plain http allowed", cfg.Defender.BaseURL, cfg.Defender.AllowInsecureHTTP, simPort)
	}
	if tu, err := url.Parse(cfg.TokenURL()); err != nil || tu.Host != bu.Host {
		t.Errorf("token url %q does not point at the simulator", cfg.TokenURL())
	}
	if id := flagValue(simSvc.Command, "client-id"); id != "" && id != cfg.Defender.ClientID {
		t.Errorf("the simulator accepts client %q, the workers use %q", id, cfg.Defender.ClientID)
	}
	if lim := flagValue(simSvc.Command, "limits"); lim != "" {
		want, err := config.ParseLimits(strings.Split(lim, ","))
		if err != nil || !slices.Equal(want, cfg.Quota.Limits) {
			t.Errorf("the simulator enforces %s, the shared quota is %v: they should match", lim, cfg.Quota.Limits)
		}
	}

	// The secret comes from a compose secret file, not from the environment.
	secretName, ok := strings.CutPrefix(cfg.Defender.ClientSecretFile, "/run/secrets/")
	if !ok || !slices.ContainsFunc(w.Secrets, func(s types.ServiceSecretConfig) bool { return s.Source == secretName }) {
		t.Errorf("defender.client_secret_file %q is not a secret the enricher service mounts (%v)", cfg.Defender.ClientSecretFile, w.Secrets)
	}
	if _, set := w.Environment["ENRICHER_DEFENDER_CLIENT_SECRET"]; set {
		t.Error("the secret is passed in the environment; use the secret file")
	}

	// Resources: applied once by setup, checked by the workers.
	setup := p.Services["setup"]
	if cfg.NATS.ManageResources {
		t.Error("nats.manage_resources is true: three workers would race to apply the resources; setup applies them")
	}
	if len(setup.Command) == 0 || setup.Command[0] != "apply" || flagValue(setup.Command, "config") != flagValue(w.Command, "config") {
		t.Errorf("setup runs %v, want apply on the workers' config", setup.Command)
	}
	if d, ok := w.DependsOn["setup"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("enricher depends on setup with %+v, want service_completed_successfully", w.DependsOn["setup"])
	}
	if d, ok := setup.DependsOn["nats"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("setup depends on nats with %+v, want service_healthy", setup.DependsOn["nats"])
	}

	// The publisher: a one-shot on the input subject, after setup.
	pub := p.Services["publisher"]
	script := strings.Join(pub.Command, " ")
	if !strings.Contains(script, "pub -J "+cfg.Input.Subjects[0]+" ") || !strings.Contains(script, "http://sim:"+simPort+"/_sim/alerts") {
		t.Errorf("publisher does not publish the simulator's alert IDs to %s: %s", cfg.Input.Subjects[0], script)
	}
	if pub.Restart != "no" || pub.DependsOn["setup"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("publisher: restart %q, depends on %+v; want a one-shot after setup", pub.Restart, pub.DependsOn)
	}

	// Prometheus scrapes every replica on the ops port.
	_, opsPort, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil || opsPort == "" {
		t.Fatalf("http.listen %q: want host:port", cfg.HTTP.Listen)
	}
	prom := p.Services["prometheus"]
	var promCfg string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			promCfg = v.Source
		}
	}
	targets := prometheusDNSTargets(t, promCfg)
	if !slices.Contains(targets, "enricher:"+opsPort) {
		t.Errorf("prometheus scrapes %v, want every replica of enricher:%s (DNS discovery)", targets, opsPort)
	}
}

// composeConfig loads the config file a service runs with (its -config,
// mounted from the repository) with the service's environment applied.
func composeConfig(t *testing.T, s types.ServiceConfig) *config.Config {
	t.Helper()
	source := composeConfigSource(t, s)
	cfg, err := config.Load(source, envOf(s))
	if err != nil {
		t.Fatalf("%s: %s with the compose environment: %v", s.Name, source, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: %s: %v", s.Name, source, err)
	}
	return cfg
}

// prometheusDNSTargets returns the host:port of every DNS-discovered
// scrape target of a Prometheus configuration file.
func prometheusDNSTargets(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("prometheus config: %v", err)
	}
	var pc struct {
		ScrapeConfigs []struct {
			DNSSD []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(b, &pc); err != nil {
		t.Fatalf("prometheus config %s: %v", path, err)
	}
	var out []string
	for _, sc := range pc.ScrapeConfigs {
		for _, d := range sc.DNSSD {
			for _, n := range d.Names {
				out = append(out, n+":"+strconv.Itoa(d.Port))
			}
		}
	}
	return out
}

// TestComposeStartupLineRedactsSecrets: the start-up line `enricher run`
// writes for the stack's configuration, even with the secret set through
// the environment, is JSON with the effective configuration and shows
// neither the secret nor the secret file's content.
func TestComposeStartupLineRedactsSecrets(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "*")
	w := p.Services["enricher"]
	const secret = "compose-env-secret-5e1f"
	env := envOf(w)
	cfg, err := config.Load(composeConfigSource(t, w), func(k string) (string, bool) {
		if k == "ENRICHER_DEFENDER_CLIENT_SECRET" {
			return secret, true
		}
		return env(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logStartup(newLogger(cfg.Log.Level, cfg.Log.Format, &buf), cfg)
	out := buf.String()
	fileSecret, err := os.ReadFile(p.Secrets["defender_client_secret"].File)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, strings.TrimSpace(string(fileSecret))} {
		if strings.Contains(out, s) {
			t.Errorf("the start-up log shows a secret:\n%s", out)
		}
	}
	first, _, _ := strings.Cut(out, "\n")
	var line struct {
		Message string         `json:"message"`
		Config  map[string]any `json:"config"`
	}
	if err := json.Unmarshal([]byte(first), &line); err != nil || line.Message != "enricher starting" || line.Config["defender"] == nil {
		t.Errorf("start-up line %q: want JSON with the effective configuration (%v)", first, err)
	}
	if !strings.Contains(out, "allow_insecure_http") {
		t.Error("no warning that plain http is allowed")
	}
}

// composeConfigSource is the repository file mounted where the service's
// -config points.
func composeConfigSource(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	target := flagValue(s.Command, "config")
	for _, v := range s.Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	t.Fatalf("%s: -config %q is not mounted from the repository", s.Name, target)
	return ""
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestDockerfile: a multi-stage build of a static binary with the Go of
// go.mod, on a minimal base, run as a non-root user, entry point the binary.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, users []string
	var entry string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 1 && f[0] == "FROM":
			froms = append(froms, f[1])
		case len(f) > 1 && f[0] == "USER":
			users = append(users, f[1])
		case len(f) > 1 && f[0] == "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		}
	}
	mod, _ := os.ReadFile("go.mod")
	goVersion := ""
	for _, l := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goVersion = strings.Join(strings.Split(v, ".")[:2], ".")
		}
	}
	switch {
	case len(froms) < 2 || froms[0] != "golang:"+goVersion:
		t.Errorf("stages %v: want a golang:%s build stage first, then the final image", froms, goVersion)
	case !strings.HasPrefix(froms[len(froms)-1], "gcr.io/distroless/static") && froms[len(froms)-1] != "scratch":
		t.Errorf("final image %s: want distroless/static or scratch", froms[len(froms)-1])
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	if len(users) == 0 || slices.ContainsFunc(users, func(u string) bool { return u == "root" || u == "0" || strings.HasPrefix(u, "0:") }) {
		t.Errorf("USER %v: want a non-root user", users)
	}
	if !strings.Contains(entry, "/enricher") {
		t.Errorf("ENTRYPOINT %s: want the enricher binary, so compose commands are its commands", entry)
	}
}
