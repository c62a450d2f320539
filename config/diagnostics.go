package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ErrInvalid is matched (errors.Is) by every Diagnostics error: the
// configuration could not be loaded or is not valid.
var ErrInvalid = errors.New("invalid configuration")

// Diagnostic is one configuration problem and where it is.
type Diagnostic struct {
	// File is the configuration file's path as it was given; "" when the
	// problem is not in a file (an environment override, a Config built in
	// code or the built-in defaults).
	File string
	// Line and Col are the 1-based position of the problem in File; 0 when
	// there is no position.
	Line, Col int
	// Message says what is wrong. It never holds a secret value.
	Message string
}

// String formats the diagnostic as "FILE:LINE:COL: message", or
// "FILE: message" without a position, or just the message without a file.
func (d Diagnostic) String() string {
	switch {
	case d.File != "" && d.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
	case d.File != "":
		return d.File + ": " + d.Message
	case d.Line > 0:
		return fmt.Sprintf("%d:%d: %s", d.Line, d.Col, d.Message)
	default:
		return d.Message
	}
}

// Diagnostics is every problem found in one Load or Validate. As an error it
// prints one diagnostic per line and matches ErrInvalid.
type Diagnostics []Diagnostic

// Error implements error: one diagnostic per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalid, so that errors.Is(err, ErrInvalid)
// holds for every Diagnostics error.
func (ds Diagnostics) Is(target error) bool { return target == ErrInvalid }

// sortDiagnostics orders diagnostics by position; those without a position
// keep their relative order after the others.
func sortDiagnostics(ds Diagnostics) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// err returns ds as an error, or nil when it is empty.
func (ds Diagnostics) err() error {
	if len(ds) == 0 {
		return nil
	}
	sortDiagnostics(ds)
	return ds
}

// at returns a diagnostic positioned at the start of r.
func at(r hcl.Range, msg string) Diagnostic {
	return Diagnostic{File: r.Filename, Line: r.Start.Line, Col: r.Start.Column, Message: msg}
}

// fromHCL converts an HCL diagnostic. With terse set only its summary is
// kept: HCL details may quote the source, which must not leak a secret.
func fromHCL(file string, d *hcl.Diagnostic, terse bool) Diagnostic {
	msg := d.Summary
	if !terse && d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Subject == nil {
		return Diagnostic{File: file, Message: msg}
	}
	out := at(*d.Subject, msg)
	if out.File == "" {
		out.File = file
	}
	return out
}
