package worker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/enricher/enricher/config"
)

// Kinds of declared NATS resources.
const (
	KindStream   = "stream"
	KindConsumer = "consumer"
	KindKV       = "kv"
)

// MetaMaxDeliver is the consumer metadata key holding input.max_deliver.
// The consumer itself redelivers without limit so that a worker crash on
// the last delivery cannot lose a message; the worker enforces max_deliver
// and dead-letters the message instead.
const MetaMaxDeliver = "enricher.max_deliver"

// Resource is one NATS resource the configuration declares.
type Resource struct {
	Kind string
	Name string
	// Stream is the stream of a consumer.
	Stream   string
	stream   jetstream.StreamConfig
	consumer jetstream.ConsumerConfig
	kv       jetstream.KeyValueConfig
}

// ID names the resource as plan prints it, e.g. "stream ALERTS" or
// "consumer ALERTS/enricher".
func (r Resource) ID() string {
	if r.Kind == KindConsumer {
		return r.Kind + " " + r.Stream + "/" + r.Name
	}
	return r.Kind + " " + r.Name
}

// DeclaredResources lists the streams, the consumer and the KV buckets cfg
// declares, in the order they are created.
func DeclaredResources(cfg *config.Config) []Resource {
	stream := func(name string, subjects []string, replicas int, dup time.Duration) Resource {
		return Resource{Kind: KindStream, Name: name, stream: jetstream.StreamConfig{
			Name:       name,
			Subjects:   subjects,
			Retention:  jetstream.LimitsPolicy,
			Storage:    jetstream.FileStorage,
			Replicas:   replicas,
			Duplicates: dup,
		}}
	}
	kv := func(bucket string, replicas int, ttl time.Duration, desc string) Resource {
		return Resource{Kind: KindKV, Name: bucket, kv: jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: desc,
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}}
	}
	return []Resource{
		stream(cfg.Input.Stream, cfg.Input.Subjects, cfg.Input.Replicas, cfg.Output.DuplicateWindow),
		stream(cfg.Output.Stream, []string{cfg.Output.Subject}, cfg.Output.Replicas, cfg.Output.DuplicateWindow),
		stream(cfg.DeadLetter.Stream, []string{cfg.DeadLetter.Subject}, cfg.DeadLetter.Replicas, cfg.Output.DuplicateWindow),
		{Kind: KindConsumer, Name: cfg.Input.Consumer, Stream: cfg.Input.Stream, consumer: jetstream.ConsumerConfig{
			Durable:       cfg.Input.Consumer,
			Description:   "enricher workers (shared durable pull consumer)",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.Input.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: maxAckPending,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			Metadata:      map[string]string{MetaMaxDeliver: strconv.Itoa(cfg.Input.MaxDeliver)},
		}},
		kv(cfg.Quota.Bucket, cfg.Quota.Replicas, 0, "enricher shared API quota"),
		kv(cfg.Cache.Bucket, cfg.Cache.Replicas, cfg.Cache.TTL, "enricher outcome cache"),
	}
}

// maxAckPending bounds the messages the whole fleet holds unacknowledged.
const maxAckPending = 4096

// fields renders the attributes plan compares, as field name -> value.
func (r Resource) fields() map[string]string {
	switch r.Kind {
	case KindStream:
		return streamFields(r.stream)
	case KindConsumer:
		return consumerFields(r.consumer)
	default:
		return kvFields(r.kv)
	}
}

func streamFields(c jetstream.StreamConfig) map[string]string {
	return map[string]string{
		"subjects":         strings.Join(c.Subjects, ","),
		"replicas":         strconv.Itoa(max(c.Replicas, 1)),
		"duplicate_window": c.Duplicates.String(),
		"storage":          c.Storage.String(),
		"retention":        c.Retention.String(),
	}
}

// consumerFields compares input.max_deliver (the metadata the worker
// enforces) and, as server_max_deliver, the server's own limit, which must
// stay -1: a consumer made with a server-side limit would stop redelivering
// a message that never got its outcome.
func consumerFields(c jetstream.ConsumerConfig) map[string]string {
	return map[string]string{
		"ack_policy":         c.AckPolicy.String(),
		"ack_wait":           c.AckWait.String(),
		"max_deliver":        c.Metadata[MetaMaxDeliver],
		"server_max_deliver": strconv.Itoa(c.MaxDeliver),
		"max_ack_pending":    strconv.Itoa(c.MaxAckPending),
		"deliver_policy":     c.DeliverPolicy.String(),
	}
}

func kvFields(c jetstream.KeyValueConfig) map[string]string {
	return map[string]string{
		"replicas": strconv.Itoa(max(c.Replicas, 1)),
		"ttl":      c.TTL.String(),
		"history":  strconv.Itoa(int(max(c.History, 1))),
		"storage":  c.Storage.String(),
	}
}

// kvFieldsFromStream reads a bucket's settings from its backing stream.
func kvFieldsFromStream(c jetstream.StreamConfig) map[string]string {
	return kvFields(jetstream.KeyValueConfig{
		Replicas: c.Replicas,
		TTL:      c.MaxAge,
		History:  uint8(min(max(c.MaxMsgsPerSubject, 1), 64)),
		Storage:  c.Storage,
	})
}

func (r Resource) String() string { return fmt.Sprintf("%s %v", r.ID(), r.fields()) }
