package broker

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft4)
	comp.UseLoader(noLoader{})
	if err := comp.AddResource("schema.json", parsed); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	s, err := comp.Compile("schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
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
		return fmt.Errorf("plan schema: %w", err)
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

// describeValidation lists the leaf errors as "field: problem", at most five.
func describeValidation(ve *jsonschema.ValidationError) string {
	out := ve.BasicOutput()
	seen := map[string]bool{}
	var msgs []string
	for _, u := range out.Errors {
		if u.Error == nil {
			continue
		}
		text := u.Error.String()
		if strings.HasPrefix(text, "validation failed") || strings.Contains(text, "doesn't validate with") {
			continue
		}
		loc := strings.TrimPrefix(u.InstanceLocation, "/")
		loc = strings.ReplaceAll(loc, "/", ".")
		if loc == "" {
			loc = "(parameters)"
		}
		m := loc + ": " + text
		if !seen[m] {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return strings.TrimSpace(ve.Error())
	}
	sort.Strings(msgs)
	if len(msgs) > 5 {
		msgs = append(msgs[:5], fmt.Sprintf("and %d more", len(msgs)-5))
	}
	return strings.Join(msgs, "; ")
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
