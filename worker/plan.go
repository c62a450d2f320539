package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Action is what apply would do to one resource.
type Action string

// The actions of a plan.
const (
	ActionNone   Action = "none"
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
)

// FieldChange is one attribute that differs between the server and the
// configuration.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Change is the plan for one resource.
type Change struct {
	Kind   string        `json:"kind"`
	Name   string        `json:"name"`
	Stream string        `json:"stream,omitempty"`
	Action Action        `json:"action"`
	Fields []FieldChange `json:"fields,omitempty"`
	// resource is what Apply creates or updates.
	resource Resource
}

// Pending reports whether any change would modify the server.
func Pending(changes []Change) bool {
	for _, c := range changes {
		if c.Action != ActionNone {
			return true
		}
	}
	return false
}

// Plan compares the declared resources with what the server has. It
// changes nothing.
func Plan(ctx context.Context, js jetstream.JetStream, resources []Resource) ([]Change, error) {
	changes := make([]Change, 0, len(resources))
	for _, r := range resources {
		actual, found, err := actualFields(ctx, js, r)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", r.ID(), err)
		}
		c := Change{Kind: r.Kind, Name: r.Name, Stream: r.Stream, Action: ActionNone, resource: r}
		if !found {
			c.Action = ActionCreate
		} else if diff := diffFields(actual, r.fields()); len(diff) > 0 {
			c.Action, c.Fields = ActionUpdate, diff
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func actualFields(ctx context.Context, js jetstream.JetStream, r Resource) (map[string]string, bool, error) {
	switch r.Kind {
	case KindStream, KindKV:
		name := r.Name
		if r.Kind == KindKV {
			name = "KV_" + r.Name
		}
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		cfg := s.CachedInfo().Config
		if r.Kind == KindKV {
			return kvFieldsFromStream(cfg), true, nil
		}
		return streamFields(cfg), true, nil
	default:
		c, err := js.Consumer(ctx, r.Stream, r.Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return consumerFields(c.CachedInfo().Config), true, nil
	}
}

func diffFields(actual, desired map[string]string) []FieldChange {
	var out []FieldChange
	for k, want := range desired {
		if got := actual[k]; got != want {
			out = append(out, FieldChange{Field: k, From: got, To: want})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// FormatPlan renders changes for people, Terraform style.
func FormatPlan(changes []Change) string {
	var b strings.Builder
	adds, updates := 0, 0
	for _, c := range changes {
		id := Resource{Kind: c.Kind, Name: c.Name, Stream: c.Stream}.ID()
		switch c.Action {
		case ActionCreate:
			adds++
			fmt.Fprintf(&b, "  + %s will be created\n", id)
		case ActionUpdate:
			updates++
			fmt.Fprintf(&b, "  ~ %s will be updated\n", id)
			for _, f := range c.Fields {
				fmt.Fprintf(&b, "      %s: %q -> %q\n", f.Field, f.From, f.To)
			}
		default:
			fmt.Fprintf(&b, "    %s is up to date\n", id)
		}
	}
	if adds+updates == 0 {
		b.WriteString("No changes. The NATS resources match the configuration.\n")
	} else {
		// Terraform's summary line; nothing is ever destroyed.
		fmt.Fprintf(&b, "Plan: %d to add, %d to change, 0 to destroy.\n", adds, updates)
	}
	return b.String()
}
