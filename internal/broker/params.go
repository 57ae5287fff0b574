package broker

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// MaxParameterDepth is the deepest nesting of parameter objects and arrays accepted.
const MaxParameterDepth = 32

// decodeParameters parses a parameters object. nil or JSON null gives nil.
func decodeParameters(what string, raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	if d := jsonDepth(raw); d > MaxParameterDepth {
		return nil, Errorf(EInvalid, "%s are nested %d levels deep; at most %d are accepted", what, d, MaxParameterDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, Errorf(EInvalid, "%s must be a JSON object", what)
	}
	return m, nil
}

// jsonDepth returns the nesting depth of a JSON text without decoding it.
func jsonDepth(raw []byte) int {
	depth, max, inString, escaped := 0, 0, false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// schemaCache compiles each distinct schema document once.
type schemaCache struct {
	mu sync.Mutex
	m  map[[32]byte]*jsonschema.Schema
}

func (c *schemaCache) get(doc json.RawMessage) (*jsonschema.Schema, error) {
	key := sha256.Sum256(doc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[key]; ok {
		return s, nil
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("broker: parse plan schema: %w", err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft4)
	comp.UseLoader(noLoader{})
	if err := comp.AddResource("schema.json", parsed); err != nil {
		return nil, fmt.Errorf("broker: add plan schema: %w", err)
	}
	s, err := comp.Compile("schema.json")
	if err != nil {
		return nil, fmt.Errorf("broker: compile plan schema: %w", err)
	}
	if c.m == nil {
		c.m = make(map[[32]byte]*jsonschema.Schema)
	}
	c.m[key] = s
	return s, nil
}

// noLoader refuses every external reference: catalog schemas have none, and the
// broker must never fetch a URL while validating a request.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed: %s", url)
}

// validateParameters checks raw parameters against a plan schema (nil schema: anything
// goes). The error names the offending parameters.
func (c *schemaCache) validateParameters(what string, schema, raw json.RawMessage) error {
	if len(schema) == 0 {
		return nil
	}
	s, err := c.get(schema)
	if err != nil {
		return err
	}
	body := raw
	if len(bytes.TrimSpace(body)) == 0 || string(bytes.TrimSpace(body)) == "null" {
		body = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return Errorf(EInvalid, "%s must be a JSON object", what)
	}
	verr := s.Validate(inst)
	if verr == nil {
		return nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return Errorf(EInvalid, "%s are not valid", what)
	}
	return Errorf(EInvalid, "%s are not valid: %s", what, describeValidation(ve))
}

// describeValidation lists the leaf errors as "field: rule", at most five. It names
// the field and the schema's rule, never the value: a parameter may be a secret under
// any name, and the message reaches the platform and the log.
func describeValidation(ve *jsonschema.ValidationError) string {
	seen := map[string]bool{}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc := strings.Join(e.InstanceLocation, ".")
		if loc == "" {
			loc = "(parameters)"
		}
		m := loc + ": " + ruleText(e.ErrorKind)
		if !seen[m] {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	walk(ve)
	if len(msgs) == 0 {
		return "the parameters do not match the plan's schema"
	}
	sort.Strings(msgs)
	if len(msgs) > 5 {
		msgs = append(msgs[:5], fmt.Sprintf("and %d more", len(msgs)-5))
	}
	return strings.Join(msgs, "; ")
}

// ruleText describes the rule a value broke from the schema's side only (what the
// rule wants); the library's own messages quote the value ("'x' does not match …",
// "got 12, want 9"), so they are never used.
func ruleText(k jsonschema.ErrorKind) string {
	rat := func(r *big.Rat) string { return r.RatString() }
	switch k := k.(type) {
	case *kind.Type:
		return "must be of type " + strings.Join(k.Want, " or ")
	case *kind.Required:
		return "missing required parameter " + strings.Join(k.Missing, ", ")
	case *kind.AdditionalProperties:
		return "unknown parameter " + strings.Join(k.Properties, ", ")
	case *kind.Enum:
		want, _ := json.Marshal(k.Want)
		return "must be one of " + string(want)
	case *kind.Const:
		return "must be the value the plan fixes"
	case *kind.Format:
		return "must be a valid " + k.Want
	case *kind.Pattern:
		return "must match the pattern " + strconv.Quote(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must have at least %d characters", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must have at most %d characters", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.UniqueItems:
		return "items must be unique"
	case *kind.Minimum:
		return "must be at least " + rat(k.Want)
	case *kind.Maximum:
		return "must be at most " + rat(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + rat(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + rat(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + rat(k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties", k.Want)
	}
	if p := k.KeywordPath(); len(p) > 0 {
		return "fails the schema's " + strconv.Quote(p[len(p)-1]) + " rule"
	}
	return "fails the schema"
}

// mergeInputs lays the plan's fixed inputs over the user's parameters.
func mergeInputs(params, fixed map[string]any) map[string]any {
	if len(params) == 0 && len(fixed) == 0 {
		return nil
	}
	out := make(map[string]any, len(params)+len(fixed))
	for k, v := range params {
		out[k] = v
	}
	for k, v := range fixed {
		out[k] = v
	}
	return out
}

// secretName reports whether a parameter name suggests a secret; such parameters are
// left out when an instance is fetched.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "passwd", "secret", "token", "private_key", "access_key", "api_key", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
