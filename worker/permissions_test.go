package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/config"
	"github.com/enricher/enricher/enrich/sim"
)

// workerPermissions is the least-privilege permission set of a worker
// user (nats.manage_resources = false), as the README lists it for the
// default names: publish its outputs, pull from and acknowledge on its
// consumer, read the declared streams' info, read and write its two KV
// buckets; receive replies on _INBOX.>.
func workerPermissions(c *config.Config) *server.Permissions {
	in, cons := c.Input.Stream, c.Input.Consumer
	quota, cache := c.Quota.Bucket, c.Cache.Bucket
	pub := []string{
		c.Output.Subject,
		c.DeadLetter.Subject,
		"$JS.API.CONSUMER.INFO." + in + "." + cons,
		"$JS.API.CONSUMER.MSG.NEXT." + in + "." + cons,
		"$JS.ACK." + in + "." + cons + ".>",
		"$KV." + quota + ".>",
		"$KV." + cache + ".>",
		"$JS.API.DIRECT.GET.KV_" + quota + ".>",
		"$JS.API.DIRECT.GET.KV_" + cache + ".>",
		// The in-process cache tier's watch of the cache bucket.
		"$JS.API.CONSUMER.CREATE.KV_" + cache + ".>",
		"$JS.API.CONSUMER.DELETE.KV_" + cache + ".>",
		"$JS.FC.KV_" + cache + ".>",
	}
	for _, s := range []string{in, c.Output.Stream, c.DeadLetter.Stream, "KV_" + quota, "KV_" + cache} {
		pub = append(pub, "$JS.API.STREAM.INFO."+s)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// adminPermissions is the permission set of `enricher plan` and `enricher
// apply`: create, update and inspect the declared streams, the consumer and
// the buckets; receive replies on _INBOX.>.
func adminPermissions(c *config.Config) *server.Permissions {
	pub := []string{
		"$JS.API.INFO",
		"$JS.API.CONSUMER.CREATE." + c.Input.Stream + "." + c.Input.Consumer,
		"$JS.API.CONSUMER.INFO." + c.Input.Stream + "." + c.Input.Consumer,
	}
	for _, s := range []string{c.Input.Stream, c.Output.Stream, c.DeadLetter.Stream, "KV_" + c.Quota.Bucket, "KV_" + c.Cache.Bucket} {
		pub = append(pub, "$JS.API.STREAM.CREATE."+s, "$JS.API.STREAM.UPDATE."+s, "$JS.API.STREAM.INFO."+s)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// dlqPermissions is the permission set of `enricher dlq list` and `enricher
// dlq replay`: read and delete dead letters, publish to the input subjects.
func dlqPermissions(c *config.Config) *server.Permissions {
	d := c.DeadLetter.Stream
	pub := append([]string{"$JS.API.STREAM.INFO." + d, "$JS.API.STREAM.MSG.GET." + d, "$JS.API.STREAM.MSG.DELETE." + d}, c.Input.Subjects...)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// TestLeastPrivilegeWorker: on a server whose users have exactly the
// README's permission sets (found by tracing what each command publishes
// and subscribes to), the admin user applies the declared resources, then
// applies a change to them, and plan shows nothing pending; two workers
// with manage_resources = false enrich alerts and dead-letter a bad input
// with no permission violation; the dlq user lists and replays the dead
// letter. The worker user cannot create a stream, publish to the input
// subject or subscribe to the output subject.
func TestLeastPrivilegeWorker(t *testing.T) {
	t.Parallel()
	perms := config.Default() // the permissions are written for the default names
	e := newSecureEnv(t, sim.Options{Alerts: 100}, []nats.Option{nats.UserInfo("harness", "harness-pw")}, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "enricher", Password: "worker-pw", Permissions: workerPermissions(perms)},
			{Username: "admin", Password: "admin-pw", Permissions: adminPermissions(perms)},
			{Username: "dlq", Password: "dlq-pw", Permissions: dlqPermissions(perms)},
			{Username: "harness", Password: "harness-pw"}, // the test's own publisher and reader
		}
	})
	ctx := context.Background()

	admin := connectAs(t, e.Cfg.NATS.URL, "admin", "admin-pw")
	if _, err := Apply(ctx, admin, DeclaredResources(e.Cfg)); err != nil {
		t.Fatalf("apply as the admin user: %v", err)
	}
	e.Cfg.Input.AckWait, e.Cfg.Cache.TTL, e.Cfg.Output.DuplicateWindow = 20*time.Second, time.Hour, time.Minute
	changes, err := Apply(ctx, admin, DeclaredResources(e.Cfg))
	if err != nil {
		t.Fatalf("apply a change as the admin user: %v", err)
	}
	updated := 0
	for _, c := range changes {
		if c.Action == ActionUpdate {
			updated++
		}
	}
	if updated == 0 {
		t.Fatalf("the second apply updated nothing: %v", changes)
	}
	if changes, err := Plan(ctx, admin, DeclaredResources(e.Cfg)); err != nil || Pending(changes) {
		t.Fatalf("plan as the admin user after apply: pending %v, err %v", Pending(changes), err)
	}

	e.Cfg.NATS.ManageResources = false
	e.Cfg.NATS.User, e.Cfg.NATS.Password = "enricher", "worker-pw"
	e.startWorkers(2)
	e.runAlerts(20)
	e.publish([]byte("not/an/alert/id"))
	outputs, dead := e.waitSettled(30 * time.Second)
	if len(outputs) != 20 || len(dead) != 1 {
		t.Fatalf("after a bad input: %d events and %d dead letters, want 20 and 1", len(outputs), len(dead))
	}
	for _, line := range splitLines(e.log.String()) {
		if strings.Contains(strings.ToLower(line), "permission") {
			t.Errorf("worker log shows a permission problem: %s", line)
		}
	}

	ops := connectAs(t, e.Cfg.NATS.URL, "dlq", "dlq-pw")
	if dl, err := ListDeadLetters(ctx, ops, e.Cfg); err != nil || len(dl) != 1 {
		t.Fatalf("dlq list as the dlq user: %d dead letters, err %v", len(dl), err)
	}
	if dl, err := Replay(ctx, ops, e.Cfg, nil); err != nil || len(dl) != 1 {
		t.Fatalf("dlq replay as the dlq user: %d replayed, err %v", len(dl), err)
	}
	_, dead = e.waitSettled(30 * time.Second) // the replayed input is dead-lettered again
	if len(dead) != 1 {
		t.Errorf("after the replay: %d dead letters, want 1 (the old one removed, the replay's new one)", len(dead))
	}

	w := connectAs(t, e.Cfg.NATS.URL, "enricher", "worker-pw")
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := w.CreateStream(short, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}}); err == nil {
		t.Error("the worker user created a stream")
	}
	if _, err := w.Publish(short, e.Cfg.Input.Subjects[0], []byte("injected")); err == nil {
		t.Error("the worker user published to the input subject")
	}
	violations := make(chan error, 1)
	nc, err := nats.Connect(e.Cfg.NATS.URL, nats.UserInfo("enricher", "worker-pw"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violations <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync(e.Cfg.Output.Subject); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("subscribing to the output subject: got %v, want a permission violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the worker user subscribed to the output subject")
	}
}

// connectAs connects a JetStream client with a user and password.
func connectAs(t *testing.T, url, user, password string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
