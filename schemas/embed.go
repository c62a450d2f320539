// Package schemas holds the message formats of enricher: the JSON Schemas
// (embedded), the Go types of the output event, and the parsing of input
// bodies with the alert ID rule. It knows nothing of NATS or HTTP.
package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Names of the embedded JSON Schema files.
const (
	InputAlertV1    = "input-alert.v1.json"
	EnrichedAlertV1 = "enriched-alert.v1.json"
	DeadLetterV1    = "dead-letter.v1.json"
)

//go:embed *.json
var files embed.FS

// FS returns the embedded JSON Schema files (JSON Schema 2020-12).
func FS() fs.FS { return files }

// Compile compiles one of the embedded schemas (InputAlertV1,
// EnrichedAlertV1, DeadLetterV1) with format assertions on.
func Compile(name string) (*jsonschema.Schema, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return s, nil
}

// ValidateJSON checks a JSON document against a compiled schema.
func ValidateJSON(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("parse document: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("validate document: %w", err)
	}
	return nil
}
