package config

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// DefaultFile is the configuration file used when neither -config nor
// $ENRICHER_CONFIG names one and it exists (in the working directory;
// diagnostics name it "enricher.hcl").
const DefaultFile = "enricher.hcl"

// ResolvePath chooses the configuration file: the -config flag value, else
// $ENRICHER_CONFIG, else DefaultFile when exists says it is present, else ""
// (the built-in defaults). lookupEnv and exists may be nil.
func ResolvePath(flagValue string, lookupEnv func(string) (string, bool), exists func(string) bool) string {
	if flagValue != "" {
		return flagValue
	}
	if lookupEnv != nil {
		if v, ok := lookupEnv("ENRICHER_CONFIG"); ok && v != "" {
			return v
		}
	}
	if exists != nil && exists(DefaultFile) {
		return DefaultFile
	}
	return ""
}

// Load reads the HCL file at path ("" = none, the built-in defaults),
// applies the defaults for everything it leaves out, then the ENRICHER_*
// environment overrides read through lookupEnv (os.LookupEnv in production;
// nil = an empty environment), then validates.
//
// Expressions in the file may read the environment as env.NAME, also through
// lookupEnv; a reference to an unset variable is an error. An override set to
// the empty string is ignored, like an unset one.
//
// On any problem Load returns a nil Config and a Diagnostics error (matching
// ErrInvalid) holding every problem found: syntax errors, unknown blocks or
// attributes, unsuitable values, bad durations or limits, failed validations.
// Diagnostics name the file as path gives it and never hold a secret value.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	cfg := Default()
	cfg.File = path
	cfg.origins = map[string]origin{}
	d := &decoder{file: path, lookupEnv: lookupEnv, cfg: cfg, bad: map[string]bool{}}

	if path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, Diagnostics{{File: path, Message: "cannot read the configuration file: " + readProblem(err)}}
		}
		d.decodeFile(src)
	}
	d.applyOverrides()

	for _, p := range cfg.problems() {
		if !d.isBad(p) {
			d.diags = append(d.diags, cfg.diagnostic(p))
		}
	}
	d.scrub()
	if err := d.diags.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeFile parses src and decodes it. Decoding goes on after syntax
// errors (HCL recovers from them) so that one run reports every problem.
func (d *decoder) decodeFile(src []byte) {
	d.lines = strings.Split(string(src), "\n")
	f, hd := hclparse.NewParser().ParseHCL(src, d.file)
	d.addHCL(hd, false)
	if f == nil || f.Body == nil {
		return
	}
	d.body("", f.Body, nil, schema())
}

// readProblem describes a read error without repeating the path.
func readProblem(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// isBad reports whether a validation problem concerns a value that could
// not be decoded (already reported; the default it kept is irrelevant).
func (d *decoder) isBad(p problem) bool {
	for _, k := range p.keys {
		if d.bad[baseKey(k)] {
			return true
		}
	}
	return false
}

// scrub replaces every known secret value in the messages, a last guard
// behind the care taken where messages are made.
func (d *decoder) scrub() {
	var secrets []string
	for _, s := range []string{d.cfg.Defender.ClientSecret, d.cfg.NATS.Password, d.cfg.NATS.Token} {
		if len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	for i := range d.diags {
		for _, s := range secrets {
			d.diags[i].Message = strings.ReplaceAll(d.diags[i].Message, s, Redaction)
		}
	}
}

// baseKey strips an element index: "input.subjects[2]" -> "input.subjects".
func baseKey(k string) string {
	if i := strings.IndexByte(k, '['); i >= 0 {
		return k[:i]
	}
	return k
}
