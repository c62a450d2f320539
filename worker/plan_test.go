package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/enricher/enricher/enrich/sim"
)

// planIDs lists "action resource-id" for each change, in order.
func planIDs(changes []Change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = string(c.Action) + " " + Resource{Kind: c.Kind, Name: c.Name, Stream: c.Stream}.ID()
	}
	return out
}

// mustPlan plans e.Cfg's resources against e's server.
func mustPlan(t *testing.T, e *testEnv) []Change {
	t.Helper()
	changes, err := Plan(context.Background(), e.js, DeclaredResources(e.Cfg))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return changes
}

// assertClean fails unless every declared resource is up to date.
func assertClean(t *testing.T, what string, changes []Change) {
	t.Helper()
	if Pending(changes) {
		t.Errorf("%s: plan not clean:\n%s", what, FormatPlan(changes))
	}
	if !strings.Contains(FormatPlan(changes), "No changes.") {
		t.Errorf("%s: FormatPlan of a clean plan does not say so:\n%s", what, FormatPlan(changes))
	}
}

// TestPlanApplyLifecycle walks the declarative resources: a fresh server
// plans a create for each, Apply makes them, a second Apply is a no-op, a
// changed max_deliver is an update of that one consumer field, a changed
// duplicate window an update of that one stream field, and each Apply
// leaves a clean plan and the server as declared.
func TestPlanApplyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	ctx := context.Background()

	changes := mustPlan(t, e)
	want := []string{
		"create stream ALERTS", "create stream ENRICHED", "create stream ENRICHER_DLQ",
		"create consumer ALERTS/enricher", "create kv enricher_quota", "create kv enricher_users",
	}
	if got := planIDs(changes); !slices.Equal(got, want) {
		t.Fatalf("fresh plan = %q, want %q", got, want)
	}
	if !Pending(changes) {
		t.Error("Pending = false on a fresh server")
	}
	text := FormatPlan(changes)
	for _, line := range []string{"+ stream ALERTS will be created", "+ consumer ALERTS/enricher will be created", "+ kv enricher_users will be created", "Plan: 6 to add, 0 to change, 0 to destroy."} {
		if !strings.Contains(text, line) {
			t.Errorf("FormatPlan lacks %q:\n%s", line, text)
		}
	}

	applied, err := Apply(ctx, e.js, DeclaredResources(e.Cfg))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := planIDs(applied); !slices.Equal(got, want) {
		t.Errorf("apply reported %q, want %q", got, want)
	}
	assertClean(t, "after apply", mustPlan(t, e))

	again, err := Apply(ctx, e.js, DeclaredResources(e.Cfg))
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if Pending(again) {
		t.Errorf("second apply changed something: %q", planIDs(again))
	}

	// max_deliver lives in the consumer metadata: one field of one resource.
	e.Cfg.Input.MaxDeliver = 7
	changes = mustPlan(t, e)
	assertOneUpdate(t, changes, "consumer ALERTS/enricher", FieldChange{Field: "max_deliver", From: "10", To: "7"})
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatalf("apply max_deliver: %v", err)
	}
	assertClean(t, "after the max_deliver update", mustPlan(t, e))
	cons, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cons.CachedInfo().Config; cfg.Metadata[MetaMaxDeliver] != "7" || cfg.MaxDeliver != -1 {
		t.Errorf("consumer after update: metadata max_deliver %q, server MaxDeliver %d; want \"7\" and -1",
			cfg.Metadata[MetaMaxDeliver], cfg.MaxDeliver)
	}

	// The duplicate window: only that field changes, on streams only.
	e.Cfg.Output.DuplicateWindow = 5 * time.Minute
	changes = mustPlan(t, e)
	updated := map[string]bool{}
	for _, c := range changes {
		if c.Action == ActionNone {
			continue
		}
		id := Resource{Kind: c.Kind, Name: c.Name, Stream: c.Stream}.ID()
		updated[id] = true
		wantF := []FieldChange{{Field: "duplicate_window", From: "2m0s", To: "5m0s"}}
		if c.Action != ActionUpdate || c.Kind != KindStream || !slices.Equal(c.Fields, wantF) {
			t.Errorf("duplicate_window change: %s %s %+v, want a stream update of %+v", c.Action, id, c.Fields, wantF)
		}
	}
	if !updated["stream ENRICHED"] {
		t.Errorf("the output stream is not updated for output.duplicate_window: %q", planIDs(changes))
	}
	if text := FormatPlan(changes); !strings.Contains(text, `duplicate_window: "2m0s" -> "5m0s"`) ||
		!strings.Contains(text, "~ stream ENRICHED will be updated") {
		t.Errorf("FormatPlan does not show the duplicate_window update:\n%s", text)
	}
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatalf("apply duplicate_window: %v", err)
	}
	assertClean(t, "after the duplicate_window update", mustPlan(t, e))
	s, err := e.js.Stream(ctx, e.Cfg.Output.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d != 5*time.Minute {
		t.Errorf("output stream duplicate window %s after apply, want 5m", d)
	}
}

// assertOneUpdate checks that changes update exactly one resource, id, in
// exactly one field, and that FormatPlan names the field and both values.
func assertOneUpdate(t *testing.T, changes []Change, id string, f FieldChange) {
	t.Helper()
	var pending []Change
	for _, c := range changes {
		if c.Action != ActionNone {
			pending = append(pending, c)
		}
	}
	if len(pending) != 1 {
		t.Fatalf("%d resources to change, want 1 (%s): %q", len(pending), id, planIDs(pending))
	}
	c := pending[0]
	got := Resource{Kind: c.Kind, Name: c.Name, Stream: c.Stream}.ID()
	if c.Action != ActionUpdate || got != id || !slices.Equal(c.Fields, []FieldChange{f}) {
		t.Errorf("change = %s %s %+v, want update %s %+v", c.Action, got, c.Fields, id, f)
	}
	text := FormatPlan(changes)
	for _, s := range []string{"~ " + id + " will be updated", f.Field, `"` + f.From + `"`, `"` + f.To + `"`, "Plan: 0 to add, 1 to change, 0 to destroy."} {
		if !strings.Contains(text, s) {
			t.Errorf("FormatPlan lacks %q:\n%s", s, text)
		}
	}
}

// TestPlanUnmanagedResourcesMustExist: with manage_resources = false,
// StartRuntime creates nothing and fails with ErrResources naming what is
// missing or different; once the resources match it starts.
func TestPlanUnmanagedResourcesMustExist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	e.Cfg.NATS.ManageResources = false
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := func() error {
		rt, err := StartRuntime(ctx, RuntimeOptions{Config: e.Cfg, Logger: zerolog.Nop(), ID: "unmanaged"})
		if err == nil {
			rt.close()
		}
		return err
	}

	err := start()
	if !errors.Is(err, ErrResources) {
		t.Fatalf("StartRuntime on an empty server = %v, want ErrResources", err)
	}
	for _, s := range []string{"stream ALERTS", "stream ENRICHED", "stream ENRICHER_DLQ", "consumer ALERTS/enricher", "kv enricher_quota", "kv enricher_users", "manage_resources"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %q:\n%v", s, err)
		}
	}
	if names := streamNames(t, e); len(names) != 0 {
		t.Errorf("StartRuntime with manage_resources = false created %q", names)
	}

	// One bucket missing and one consumer field different.
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	if err := e.js.DeleteKeyValue(ctx, e.Cfg.Cache.Bucket); err != nil {
		t.Fatal(err)
	}
	e.Cfg.Input.MaxDeliver = 4
	err = start()
	if !errors.Is(err, ErrResources) {
		t.Fatalf("StartRuntime with a missing bucket = %v, want ErrResources", err)
	}
	for _, s := range []string{"+ kv enricher_users will be created", "~ consumer ALERTS/enricher will be updated", `max_deliver: "10" -> "4"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "+ stream") {
		t.Errorf("error calls an existing stream missing:\n%v", err)
	}

	e.Cfg.Input.MaxDeliver = 10
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	if err := start(); err != nil {
		t.Errorf("StartRuntime with matching resources: %v", err)
	}
}

func streamNames(t *testing.T, e *testEnv) []string {
	t.Helper()
	var names []string
	l := e.js.StreamNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestPlanConcurrentApply: six processes (connections) applying at once on a
// fresh server all succeed and leave a clean plan, as many workers starting
// together do.
func TestPlanConcurrentApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	concurrentApply(t, e, 6)
}

// concurrentApply runs k Applies of e.Cfg's resources at the same moment,
// each on its own connection, and checks that all succeed and the plan is
// clean afterwards.
func concurrentApply(t *testing.T, e *testEnv, k int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	errs := make([]error, k)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range k {
		nc, err := nats.Connect(e.Cfg.NATS.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, errs[i] = Apply(ctx, js, DeclaredResources(e.Cfg))
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	t.Logf("%d concurrent applies took %s", k, time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("apply %d: %v", i, err)
		}
	}
	assertClean(t, "after concurrent applies", mustPlan(t, e))
}

// TestPlanApplyKeepsUndeclaredSettings: an update changes only the fields the
// plan shows; settings the configuration does not declare (an operator's
// retention limits, a description, consumer metadata of other tools) stay
// as the server has them.
func TestPlanApplyKeepsUndeclaredSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	ctx := context.Background()
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	s, err := e.js.Stream(ctx, e.Cfg.Output.Stream)
	if err != nil {
		t.Fatal(err)
	}
	sc := s.CachedInfo().Config
	sc.MaxAge, sc.MaxBytes, sc.Description = 72*time.Hour, 1<<30, "kept by the SIEM team"
	if _, err := e.js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	c, err := e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	cc := c.CachedInfo().Config
	cc.Metadata["team"] = "soc"
	cc.InactiveThreshold = 0
	cc.MaxRequestBatch = 500
	if _, err := e.js.UpdateConsumer(ctx, e.Cfg.Input.Stream, cc); err != nil {
		t.Fatal(err)
	}
	kvs, err := e.js.Stream(ctx, "KV_"+e.Cfg.Cache.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	kc := kvs.CachedInfo().Config
	kc.MaxBytes = 1 << 20
	if _, err := e.js.UpdateStream(ctx, kc); err != nil {
		t.Fatal(err)
	}
	assertClean(t, "undeclared settings are not compared", mustPlan(t, e))

	e.Cfg.Output.DuplicateWindow = 3 * time.Minute
	e.Cfg.Input.MaxDeliver = 5
	e.Cfg.Cache.TTL = 30 * time.Second
	if _, err := Apply(ctx, e.js, DeclaredResources(e.Cfg)); err != nil {
		t.Fatal(err)
	}
	assertClean(t, "after apply", mustPlan(t, e))
	if s, err = e.js.Stream(ctx, e.Cfg.Output.Stream); err != nil {
		t.Fatal(err)
	}
	got := s.CachedInfo().Config
	if got.Duplicates != 3*time.Minute {
		t.Errorf("duplicate window %s, want 3m", got.Duplicates)
	}
	if got.MaxAge != 72*time.Hour || got.MaxBytes != 1<<30 || got.Description != "kept by the SIEM team" {
		t.Errorf("apply reset undeclared stream settings: max_age %s, max_bytes %d, description %q",
			got.MaxAge, got.MaxBytes, got.Description)
	}
	if kvs, err = e.js.Stream(ctx, "KV_"+e.Cfg.Cache.Bucket); err != nil {
		t.Fatal(err)
	}
	if kc := kvs.CachedInfo().Config; kc.MaxAge != 30*time.Second || kc.Duplicates > 30*time.Second || kc.MaxBytes != 1<<20 {
		t.Errorf("cache bucket after apply: ttl %s, duplicate window %s, max_bytes %d; want 30s, <= 30s, 1MiB kept",
			kc.MaxAge, kc.Duplicates, kc.MaxBytes)
	}
	if c, err = e.js.Consumer(ctx, e.Cfg.Input.Stream, e.Cfg.Input.Consumer); err != nil {
		t.Fatal(err)
	}
	gc := c.CachedInfo().Config
	if gc.Metadata[MetaMaxDeliver] != "5" || gc.Metadata["team"] != "soc" || gc.MaxRequestBatch != 500 {
		t.Errorf("consumer after apply: metadata %v, max_request_batch %d; want max_deliver 5, team soc kept, 500 kept",
			gc.Metadata, gc.MaxRequestBatch)
	}
}

// TestPlanSeesServerSideMaxDeliver: a consumer made by hand (or by an old
// version) with a server-side delivery limit is an update back to -1, so
// the server never stops redelivering a message without an outcome.
func TestPlanSeesServerSideMaxDeliver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Alerts: 1})
	ctx := context.Background()
	declared := DeclaredResources(e.Cfg)
	if _, err := Apply(ctx, e.js, declared[:3]); err != nil { // the streams only
		t.Fatal(err)
	}
	hand := declared[3].consumer
	hand.MaxDeliver = 10
	if _, err := e.js.CreateConsumer(ctx, e.Cfg.Input.Stream, hand); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, e.js, declared[4:]); err != nil { // the buckets
		t.Fatal(err)
	}
	assertOneUpdate(t, mustPlan(t, e), "consumer ALERTS/enricher", FieldChange{Field: "server_max_deliver", From: "10", To: "-1"})
	if _, err := Apply(ctx, e.js, declared); err != nil {
		t.Fatal(err)
	}
	assertClean(t, "after apply", mustPlan(t, e))
}
