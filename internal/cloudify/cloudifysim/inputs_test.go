package cloudifysim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jsonValue decodes a JSON literal the way request bodies are decoded.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := decodeJSON([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestInputChecks(t *testing.T) {
	sim := New(Config{Version: "7.0.4", Clock: NewManualClock(t0), LoadSamples: true})
	dataTypes := jsonValue(t, `{"port_conf": {"properties": {
		"http": {"type": "integer"},
		"https": {"type": "integer", "default": 443, "constraints": [{"less_than": 65536}]}}}}`).(map[string]any)
	c := &inputChecker{s: sim, tenant: "default_tenant", dataTypes: dataTypes}
	tests := []struct {
		name  string
		def   string
		value string
		want  string // "" = valid, else a substring of the violation
	}{
		{"integer ok", `{"type": "integer"}`, `3`, ""},
		{"integer rejects 3.0", `{"type": "integer"}`, `3.0`, "type is 'integer'"},
		{"integer rejects bool", `{"type": "integer"}`, `true`, "type is 'integer'"},
		{"float accepts int", `{"type": "float"}`, `3`, ""},
		{"boolean rejects string", `{"type": "boolean"}`, `"true"`, "type is 'boolean'"},
		{"string accepts anything", `{"type": "string"}`, `12`, ""},
		{"list", `{"type": "list"}`, `{}`, "type is 'list'"},
		{"dict", `{"type": "dict"}`, `{"a": 1}`, ""},
		{"regex invalid", `{"type": "regex"}`, `"a("`, "type is 'regex'"},
		{"no type accepts anything", `{}`, `[1, {"a": null}]`, ""},
		{"equal", `{"constraints": [{"equal": 5}]}`, `5.0`, ""},
		{"greater_than", `{"constraints": [{"greater_than": 5}]}`, `5`, "violates constraint greater_than(5) operator."},
		{"greater_or_equal", `{"constraints": [{"greater_or_equal": 5}]}`, `5`, ""},
		{"less_than", `{"constraints": [{"less_than": 5}]}`, `4.9`, ""},
		{"less_or_equal", `{"constraints": [{"less_or_equal": 5}]}`, `6`, "less_or_equal(5)"},
		{"string compared with number", `{"constraints": [{"greater_than": 5}]}`, `"x"`, "greater_than(5)"},
		{"in_range inclusive", `{"constraints": [{"in_range": [1, 9]}]}`, `9`, ""},
		{"in_range", `{"type": "integer", "constraints": [{"in_range": [1, 9]}]}`, `12`, "Value 12 of input x violates constraint in_range(1, 9) operator."},
		{"valid_values numbers", `{"constraints": [{"valid_values": [256, 512]}]}`, `512`, ""},
		{"valid_values", `{"constraints": [{"valid_values": ["a", "b"]}]}`, `"c"`, "valid_values(a, b)"},
		{"valid_values whole list", `{"type": "list", "constraints": [{"valid_values": [["a"]]}]}`, `["a"]`, ""},
		{"length string", `{"constraints": [{"length": 3}]}`, `"abc"`, ""},
		{"length list", `{"constraints": [{"length": 3}]}`, `[1, 2]`, "length(3)"},
		{"length of a number", `{"constraints": [{"length": 3}]}`, `123`, "length could not be computed"},
		{"min_length", `{"constraints": [{"min_length": 2}]}`, `"a"`, "min_length(2)"},
		{"max_length dict", `{"constraints": [{"max_length": 1}]}`, `{"a": 1, "b": 2}`, "max_length(1)"},
		{"max_length counts characters", `{"constraints": [{"max_length": 3}]}`, `"äöü"`, ""},
		{"pattern anchored at start only", `{"constraints": [{"pattern": "abc"}]}`, `"abcdef"`, ""},
		{"pattern not at start", `{"constraints": [{"pattern": "abc"}]}`, `"xabc"`, "pattern(abc)"},
		{"pattern on a number", `{"constraints": [{"pattern": "1"}]}`, `1`, "must be of type string"},
		{"item_type each element", `{"type": "list", "item_type": "integer"}`, `[1, "2"]`, "type is 'integer'"},
		{"constraints per element", `{"type": "list", "item_type": "string", "constraints": [{"min_length": 2}]}`, `["ab", "c"]`, "Value c of input x violates constraint min_length(2)"},
		{"constraints on the list without item_type", `{"type": "list", "constraints": [{"min_length": 2}]}`, `["a", "b"]`, ""},
		{"error_message (7.0)", `{"constraints": [{"max_length": 2, "error_message": "too long!"}]}`, `"abc"`, "too long!"},
		{"function values skip checks", `{"type": "integer", "constraints": [{"in_range": [1, 2]}]}`, `{"get_secret": "n"}`, ""},
		{"data type ok", `{"type": "port_conf"}`, `{"http": 80}`, ""},
		{"data type missing property", `{"type": "port_conf"}`, `{"https": 8443}`, "Value of input x is missing property http"},
		{"data type unknown property", `{"type": "port_conf"}`, `{"http": 80, "ftp": 21}`, "Undefined property ftp"},
		{"data type property constraint", `{"type": "port_conf"}`, `{"http": 80, "https": 70000}`, "less_than(65536)"},
		{"data type property type", `{"type": "port_conf"}`, `{"http": "80"}`, "type is 'integer'"},
		{"blueprint_id exists", `{"type": "blueprint_id"}`, `"mariadb"`, ""},
		{"blueprint_id missing", `{"type": "blueprint_id"}`, `"nope"`, "does not match any relevant entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := jsonValue(t, tt.def).(map[string]any)
			vi := c.check("x", def, jsonValue(t, tt.value))
			switch {
			case tt.want == "" && vi != nil:
				t.Errorf("unexpected violation: %s", vi.msg)
			case tt.want != "" && vi == nil:
				t.Errorf("no violation, want %q", tt.want)
			case tt.want != "" && !strings.Contains(vi.msg, tt.want):
				t.Errorf("violation %q does not contain %q", vi.msg, tt.want)
			}
		})
	}
}

func TestRequiredInputRules(t *testing.T) {
	defs := `{"a": {}, "b": {"default": null}, "c": {"required": false}, "d": {"default": 1}, "e": {"required": false, "default": null}}`
	tests := []struct {
		version string
		want    []string // inputs the REST pre-check requires
	}{
		{"5.1", []string{"a", "b", "c", "e"}},
		{"5.1.1", []string{"a", "b"}},
		{"7.0.4", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			sim := New(Config{Version: tt.version, Clock: NewManualClock(t0)})
			var got []string
			for _, name := range []string{"a", "b", "c", "d", "e"} {
				if sim.requiredAtREST(jsonValue(t, defs).(map[string]any)[name].(map[string]any)) {
					got = append(got, name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Error(diff)
			}
		})
	}
	// 6.0+: a null default passes the REST check but fails in the workflow
	sim := New(Config{Version: "7.0.4", Clock: NewManualClock(t0)})
	if err := sim.AddBlueprint(json.RawMessage(`{"id": "n", "plan": {"inputs": {"b": {"default": null}}}}`)); err != nil {
		t.Fatal(err)
	}
	_, vi := sim.resolveInputs(sim.blueprints["n"], "default_tenant", map[string]any{})
	if vi == nil || vi.exc != "MissingRequiredInputError" {
		t.Errorf("violation = %+v", vi)
	}
}
