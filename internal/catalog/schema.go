package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Draft is the JSON Schema draft of the generated plan schemas. The zero value is Draft04,
// the draft every OSB platform must support.
type Draft int

// JSON Schema drafts InputSchemas can generate.
const (
	// Draft04 is JSON Schema draft-04, the OSB default (Kubernetes Service Catalog, CF).
	Draft04 Draft = iota
	// Draft07 is JSON Schema draft-07.
	Draft07
)

// String returns "draft-04" or "draft-07".
func (d Draft) String() string {
	switch d {
	case Draft04:
		return "draft-04"
	case Draft07:
		return "draft-07"
	}
	return "draft(" + strconv.Itoa(int(d)) + ")"
}

// ParseDraft parses "draft-04", "draft-07" (also "04", "4", "07", "7", "draft4", "draft7");
// "" gives Draft04.
func ParseDraft(s string) (Draft, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "draft-04", "draft04", "draft4", "04", "4":
		return Draft04, nil
	case "draft-07", "draft07", "draft7", "07", "7":
		return Draft07, nil
	}
	return 0, fmt.Errorf("catalog: unknown JSON Schema draft %q (want draft-04 or draft-07)", s)
}

func (d Draft) metaSchema() string {
	if d == Draft07 {
		return "http://json-schema.org/draft-07/schema#"
	}
	return "http://json-schema.org/draft-04/schema#"
}

// MaxSchemaSize is the largest schema OSB allows, in bytes (64 kB).
const MaxSchemaSize = 64 * 1024

// ErrSchemaTooLarge is returned (wrapped) by InputSchemas when a generated schema is larger
// than MaxSchemaSize.
var ErrSchemaTooLarge = errors.New("schema larger than 64 kB")

// SchemaOptions controls InputSchemas.
type SchemaOptions struct {
	// Draft is the JSON Schema draft to generate (default Draft04).
	Draft Draft
	// ManagerVersion is the Cloudify manager's version, such as "5.0.5" or "7.0.4". It picks
	// the rule for required inputs: before 5.1.1 an input is required when it has no
	// non-null default; from 5.1.1 on, also `required: false` makes it optional. Between
	// 5.1.1 and 5.2 an input of a data type whose properties all have defaults is optional
	// too. "" means a current manager (the 5.1.1+ rule).
	ManagerVersion string
}

// XCloudify is the vendor keyword the generated schemas use to carry what JSON Schema cannot:
// the original Cloudify type or item type when it is not plain ("textarea", "regex",
// "blueprint_id", ...), the UI "display" hints, the constraints' "error_messages" (by
// operator) and the "constraints" left out of the schema. Validators ignore it.
const XCloudify = "x-cloudify"

// InputSchemas generates the OSB create and update parameter schemas of a blueprint plan,
// following blueprint-inputs-jsonschema.md §5–§6: a closed object (additionalProperties
// false) with one property per input that is neither hidden nor fixed; data types as local
// "#/definitions/..." refs. The update schema has the same properties and no "required".
//
// fixed holds the inputs set by the broker's plan; they are left out. A fixed name that is
// not an input of the plan is an error. plan may be nil (no inputs).
//
// warnings lists what could not be expressed (left out, so the manager checks it alone), in
// a stable order. err is non-nil for an unknown fixed input, an unparsable ManagerVersion,
// or a schema larger than MaxSchemaSize (wrapping ErrSchemaTooLarge). The output is
// deterministic: object keys are sorted.
func InputSchemas(plan *cloudify.BlueprintPlan, fixed map[string]any, opts SchemaOptions) (create, update json.RawMessage, warnings []string, err error) {
	var inputs map[string]cloudify.Input
	var dataTypes map[string]cloudify.DataType
	if plan != nil {
		inputs, dataTypes = plan.Inputs, plan.DataTypes
	}
	var unknown []string
	for name := range fixed {
		if _, ok := inputs[name]; !ok {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, nil, nil, fmt.Errorf("catalog: unknown input %s", strings.Join(unknown, ", "))
	}
	skip := func(name string) bool { _, ok := fixed[name]; return ok }
	create, update, warnings, err = objectSchemas("input", inputs, dataTypes, skip, opts)
	if errors.Is(err, ErrSchemaTooLarge) {
		err = fmt.Errorf("catalog: create schema is %w", err)
	}
	return create, update, warnings, err
}

// ParameterSchema generates the OSB schema of a workflow's parameters, as InputSchemas
// does the create schema of a plan's inputs: a closed object with one property per
// parameter that is neither hidden nor in omit (the parameters the broker sets itself),
// required when it has no default (per the manager release's rule). dataTypes are the
// blueprint's custom data types.
//
// Errors: an unparsable ManagerVersion, or a schema larger than MaxSchemaSize (wrapping
// ErrSchemaTooLarge).
func ParameterSchema(wf cloudify.WorkflowDef, dataTypes map[string]cloudify.DataType, omit []string, opts SchemaOptions) (schema json.RawMessage, warnings []string, err error) {
	skip := func(name string) bool { return slices.Contains(omit, name) }
	schema, _, warnings, err = objectSchemas("parameter", wf.Parameters, dataTypes, skip, opts)
	if errors.Is(err, ErrSchemaTooLarge) {
		err = fmt.Errorf("catalog: parameters schema is %w", err)
	}
	return schema, warnings, err
}

// objectSchemas builds the create and update schemas of a set of input-shaped
// definitions (inputs or workflow parameters, named by kind in warnings), leaving out
// the hidden ones and those skip names. A schema too large is an error "<n> bytes:
// ErrSchemaTooLarge" for the caller to prefix.
func objectSchemas(kind string, defs map[string]cloudify.Input, dataTypes map[string]cloudify.DataType, skip func(string) bool, opts SchemaOptions) (create, update json.RawMessage, warnings []string, err error) {
	if opts.Draft != Draft04 && opts.Draft != Draft07 {
		return nil, nil, nil, fmt.Errorf("catalog: unknown JSON Schema draft %d", int(opts.Draft))
	}
	legacy, dataTypeDefaults, err := requiredRule(opts.ManagerVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	g := &generator{draft: opts.Draft, legacy: legacy, dataTypeDefaults: dataTypeDefaults, defs: map[string]any{}, dataTypes: dataTypes}
	props := map[string]any{}
	var required []string
	for _, name := range sortedKeys(defs) {
		in := defs[name]
		if skip(name) || in.Hidden {
			continue
		}
		props[name] = g.property(kind+" "+strconv.Quote(name), in)
		if g.inputRequired(in) {
			required = append(required, name)
		}
	}

	top := map[string]any{
		"$schema":              opts.Draft.metaSchema(),
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(g.defs) > 0 {
		top["definitions"] = g.defs
	}
	update, err = encodeSchema(top)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(required) > 0 {
		top["required"] = required
	}
	create, err = encodeSchema(top)
	if err != nil {
		return nil, nil, nil, err
	}
	// The create schema is never smaller than the update schema.
	if len(create) > MaxSchemaSize {
		return nil, nil, g.warnings, fmt.Errorf("%d bytes: %w", len(create), ErrSchemaTooLarge)
	}
	return create, update, g.warnings, nil
}

// encodeSchema marshals v compactly with sorted keys and without HTML escaping (patterns
// often hold < and >).
func encodeSchema(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("catalog: encode schema: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// requiredRule picks the required-input rule of §5 for a manager version.
func requiredRule(version string) (legacy, dataTypeDefaults bool, err error) {
	if strings.TrimSpace(version) == "" {
		return false, false, nil
	}
	v, ok := cloudify.ParseManagerVersion(version)
	if !ok {
		return false, false, fmt.Errorf("catalog: cannot parse manager version %q", version)
	}
	if !v.AtLeast(5, 1, 1) {
		return true, false, nil
	}
	return false, !v.AtLeast(6, 0, 0), nil
}

// Cloudify's built-in input types (blueprint-inputs-jsonschema.md §3).
var plainTypes = map[string]string{
	"string":  "string",
	"integer": "integer",
	"float":   "number",
	"boolean": "boolean",
	"list":    "array",
	"dict":    "object",
}

// objectTypes are the object-based types (6.4+): the value names something on the manager.
// The text completes "Must be ..." in the description.
var objectTypes = map[string]string{
	"blueprint_id":     "the id of a blueprint on the manager",
	"deployment_id":    "the id of a deployment on the manager",
	"secret_key":       "the key of a secret on the manager",
	"capability_value": "the value of a capability of a deployment",
	"scaling_group":    "the name of a scaling group",
	"node_id":          "the id of a node",
	"node_type":        "the name of a node type",
	"node_instance":    "the id of a node instance",
	"operation_name":   "the name of an operation",
}

// generator holds the state of one InputSchemas call.
type generator struct {
	draft            Draft
	legacy           bool // the pre-5.1.1 required rule
	dataTypeDefaults bool // 5.1.1–5.2: a data-type input whose properties all have defaults is optional
	dataTypes        map[string]cloudify.DataType
	defs             map[string]any
	warnings         []string
}

func (g *generator) warnf(format string, args ...any) {
	g.warnings = append(g.warnings, fmt.Sprintf(format, args...))
}

// inputRequired applies the release rule of §5 to a top-level input.
func (g *generator) inputRequired(in cloudify.Input) bool {
	if in.HasDefault() {
		return false
	}
	if g.legacy {
		return true
	}
	if in.Required != nil && !*in.Required {
		return false
	}
	if g.dataTypeDefaults {
		if dt, ok := g.dataType(in.Type); ok && len(dt.Properties) > 0 {
			for _, p := range dt.Properties {
				if !p.HasDefault() {
					return true
				}
			}
			return false
		}
	}
	return true
}

// dataType returns the custom data type named t, if t is not a built-in type.
func (g *generator) dataType(t string) (cloudify.DataType, bool) {
	if _, ok := plainTypes[t]; ok || t == "" {
		return cloudify.DataType{}, false
	}
	if _, ok := objectTypes[t]; ok {
		return cloudify.DataType{}, false
	}
	dt, ok := g.dataTypes[t]
	return dt, ok
}

// property builds the schema of one input or data-type property. where names it in warnings.
func (g *generator) property(where string, in cloudify.Input) map[string]any {
	x := map[string]any{}
	var notes []string

	s := g.typeSchema(where, in.Type, x, "type", &notes)
	target, targetType := s, in.Type
	if in.ItemType != "" {
		if in.Type == "list" {
			var itemNotes []string
			items := g.typeSchema(where, in.ItemType, x, "item_type", &itemNotes)
			g.constraints(where, items, in.ItemType, in.Constraints, x, &itemNotes)
			if len(itemNotes) > 0 {
				items["description"] = strings.Join(itemNotes, "\n")
			}
			s["items"] = wrapRef(items)
			target = nil
		} else {
			g.warnf("%s: item_type %q ignored: type is %q, not list", where, in.ItemType, in.Type)
		}
	}
	if target != nil {
		g.constraints(where, target, targetType, in.Constraints, x, &notes)
	}

	if in.DisplayLabel != "" {
		s["title"] = in.DisplayLabel
	}
	desc := in.Description
	if len(notes) > 0 {
		desc = strings.Join(append(nonEmpty(desc), notes...), "\n")
	}
	if desc != "" {
		s["description"] = desc
	}
	if len(in.Display) > 0 {
		x["display"] = in.Display
	}
	if in.Default != nil {
		v, err := decodeJSON(in.Default)
		switch {
		case err != nil:
			g.warnf("%s: default is not valid JSON; left out", where)
		case v == nil:
			// An explicit null: no default to show.
		case holdsFunction(v):
			// Resolved by the manager at deployment time; the input stays optional.
		default:
			s["default"] = v
		}
	}
	if len(x) > 0 {
		s[XCloudify] = x
	}
	return wrapRef(s)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// wrapRef moves a "$ref" under "allOf" when the schema has other keywords, because draft-04
// and draft-07 ignore the siblings of "$ref".
func wrapRef(s map[string]any) map[string]any {
	ref, ok := s["$ref"]
	if !ok || len(s) == 1 {
		return s
	}
	delete(s, "$ref")
	s["allOf"] = append([]any{map[string]any{"$ref": ref}}, allOfOf(s)...)
	return s
}

func allOfOf(s map[string]any) []any {
	if a, ok := s["allOf"].([]any); ok {
		return a
	}
	return nil
}

// typeSchema maps a Cloudify type to its JSON Schema (§6.3). key is "type" or "item_type" in
// the x-cloudify keyword.
func (g *generator) typeSchema(where, t string, x map[string]any, key string, notes *[]string) map[string]any {
	if t == "" {
		return map[string]any{}
	}
	if jt, ok := plainTypes[t]; ok {
		return map[string]any{"type": jt}
	}
	switch t {
	case "textarea":
		x[key] = t
		return map[string]any{"type": "string"}
	case "regex":
		x[key] = t
		s := map[string]any{"type": "string"}
		if g.draft == Draft07 {
			s["format"] = "regex"
		}
		return s
	}
	if what, ok := objectTypes[t]; ok {
		x[key] = t
		*notes = append(*notes, "Must be "+what+".")
		if t == "capability_value" {
			return map[string]any{}
		}
		return map[string]any{"type": "string"}
	}
	if _, ok := g.dataTypes[t]; ok {
		g.define(t)
		return map[string]any{"$ref": "#/definitions/" + pointerSegment(t)}
	}
	x[key] = t
	g.warnf("%s: unknown type %q; any value accepted", where, t)
	return map[string]any{}
}

// define adds the definition of data type name (and, recursively, of the types it uses).
func (g *generator) define(name string) {
	if _, ok := g.defs[name]; ok {
		return
	}
	dt := g.dataTypes[name]
	def := map[string]any{"type": "object", "additionalProperties": false}
	g.defs[name] = def // before the properties, so that recursive types terminate
	props := map[string]any{}
	var required []string
	for _, p := range sortedKeys(dt.Properties) {
		in := dt.Properties[p]
		props[p] = g.property(fmt.Sprintf("data type %q property %q", name, p), in)
		if (in.Required == nil || *in.Required) && !in.HasDefault() {
			required = append(required, p)
		}
	}
	def["properties"] = props
	if len(required) > 0 {
		def["required"] = required
	}
	if dt.Description != "" {
		def["description"] = dt.Description
	}
}

// pointerSegment escapes a definitions key for a "#/definitions/<key>" JSON pointer inside a
// URI fragment: "~" and "/" per RFC 6901, then percent-encoding of what a fragment may not
// hold verbatim.
func pointerSegment(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// bound is a numeric limit from a comparison constraint.
type bound struct {
	val       any // the constraint's argument, written back as is
	f         float64
	exclusive bool
}

// keywordSet collects the constraint keywords of one schema before they are written.
type keywordSet struct {
	lower, upper *bound
	minLen       int // -1: none
	maxLen       int // -1: none
	enums        [][]any
	consts       []any
	patterns     []string
}

// constraints translates the constraints (§6.4) onto schema s, whose Cloudify type is t.
func (g *generator) constraints(where string, s map[string]any, t string, cons []cloudify.Constraint, x map[string]any, notes *[]string) {
	if len(cons) == 0 {
		return
	}
	ks := keywordSet{minLen: -1, maxLen: -1}
	var leftOut []any
	messages := map[string]string{}
	for _, c := range cons {
		op, arg, msg, ok := splitConstraint(c)
		if !ok {
			g.warnf("%s: constraint %s does not have exactly one operator; left out", where, compactJSON(c))
			leftOut = append(leftOut, map[string]any(c))
			continue
		}
		if msg != "" {
			if prev, ok := messages[op]; ok {
				msg = prev + "; " + msg
			}
			messages[op] = msg
			*notes = append(*notes, msg)
		}
		if holdsFunction(arg) {
			g.warnf("%s: constraint %s has an intrinsic function argument; left out", where, op)
			leftOut = append(leftOut, map[string]any(c))
			continue
		}
		if !g.constraint(where, &ks, t, op, arg, notes) {
			leftOut = append(leftOut, map[string]any(c))
		}
	}
	g.writeKeywords(s, t, ks)
	if len(messages) > 0 {
		x["error_messages"] = messages
	}
	if len(leftOut) > 0 {
		x["constraints"] = leftOut
	}
}

// splitConstraint returns the operator, its argument and the error message of c.
func splitConstraint(c cloudify.Constraint) (op string, arg any, msg string, ok bool) {
	n := 0
	for k, v := range c {
		if k == "error_message" {
			msg, _ = v.(string)
			continue
		}
		op, arg = k, v
		n++
	}
	return op, arg, msg, n == 1
}

// constraint adds one constraint to ks; it reports false when the constraint is left out.
func (g *generator) constraint(where string, ks *keywordSet, t, op string, arg any, notes *[]string) bool {
	switch op {
	case "equal":
		if g.draft == Draft07 {
			ks.consts = append(ks.consts, arg)
		} else {
			ks.enums = append(ks.enums, []any{arg})
		}
		return true
	case "valid_values":
		list, ok := arg.([]any)
		if !ok {
			g.warnf("%s: valid_values argument is not a list; left out", where)
			return false
		}
		if len(list) == 0 {
			g.warnf("%s: valid_values is empty, so no value passes; left out", where)
			*notes = append(*notes, "No value is valid (valid_values is empty).")
			return false
		}
		ks.enums = append(ks.enums, dedupe(list))
		return true
	case "greater_than", "greater_or_equal", "less_than", "less_or_equal":
		f, ok := number(arg)
		if !ok {
			if str, isStr := arg.(string); isStr {
				*notes = append(*notes, fmt.Sprintf("Must be %s %q (compared as text).", comparisonWords[op], str))
			}
			g.warnf("%s: %s argument %s is not a number; left out", where, op, compactJSON(arg))
			return false
		}
		b := &bound{val: arg, f: f, exclusive: op == "greater_than" || op == "less_than"}
		if strings.HasPrefix(op, "greater") {
			ks.lower = tighter(ks.lower, b, true)
		} else {
			ks.upper = tighter(ks.upper, b, false)
		}
		return true
	case "in_range":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			g.warnf("%s: in_range argument is not a [min, max] pair; left out", where)
			return false
		}
		lo, ok1 := number(list[0])
		hi, ok2 := number(list[1])
		if !ok1 || !ok2 {
			g.warnf("%s: in_range bounds %s are not numbers; left out", where, compactJSON(arg))
			return false
		}
		if lo > hi {
			g.warnf("%s: in_range %s is empty, so no value passes", where, compactJSON(arg))
		}
		ks.lower = tighter(ks.lower, &bound{val: list[0], f: lo}, true)
		ks.upper = tighter(ks.upper, &bound{val: list[1], f: hi}, false)
		return true
	case "length", "min_length", "max_length":
		n, ok := count(arg)
		if !ok {
			g.warnf("%s: %s argument %s is not a non-negative integer; left out", where, op, compactJSON(arg))
			return false
		}
		switch t {
		case "integer", "float", "boolean":
			g.warnf("%s: %s on an input of type %s: the manager rejects every value; left out", where, op, t)
			return false
		}
		if op != "max_length" && n > ks.minLen {
			ks.minLen = n
		}
		if op != "min_length" && (ks.maxLen < 0 || n < ks.maxLen) {
			ks.maxLen = n
		}
		return true
	case "pattern":
		r, ok := arg.(string)
		if !ok {
			g.warnf("%s: pattern argument is not a string; left out", where)
			return false
		}
		p, err := ecmaPattern(r)
		if err != nil {
			g.warnf("%s: pattern %q left out (the manager still checks it): %v", where, r, err)
			*notes = append(*notes, fmt.Sprintf("Must match the Python regular expression %q at the start.", r))
			return false
		}
		ks.patterns = append(ks.patterns, p)
		return true
	case "name_pattern":
		return g.namePattern(where, ks, t, arg, notes)
	case "filter_id":
		*notes = append(*notes, fmt.Sprintf("Must match the saved filter %s.", compactJSON(arg)))
		return false
	case "labels":
		*notes = append(*notes, "Must carry the labels "+labelsText(arg)+".")
		return false
	case "tenants":
		*notes = append(*notes, "Must belong to one of the tenants "+listText(arg)+".")
		return false
	case "deployment_id":
		*notes = append(*notes, fmt.Sprintf("Looked up in deployment %s.", compactJSON(arg)))
		return false
	}
	g.warnf("%s: unknown constraint %q; left out", where, op)
	return false
}

var namePatternVerbs = map[string]string{
	"starts_with": "start with", "ends_with": "end with", "contains": "contain", "equals_to": "equal",
}

var comparisonWords = map[string]string{
	"greater_than": "greater than", "greater_or_equal": "greater than or equal to",
	"less_than": "less than", "less_or_equal": "less than or equal to",
}

// namePattern approximates name_pattern for blueprint_id and secret_key, whose value is the
// compared name; for other types it only describes it.
func (g *generator) namePattern(where string, ks *keywordSet, t string, arg any, notes *[]string) bool {
	m, ok := arg.(map[string]any)
	if !ok {
		g.warnf("%s: name_pattern argument is not an object; left out", where)
		return false
	}
	subject := "Its name"
	if t == "deployment_id" {
		subject = "The deployment's display name"
	}
	if t != "blueprint_id" && t != "secret_key" {
		var parts []string
		for _, k := range sortedKeys(m) {
			verb, ok := namePatternVerbs[k]
			if !ok {
				verb = strings.ReplaceAll(k, "_", " ")
			}
			parts = append(parts, fmt.Sprintf("%s %s", verb, compactJSON(m[k])))
		}
		*notes = append(*notes, subject+" must "+strings.Join(parts, ", ")+".")
		return false
	}
	var tmp keywordSet
	for _, k := range sortedKeys(m) {
		s, ok := m[k].(string)
		if !ok {
			g.warnf("%s: name_pattern %s is not a string; left out", where, k)
			return false
		}
		q := regexp.QuoteMeta(s)
		switch k {
		case "starts_with":
			tmp.patterns = append(tmp.patterns, "^"+q)
		case "ends_with":
			tmp.patterns = append(tmp.patterns, q+"$")
		case "contains":
			tmp.patterns = append(tmp.patterns, q)
		case "equals_to":
			tmp.enums = append(tmp.enums, []any{s})
		default:
			g.warnf("%s: unknown name_pattern key %q; left out", where, k)
			return false
		}
	}
	ks.patterns = append(ks.patterns, tmp.patterns...)
	ks.enums = append(ks.enums, tmp.enums...)
	return true
}

// tighter returns the stricter of two lower (or upper) bounds.
func tighter(cur, b *bound, lower bool) *bound {
	if cur == nil {
		return b
	}
	if b.f == cur.f {
		if b.exclusive && !cur.exclusive {
			return b
		}
		return cur
	}
	if (b.f > cur.f) == lower {
		return b
	}
	return cur
}

// writeKeywords writes the collected keywords onto s, with the length keywords that match
// type t. Keywords that would collide go into "allOf".
func (g *generator) writeKeywords(s map[string]any, t string, ks keywordSet) {
	var all []any
	addTo := func(key string, v any) {
		if _, ok := s[key]; ok {
			all = append(all, map[string]any{key: v})
			return
		}
		s[key] = v
	}
	if b := ks.lower; b != nil {
		if b.exclusive && g.draft == Draft07 {
			s["exclusiveMinimum"] = b.val
		} else {
			s["minimum"] = b.val
			if b.exclusive {
				s["exclusiveMinimum"] = true
			}
		}
	}
	if b := ks.upper; b != nil {
		if b.exclusive && g.draft == Draft07 {
			s["exclusiveMaximum"] = b.val
		} else {
			s["maximum"] = b.val
			if b.exclusive {
				s["exclusiveMaximum"] = true
			}
		}
	}
	var pairs [][2]string
	switch {
	case t == "string" || t == "textarea" || t == "regex" || (objectTypes[t] != "" && t != "capability_value"):
		pairs = [][2]string{{"minLength", "maxLength"}}
	case t == "list":
		pairs = [][2]string{{"minItems", "maxItems"}}
	case t == "dict":
		pairs = [][2]string{{"minProperties", "maxProperties"}}
	case t == "" || t == "capability_value":
		pairs = [][2]string{{"minLength", "maxLength"}, {"minItems", "maxItems"}, {"minProperties", "maxProperties"}}
	default:
		if _, ok := g.dataTypes[t]; ok {
			pairs = [][2]string{{"minProperties", "maxProperties"}}
		} else {
			pairs = [][2]string{{"minLength", "maxLength"}, {"minItems", "maxItems"}, {"minProperties", "maxProperties"}}
		}
	}
	for _, p := range pairs {
		if ks.minLen >= 0 {
			s[p[0]] = ks.minLen
		}
		if ks.maxLen >= 0 {
			s[p[1]] = ks.maxLen
		}
	}
	for _, v := range ks.consts {
		addTo("const", v)
	}
	for _, e := range ks.enums {
		addTo("enum", e)
	}
	for _, p := range ks.patterns {
		addTo("pattern", p)
	}
	if len(all) > 0 {
		s["allOf"] = append(allOfOf(s), all...)
	}
}

// number returns a numeric constraint argument as a float64; booleans are not numbers.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// count returns a length argument as a non-negative int.
func count(v any) (int, bool) {
	f, ok := number(v)
	if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// dedupe removes repeated values (draft-04 wants unique enum items), keeping the first.
func dedupe(list []any) []any {
	seen := map[string]bool{}
	out := make([]any, 0, len(list))
	for _, v := range list {
		k := compactJSON(v)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}

// compactJSON renders v as JSON for messages (sorted keys).
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func labelsText(v any) string {
	list, ok := v.([]any)
	if !ok {
		return compactJSON(v)
	}
	var parts []string
	for _, l := range list {
		m, ok := l.(map[string]any)
		if !ok {
			parts = append(parts, compactJSON(l))
			continue
		}
		for _, k := range sortedKeys(m) {
			val, isStr := m[k].(string)
			if !isStr {
				val = compactJSON(m[k])
			}
			parts = append(parts, k+"="+val)
		}
	}
	return strings.Join(parts, ", ")
}

func listText(v any) string {
	list, ok := v.([]any)
	if !ok {
		return compactJSON(v)
	}
	var parts []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			parts = append(parts, s)
		} else {
			parts = append(parts, compactJSON(e))
		}
	}
	return strings.Join(parts, ", ")
}

// decodeJSON decodes raw JSON keeping numbers as json.Number, so that they are written back
// digit for digit.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// intrinsicFunctions are the DSL's intrinsic functions; any key starting with "string_" is
// one too (string_find, string_replace, ...).
var intrinsicFunctions = map[string]bool{
	"get_secret": true, "get_input": true, "get_capability": true, "get_attribute": true,
	"get_attributes_list": true, "get_attributes_dict": true, "get_property": true,
	"get_label": true, "get_sys": true, "get_environment_capability": true,
	"get_group_capability": true, "concat": true, "merge": true,
}

// holdsFunction reports whether v contains, at any depth, a one-key object whose key is an
// intrinsic function: the manager evaluates it, so its value is unknown here.
func holdsFunction(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k := range t {
				if intrinsicFunctions[k] || strings.HasPrefix(k, "string_") {
					return true
				}
			}
		}
		for _, e := range t {
			if holdsFunction(e) {
				return true
			}
		}
	case cloudify.Constraint:
		return holdsFunction(map[string]any(t))
	case []any:
		for _, e := range t {
			if holdsFunction(e) {
				return true
			}
		}
	}
	return false
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
