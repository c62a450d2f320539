package config

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// origin is where one attribute's value came from.
type origin struct {
	rng hcl.Range // the value's range in the file, when it came from the file
	env string    // the ENRICHER_* variable, when it came from the environment
}

// decoder decodes one HCL file into a Config, collecting every problem.
type decoder struct {
	file      string
	lines     []string // the source, to keep secrets out of HCL's messages
	lookupEnv func(string) (string, bool)
	cfg       *Config
	diags     Diagnostics
	bad       map[string]bool // paths whose value could not be decoded
}

// body decodes one level of the file strictly: attributes and blocks not in
// the schema are errors, each block type may appear once.
func (d *decoder) body(prefix string, body hcl.Body, attrs []attrSpec, blocks []blockSpec) {
	content, hd := body.Content(bodySchema(attrs, blocks))
	d.addHCL(hd, false)
	if content == nil {
		return
	}
	for _, a := range attrs {
		if attr, ok := content.Attributes[a.name]; ok {
			d.attr(prefix+a.name, a, attr)
		}
	}
	for _, b := range blocks {
		var first *hcl.Block
		for _, blk := range content.Blocks {
			if blk.Type != b.name {
				continue
			}
			if first != nil {
				d.diags = append(d.diags, at(blk.TypeRange, fmt.Sprintf(
					"duplicate %s block: it is already defined at line %d", prefix+b.name, first.TypeRange.Start.Line)))
				continue
			}
			first = blk
			d.body(prefix+b.name+".", blk.Body, b.attrs, b.blocks)
		}
	}
}

// addHCL appends HCL diagnostics, keeping only the summary (never a quote
// of the source) of those that are secret or sit on a line that sets a
// secret attribute.
func (d *decoder) addHCL(hd hcl.Diagnostics, secret bool) {
	for _, h := range hd {
		if h.Severity != hcl.DiagError {
			continue
		}
		terse := secret || (h.Subject != nil && d.setsSecret(h.Subject.Start.Line))
		d.diags = append(d.diags, fromHCL(d.file, h, terse))
	}
}

// setsSecret reports whether source line n (1-based) assigns a secret
// attribute such as `client_secret = ...`.
func (d *decoder) setsSecret(n int) bool {
	if n < 1 || n > len(d.lines) {
		return false
	}
	return secretAssignment.MatchString(d.lines[n-1])
}

// secretAssignment matches a line that assigns a secret attribute.
var secretAssignment = regexp.MustCompile(`(^|[^A-Za-z0-9_-])(client_secret|password|token)\s*=`)

// fail records a problem with the value at path, which keeps its default.
func (d *decoder) fail(path string, r hcl.Range, msg string) {
	d.bad[path] = true
	d.diags = append(d.diags, at(r, msg))
}

// attr evaluates one attribute and stores its value in the Config. A null
// value leaves the default in place.
func (d *decoder) attr(path string, spec attrSpec, a *hcl.Attribute) {
	ctx, ok := d.evalContext(a.Expr)
	if !ok {
		d.bad[path] = true
		return
	}
	v, hd := a.Expr.Value(ctx)
	if hd.HasErrors() {
		d.bad[path] = true
		d.addHCL(hd, spec.secret)
		return
	}
	if v.IsNull() {
		return
	}
	if !v.IsWhollyKnown() || v.IsMarked() {
		// Only HCL's recovery from a syntax error, already reported,
		// yields an unknown value: nothing the environment provides is.
		d.bad[path] = true
		if len(d.diags) == 0 {
			d.fail(path, a.Expr.Range(), path+": the value must be a constant")
		}
		return
	}
	if d.set(path, spec, a.Expr, v) {
		d.cfg.origins[path] = origin{rng: a.Expr.Range()}
	}
}

// set converts v to the attribute's kind and stores it; false after
// recording a problem.
func (d *decoder) set(path string, spec attrSpec, expr hcl.Expression, v cty.Value) bool {
	r := expr.Range()
	switch spec.kind {
	case kindString, kindDuration:
		cv, err := convert.Convert(v, cty.String)
		if err != nil {
			d.fail(path, r, fmt.Sprintf("%s: unsuitable value: %s", path, conversionProblem(err, spec.secret)))
			return false
		}
		s := cv.AsString()
		if spec.kind == kindString {
			*spec.ptr(d.cfg).(*string) = s
			return true
		}
		dur, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			d.fail(path, r, fmt.Sprintf("%s: bad duration %q: use Go syntax such as \"30s\", \"1m30s\" or \"500ms\"", path, s))
			return false
		}
		*spec.ptr(d.cfg).(*time.Duration) = dur
	case kindBool:
		cv, err := convert.Convert(v, cty.Bool)
		if err != nil {
			d.fail(path, r, fmt.Sprintf("%s: unsuitable value: %s", path, conversionProblem(err, spec.secret)))
			return false
		}
		*spec.ptr(d.cfg).(*bool) = cv.True()
	case kindInt:
		cv, err := convert.Convert(v, cty.Number)
		if err != nil {
			d.fail(path, r, fmt.Sprintf("%s: unsuitable value: %s", path, conversionProblem(err, spec.secret)))
			return false
		}
		n, acc := cv.AsBigFloat().Int64()
		if acc != big.Exact || int64(int(n)) != n {
			d.fail(path, r, path+": a whole number is required")
			return false
		}
		*spec.ptr(d.cfg).(*int) = int(n)
	case kindStrings, kindLimits:
		return d.setList(path, spec, expr, v)
	}
	return true
}

// setList stores a list of strings or of limits, pointing problems at the
// offending element when the list is written as a literal.
func (d *decoder) setList(path string, spec attrSpec, expr hcl.Expression, v cty.Value) bool {
	cv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		d.fail(path, expr.Range(), fmt.Sprintf("%s: unsuitable value: %s", path, conversionProblem(err, spec.secret)))
		return false
	}
	var strs []string
	var limits []Limit
	ok := true
	for i, ev := range cv.AsValueSlice() {
		key := fmt.Sprintf("%s[%d]", path, i)
		r := elemRange(expr, i)
		if ev.IsNull() {
			d.fail(path, r, key+": must not be null")
			ok = false
			continue
		}
		s := ev.AsString()
		d.cfg.origins[key] = origin{rng: r}
		if spec.kind == kindStrings {
			strs = append(strs, s)
			continue
		}
		l, err := ParseLimit(s)
		if err != nil {
			d.fail(path, r, fmt.Sprintf("%s: %v", key, err))
			ok = false
			continue
		}
		limits = append(limits, l)
	}
	if !ok {
		return false
	}
	if spec.kind == kindStrings {
		*spec.ptr(d.cfg).(*[]string) = append([]string{}, strs...)
	} else {
		*spec.ptr(d.cfg).(*[]Limit) = append([]Limit{}, limits...)
	}
	return true
}

// elemRange is the range of element i of a list literal, or of the whole
// expression when it is not a literal.
func elemRange(expr hcl.Expression, i int) hcl.Range {
	if t, ok := expr.(*hclsyntax.TupleConsExpr); ok && i < len(t.Exprs) {
		return t.Exprs[i].Range()
	}
	return expr.Range()
}

// conversionProblem describes a type conversion error; for a secret only
// its kind, since cty may quote the value.
func conversionProblem(err error, secret bool) string {
	if secret {
		return "not a string"
	}
	return err.Error()
}

// evalContext returns the evaluation context of one expression: the
// variable `env` holds exactly the environment variables it references.
// A reference to an unset variable is reported at its position (ok false).
func (d *decoder) evalContext(expr hcl.Expression) (*hcl.EvalContext, bool) {
	vars := map[string]cty.Value{}
	ok := true
	for _, tr := range expr.Variables() {
		if tr.RootName() != "env" || len(tr) < 2 {
			continue // other roots are reported by the evaluation
		}
		name, isName := envName(tr[1])
		if !isName {
			continue
		}
		if v, found := d.lookupEnv(name); found {
			vars[name] = cty.StringVal(v)
			continue
		}
		d.diags = append(d.diags, at(tr.SourceRange(), fmt.Sprintf("environment variable %s is not set", name)))
		ok = false
	}
	return &hcl.EvalContext{Variables: map[string]cty.Value{"env": cty.ObjectVal(vars)}}, ok
}

// envName is the variable name of the step after `env`: env.NAME or
// env["NAME"].
func envName(step hcl.Traverser) (string, bool) {
	switch s := step.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}
