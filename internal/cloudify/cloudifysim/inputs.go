package cloudifysim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// violation is an input that failed a type or constraint check, named after
// the DSL parser exception that the manager would raise.
type violation struct {
	exc    string // Python exception class, e.g. "ConstraintException"
	msg    string
	isType bool // a type mismatch rather than a constraint violation
}

// pythonLine is the violation as the last line of a traceback.
func (v *violation) pythonLine() string {
	return "dsl_parser.exceptions." + v.exc + ": " + v.msg
}

// inputChecker validates values against input (or workflow parameter)
// definitions, following dsl_parser's parse_simple_type_value and constraints.
type inputChecker struct {
	s         *Simulator
	tenant    string
	dataTypes map[string]any
}

// intrinsicNames are the keys of DSL intrinsic functions.
var intrinsicNames = map[string]bool{
	"get_secret": true, "get_input": true, "get_capability": true, "get_attribute": true,
	"get_property": true, "get_label": true, "get_sys": true, "get_environment_capability": true,
	"concat": true, "merge": true, "string_find": true, "string_replace": true,
	"string_split": true, "string_lower": true, "string_upper": true, "get_attributes_list": true,
	"get_attributes_dict": true,
}

// isFunction reports whether v is a one-key intrinsic function object.
func isFunction(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return intrinsicNames[k]
	}
	return false
}

// requiredAtREST reports whether the REST pre-check of the simulated release
// treats the input as required (blueprint-inputs-jsonschema.md §5).
func (s *Simulator) requiredAtREST(def map[string]any) bool {
	def0, hasDefault := def["default"]
	reqFalse := false
	if r, ok := def["required"].(bool); ok && !r {
		reqFalse = true
	}
	switch {
	case s.ver.atLeast(6, 0, 0):
		return !reqFalse && !hasDefault
	case s.ver.atLeast(5, 1, 1):
		return !reqFalse && (!hasDefault || def0 == nil)
	default:
		return !hasDefault || def0 == nil
	}
}

// inputNameErrors runs the synchronous missing/unknown-input check of
// deployment creation.
func (s *Simulator) inputNameErrors(bp *blueprint, provided map[string]any, verb string) *response {
	defs := bp.planInputs()
	var missing, unknown, expected []string
	for name, d := range defs {
		expected = append(expected, name)
		if _, ok := provided[name]; !ok && s.requiredAtREST(asMap(d)) {
			missing = append(missing, name)
		}
	}
	for name := range provided {
		if _, ok := defs[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	sort.Strings(expected)
	if len(missing) > 0 {
		if s.ver.atLeast(6, 0, 0) {
			return apiErr("missing_required_deployment_input_error", "missing inputs: %s", strings.Join(missing, ", "))
		}
		return apiErr("missing_required_deployment_input_error",
			"Required inputs %s were not specified - expected inputs: %s", pyRepr(missing), pyRepr(expected))
	}
	if len(unknown) > 0 {
		if s.ver.atLeast(6, 0, 0) {
			return apiErr("unknown_deployment_input_error", "Cannot %s deployment - unknown inputs: %s", verb, strings.Join(unknown, ", "))
		}
		return apiErr("unknown_deployment_input_error",
			"Unknown inputs %s specified - expected inputs: %s", pyRepr(unknown), pyRepr(expected))
	}
	return nil
}

// resolveInputs merges provided values over the defaults of bp's inputs and
// checks types and constraints, as prepare_deployment_plan does. It returns
// the full input set, or the first violation (inputs in name order).
func (s *Simulator) resolveInputs(bp *blueprint, tenant string, provided map[string]any) (map[string]any, *violation) {
	defs := bp.planInputs()
	c := &inputChecker{s: s, tenant: tenant, dataTypes: asMap(bp.plan["data_types"])}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]any{}
	var missing []string
	for _, name := range names {
		def := asMap(defs[name])
		v, ok := provided[name]
		if !ok {
			d, hasDefault := def["default"]
			switch {
			case hasDefault && d != nil:
				v = deepCopy(d)
			case isRequiredFalse(def) && s.ver.atLeast(5, 1, 1):
				out[name] = nil
				continue
			default:
				missing = append(missing, name)
				continue
			}
		}
		out[name] = v
	}
	if len(missing) > 0 {
		return nil, &violation{exc: "MissingRequiredInputError",
			msg: fmt.Sprintf("Required inputs %s were not specified - expected inputs: %s", pyRepr(missing), pyRepr(names))}
	}
	if !s.ver.atLeast(4, 6, 0) {
		return out, nil
	}
	for _, name := range names {
		v, ok := out[name]
		if !ok || v == nil {
			continue
		}
		if vi := c.check(name, asMap(defs[name]), v); vi != nil {
			return nil, vi
		}
	}
	return out, nil
}

// isRequiredFalse reports an explicit required: false.
func isRequiredFalse(def map[string]any) bool {
	r, ok := def["required"].(bool)
	return ok && !r
}

// check validates v against one definition (type, item_type, constraints).
func (c *inputChecker) check(name string, def map[string]any, v any) *violation {
	if isFunction(v) {
		return nil
	}
	typ, _ := def["type"].(string)
	itemType, _ := def["item_type"].(string)
	if vi := c.checkType(name, typ, v); vi != nil {
		return vi
	}
	constraints := asSlice(def["constraints"])
	if typ == "list" && itemType != "" && c.s.ver.atLeast(6, 4, 0) {
		for _, el := range asSlice(v) {
			if vi := c.checkType(name, itemType, el); vi != nil {
				return vi
			}
			for _, con := range constraints {
				if vi := c.checkConstraint(name, asMap(con), el); vi != nil {
					return vi
				}
			}
		}
		return nil
	}
	for _, con := range constraints {
		if vi := c.checkConstraint(name, asMap(con), v); vi != nil {
			return vi
		}
	}
	return nil
}

// typeMismatch is the parser's message for a value of the wrong type.
func typeMismatch(name, typ string, v any) *violation {
	return &violation{exc: "DSLParsingLogicException", isType: true, msg: fmt.Sprintf(
		"Property type validation failed in '%s': property '%s' type is '%s', yet it was assigned with the value '%s'",
		name, name, typ, pyStr(v))}
}

// isNumber reports whether v is a JSON number (not a bool).
func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, int, int64:
		return true
	}
	return false
}

// isIntegral reports whether v is a JSON integer literal (3, not 3.0).
func isIntegral(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return !strings.ContainsAny(x.String(), ".eE")
	case int, int64:
		return true
	}
	return false
}

// num converts a JSON number to float64.
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// checkType validates v against a type name.
func (c *inputChecker) checkType(name, typ string, v any) *violation {
	switch typ {
	case "", "string", "textarea":
		return nil
	case "integer":
		if !isIntegral(v) {
			return typeMismatch(name, typ, v)
		}
	case "float":
		if !isNumber(v) {
			return typeMismatch(name, typ, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return typeMismatch(name, typ, v)
		}
	case "list":
		if _, ok := v.([]any); !ok {
			return typeMismatch(name, typ, v)
		}
	case "dict":
		if _, ok := v.(map[string]any); !ok {
			return typeMismatch(name, typ, v)
		}
	case "regex":
		str, ok := v.(string)
		if !ok {
			return typeMismatch(name, typ, v)
		}
		if _, err := regexp.Compile(pyRegex(str)); err != nil {
			return typeMismatch(name, typ, v)
		}
	case "blueprint_id", "deployment_id", "secret_key":
		if !c.s.ver.atLeast(6, 4, 0) {
			return nil
		}
		str, ok := v.(string)
		found := false
		if ok {
			switch typ {
			case "blueprint_id":
				bp, exists := c.s.blueprints[str]
				found = exists && c.s.blueprintVisible(bp)
			case "deployment_id":
				_, found = c.s.deployments[depKey{c.tenant, str}]
			case "secret_key":
				found = c.s.lookupSecret(c.tenant, str) != nil
			}
		}
		if !found {
			return &violation{exc: "ConstraintException", msg: fmt.Sprintf(
				"Value '%s' of input '%s' does not match any relevant entity or violates at least one of the constraints: type %s",
				pyStr(v), name, typ)}
		}
	case "capability_value", "scaling_group", "node_id", "node_type", "node_instance", "operation_name":
		return nil
	default:
		dt := asMap(c.dataTypes[typ])
		if dt == nil {
			return nil
		}
		return c.checkDataType(name, typ, dt, v)
	}
	return nil
}

// checkDataType validates an object against a custom data type whose
// properties already include those of its parents.
func (c *inputChecker) checkDataType(name, typ string, dt map[string]any, v any) *violation {
	obj, ok := v.(map[string]any)
	if !ok {
		return typeMismatch(name, typ, v)
	}
	props := asMap(dt["properties"])
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := props[k]; !ok {
			return &violation{exc: "DSLParsingLogicException", isType: true,
				msg: fmt.Sprintf("Undefined property %s in type %s of input %s", k, typ, name)}
		}
	}
	pnames := make([]string, 0, len(props))
	for p := range props {
		pnames = append(pnames, p)
	}
	sort.Strings(pnames)
	for _, p := range pnames {
		pdef := asMap(props[p])
		pv, present := obj[p]
		if !present {
			if _, hasDefault := pdef["default"]; hasDefault || isRequiredFalse(pdef) {
				continue
			}
			return &violation{exc: "DSLParsingLogicException", isType: true,
				msg: fmt.Sprintf("Value of input %s is missing property %s", name, p)}
		}
		if pv == nil {
			continue
		}
		if vi := c.check(name+"."+p, pdef, pv); vi != nil {
			return vi
		}
	}
	return nil
}

// constraintOps are the predicate constraints of §4.2, in the parser's order.
var constraintOps = []string{"equal", "greater_than", "greater_or_equal", "less_than", "less_or_equal",
	"in_range", "valid_values", "length", "min_length", "max_length", "pattern"}

// checkConstraint evaluates one constraint object against v.
func (c *inputChecker) checkConstraint(name string, con map[string]any, v any) *violation {
	var op string
	var arg any
	for _, o := range constraintOps {
		if a, ok := con[o]; ok {
			op, arg = o, a
			break
		}
	}
	if op == "" || isFunction(arg) {
		return nil // data-based constraints are checked against live data; not simulated
	}
	fail := func() *violation {
		msg := fmt.Sprintf("Value %s of input %s violates constraint %s(%s) operator.",
			pyStr(v), name, op, constraintArgs(arg))
		if em, ok := con["error_message"].(string); ok && em != "" && c.s.ver.atLeast(7, 0, 0) {
			msg = em
		}
		return &violation{exc: "ConstraintException", msg: msg}
	}
	switch op {
	case "equal":
		if !jsonEqual(v, arg) {
			return fail()
		}
	case "greater_than", "greater_or_equal", "less_than", "less_or_equal":
		cmp, ok := compare(v, arg)
		if !ok {
			return fail()
		}
		pass := map[string]bool{
			"greater_than":     cmp > 0,
			"greater_or_equal": cmp >= 0,
			"less_than":        cmp < 0,
			"less_or_equal":    cmp <= 0,
		}[op]
		if !pass {
			return fail()
		}
	case "in_range":
		r := asSlice(arg)
		if len(r) != 2 {
			return nil
		}
		lo, ok1 := compare(v, r[0])
		hi, ok2 := compare(v, r[1])
		if !ok1 || !ok2 || lo < 0 || hi > 0 {
			return fail()
		}
	case "valid_values":
		for _, allowed := range asSlice(arg) {
			if jsonEqual(v, allowed) {
				return nil
			}
		}
		return fail()
	case "length", "min_length", "max_length":
		n, ok := valueLength(v)
		if !ok {
			return &violation{exc: "ConstraintException", msg: fmt.Sprintf(
				"Value %s of input %s: value's length could not be computed. Value type is '%s'.", pyStr(v), name, pyType(v))}
		}
		want, _ := num(arg)
		l := float64(n)
		if (op == "length" && l != want) || (op == "min_length" && l < want) || (op == "max_length" && l > want) {
			return fail()
		}
	case "pattern":
		str, ok := v.(string)
		if !ok {
			return &violation{exc: "ConstraintException", msg: fmt.Sprintf(
				"Value %s of input %s: value must be of type string, got %s.", pyStr(v), name, pyType(v))}
		}
		p, _ := arg.(string)
		re, err := regexp.Compile(`^(?:` + pyRegex(p) + `)`)
		if err != nil {
			return nil
		}
		if !re.MatchString(str) {
			return fail()
		}
	}
	return nil
}

// constraintArgs formats a constraint argument like the parser's __str__.
func constraintArgs(arg any) string {
	if l, ok := arg.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = pyStr(e)
		}
		return strings.Join(parts, ", ")
	}
	return pyStr(arg)
}

// pyRegex translates the Python-only regex syntax Go does not know.
func pyRegex(p string) string {
	return strings.ReplaceAll(p, `\Z`, `\z`)
}

// pyType is the Python type name of a JSON value.
func pyType(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	default:
		if isIntegral(x) {
			return "int"
		}
		if isNumber(x) {
			return "float"
		}
	}
	return "object"
}

// valueLength is Python's len() for strings, lists and dicts.
func valueLength(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), true
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	}
	return 0, false
}

// compare orders two numbers or two strings, as Python would.
func compare(a, b any) (int, bool) {
	if _, isBool := a.(bool); isBool {
		return 0, false
	}
	if fa, ok := num(a); ok {
		fb, ok := num(b)
		if !ok {
			return 0, false
		}
		switch {
		case fa < fb:
			return -1, true
		case fa > fb:
			return 1, true
		}
		return 0, true
	}
	sa, ok1 := a.(string)
	sb, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(sa, sb), true
	}
	return 0, false
}

// jsonEqual compares JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	if fa, ok := num(a); ok {
		fb, ok := num(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// copyMap is deepCopy for an object (nil stays nil).
func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return deepCopy(m).(map[string]any)
}
