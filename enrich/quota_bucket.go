package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureQuotaBucket returns the KV bucket that holds quota state, creating it
// if missing: history 1, no TTL, replicas as given (at least 1). Several
// workers may call it at once: whoever loses the creation race binds to the
// bucket the winner made (CreateKeyValue, then KeyValue on ErrBucketExists,
// never CreateOrUpdate; see DESIGN "Known traps"). An existing bucket is used
// as it is, whatever its settings.
func EnsureQuotaBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "enricher fleet-wide API quota",
		History:     1,
		Replicas:    max(replicas, 1),
	}
	kv, err := js.CreateKeyValue(ctx, cfg)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketExists) {
		return nil, fmt.Errorf("create quota bucket %q: %w", bucket, err)
	}
	kv, err = js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open quota bucket %q: %w", bucket, err)
	}
	return kv, nil
}
