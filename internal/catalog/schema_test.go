package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// schemaCase is one testdata/schemas/<name>.json file: a blueprint plan and parameter
// objects the generated schemas must accept or reject (under both drafts).
type schemaCase struct {
	Comment        string                 `json:"comment"`
	Plan           cloudify.BlueprintPlan `json:"plan"`
	Fixed          map[string]any         `json:"fixed"`
	ManagerVersion string                 `json:"manager_version"`
	// Valid and Invalid are checked against the create schema, UpdateValid and
	// UpdateInvalid against the update schema.
	Valid         []json.RawMessage `json:"valid"`
	Invalid       []json.RawMessage `json:"invalid"`
	UpdateValid   []json.RawMessage `json:"update_valid"`
	UpdateInvalid []json.RawMessage `json:"update_invalid"`
}

// schemaGolden is the content of testdata/schemas/<name>.<draft>.golden.json.
type schemaGolden struct {
	Create   json.RawMessage `json:"create"`
	Update   json.RawMessage `json:"update"`
	Warnings []string        `json:"warnings"`
}

func loadSchemaCases(t *testing.T) map[string]schemaCase {
	t.Helper()
	files, err := filepath.Glob("testdata/schemas/*.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]schemaCase{}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.Contains(base, ".golden.") || strings.Contains(base, ".expected.") {
			continue
		}
		var c schemaCase
		mustDecodeFile(t, f, &c)
		cases[strings.TrimSuffix(base, ".json")] = c
	}
	if len(cases) == 0 {
		t.Fatal("no schema cases in testdata/schemas")
	}
	return cases
}

func mustDecodeFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustInputSchemas(t *testing.T, plan *cloudify.BlueprintPlan, fixed map[string]any, opts SchemaOptions) (create, update json.RawMessage, warnings []string) {
	t.Helper()
	create, update, warnings, err := InputSchemas(plan, fixed, opts)
	if err != nil {
		t.Fatalf("InputSchemas: %v", err)
	}
	return create, update, warnings
}

// compileSchema compiles a generated schema with no URL loader, so nothing is fetched.
func compileSchema(doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource("mem:///schema.json", v); err != nil {
		return nil, err
	}
	return c.Compile("mem:///schema.json")
}

func mustCompileSchema(t *testing.T, doc []byte) *jsonschema.Schema {
	t.Helper()
	s, err := compileSchema(doc)
	if err != nil {
		t.Fatalf("compile schema: %v\n%s", err, doc)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, instance []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(instance))
	if err != nil {
		t.Fatalf("bad instance %s: %v", instance, err)
	}
	return s.Validate(v)
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestInputSchemasGolden(t *testing.T) {
	for name, c := range loadSchemaCases(t) {
		for _, draft := range []Draft{Draft04, Draft07} {
			t.Run(name+"/"+draft.String(), func(t *testing.T) {
				create, upd, warnings := mustInputSchemas(t, &c.Plan, c.Fixed, SchemaOptions{Draft: draft, ManagerVersion: c.ManagerVersion})
				if warnings == nil {
					warnings = []string{}
				}
				g, err := encodeSchema(schemaGolden{Create: create, Update: upd, Warnings: warnings})
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "schemas", fmt.Sprintf("%s.%s.golden.json", name, strings.ReplaceAll(draft.String(), "-", "")))
				checkGolden(t, golden, indentJSON(t, g))

				// Deterministic: a second run gives the same bytes.
				create2, upd2, warnings2 := mustInputSchemas(t, &c.Plan, c.Fixed, SchemaOptions{Draft: draft, ManagerVersion: c.ManagerVersion})
				if !bytes.Equal(create, create2) || !bytes.Equal(upd, upd2) || !cmp.Equal(warnings, append([]string{}, warnings2...)) {
					t.Error("second run differs")
				}
			})
		}
	}
}

func TestInputSchemasValidate(t *testing.T) {
	for name, c := range loadSchemaCases(t) {
		for _, draft := range []Draft{Draft04, Draft07} {
			t.Run(name+"/"+draft.String(), func(t *testing.T) {
				create, upd, _ := mustInputSchemas(t, &c.Plan, c.Fixed, SchemaOptions{Draft: draft, ManagerVersion: c.ManagerVersion})
				for _, doc := range [][]byte{create, upd} {
					var top map[string]any
					if err := json.Unmarshal(doc, &top); err != nil {
						t.Fatal(err)
					}
					if top["$schema"] != draft.metaSchema() || top["type"] != "object" || top["additionalProperties"] != false {
						t.Errorf("top level: $schema=%v type=%v additionalProperties=%v", top["$schema"], top["type"], top["additionalProperties"])
					}
					if len(doc) > MaxSchemaSize {
						t.Errorf("schema is %d bytes", len(doc))
					}
				}
				cs, us := mustCompileSchema(t, create), mustCompileSchema(t, upd)
				check := func(kind string, s *jsonschema.Schema, docs []json.RawMessage, valid bool) {
					for _, d := range docs {
						err := validateJSON(t, s, d)
						if valid && err != nil {
							t.Errorf("%s schema rejects %s:\n%v", kind, d, err)
						}
						if !valid && err == nil {
							t.Errorf("%s schema accepts %s", kind, d)
						}
					}
				}
				check("create", cs, c.Valid, true)
				check("create", cs, c.Invalid, false)
				check("update", us, c.UpdateValid, true)
				check("update", us, c.UpdateInvalid, false)
				// Whatever the create schema accepts, the update schema accepts.
				check("update", us, c.Valid, true)
			})
		}
	}
}

// TestWorkedExample checks the example of blueprint-inputs-jsonschema.md §6.6: the
// generated draft-04 create schema must equal the document's as JSON values (the order of
// "required" aside).
func TestWorkedExample(t *testing.T) {
	var c schemaCase
	mustDecodeFile(t, "testdata/schemas/worked-example.json", &c)
	create, _, _ := mustInputSchemas(t, &c.Plan, nil, SchemaOptions{})
	want, err := os.ReadFile("testdata/schemas/worked-example.expected.json")
	if err != nil {
		t.Fatal(err)
	}
	norm := func(b []byte) any {
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if r, ok := v["required"].([]any); ok {
			sort.Slice(r, func(i, j int) bool { return r[i].(string) < r[j].(string) })
		}
		return v
	}
	if diff := cmp.Diff(norm(want), norm(create)); diff != "" {
		t.Errorf("worked example (-want +got):\n%s", diff)
	}
}

func TestInputSchemasErrors(t *testing.T) {
	plan := &cloudify.BlueprintPlan{Inputs: map[string]cloudify.Input{"a": {Type: "string"}}}
	big := &cloudify.BlueprintPlan{Inputs: map[string]cloudify.Input{}}
	for i := range 400 {
		big.Inputs[fmt.Sprintf("input_%03d", i)] = cloudify.Input{Type: "string", Description: strings.Repeat("x", 200)}
	}
	tests := []struct {
		name  string
		plan  *cloudify.BlueprintPlan
		fixed map[string]any
		opts  SchemaOptions
		want  string
		is    error
	}{
		{name: "unknown fixed input", plan: plan, fixed: map[string]any{"b": 1, "a": 2, "c": 3}, want: `catalog: unknown input "b", "c"`},
		{name: "fixed input of nil plan", fixed: map[string]any{"a": 1}, want: `catalog: unknown input "a"`},
		{name: "bad manager version", plan: plan, opts: SchemaOptions{ManagerVersion: "latest"}, want: `catalog: cannot parse manager version "latest"`},
		{name: "bad draft", plan: plan, opts: SchemaOptions{Draft: Draft(9)}, want: "catalog: unknown JSON Schema draft 9"},
		{name: "too large", plan: big, want: "catalog: create schema is", is: ErrSchemaTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := InputSchemas(tt.plan, tt.fixed, tt.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestInputSchemasNilPlan(t *testing.T) {
	create, upd, warnings := mustInputSchemas(t, nil, nil, SchemaOptions{})
	want := `{"$schema":"http://json-schema.org/draft-04/schema#","additionalProperties":false,"properties":{},"type":"object"}`
	if string(create) != want || string(upd) != want || len(warnings) != 0 {
		t.Errorf("got %s, %s, %q; want %s twice and no warnings", create, upd, warnings, want)
	}
}

// TestRequiredRule covers §5 release by release on one set of inputs.
func TestRequiredRule(t *testing.T) {
	no, yes := false, true
	plan := &cloudify.BlueprintPlan{
		Inputs: map[string]cloudify.Input{
			"plain":            {Type: "string"},
			"null_default":     {Type: "string", Default: json.RawMessage("null")},
			"null_not_req":     {Type: "string", Default: json.RawMessage("null"), Required: &no},
			"not_required":     {Type: "string", Required: &no},
			"required_default": {Type: "string", Required: &yes, Default: json.RawMessage(`"x"`)},
			"function_default": {Type: "string", Default: json.RawMessage(`{"get_secret":"k"}`)},
			"dt_all_defaults":  {Type: "dt_defaults"},
			"dt_some_defaults": {Type: "dt_partial"},
		},
		DataTypes: map[string]cloudify.DataType{
			"dt_defaults": {Properties: map[string]cloudify.Input{"a": {Type: "integer", Default: json.RawMessage("1")}}},
			"dt_partial":  {Properties: map[string]cloudify.Input{"a": {Type: "integer", Default: json.RawMessage("1")}, "b": {Type: "integer"}}},
		},
	}
	tests := []struct {
		version string
		want    []string
	}{
		{"4.6", []string{"dt_all_defaults", "dt_some_defaults", "not_required", "null_default", "null_not_req", "plain"}},
		{"5.1.0", []string{"dt_all_defaults", "dt_some_defaults", "not_required", "null_default", "null_not_req", "plain"}},
		{"5.1.1", []string{"dt_some_defaults", "null_default", "plain"}},
		{"5.2.7", []string{"dt_some_defaults", "null_default", "plain"}},
		{"6.0", []string{"dt_all_defaults", "dt_some_defaults", "null_default", "plain"}},
		{"7.0.4", []string{"dt_all_defaults", "dt_some_defaults", "null_default", "plain"}},
		{"", []string{"dt_all_defaults", "dt_some_defaults", "null_default", "plain"}},
	}
	for _, tt := range tests {
		t.Run("v"+tt.version, func(t *testing.T) {
			create, upd, _ := mustInputSchemas(t, plan, nil, SchemaOptions{ManagerVersion: tt.version})
			var got, gotUpd struct {
				Required []string `json:"required"`
			}
			if err := json.Unmarshal(create, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(upd, &gotUpd); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Required); diff != "" {
				t.Errorf("required (-want +got):\n%s", diff)
			}
			if gotUpd.Required != nil {
				t.Errorf("update schema has required %q", gotUpd.Required)
			}
		})
	}
}

func TestParseDraft(t *testing.T) {
	for in, want := range map[string]Draft{"": Draft04, "draft-04": Draft04, "4": Draft04, "Draft-07": Draft07, "7": Draft07} {
		got, err := ParseDraft(in)
		if err != nil || got != want {
			t.Errorf("ParseDraft(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseDraft("2020-12"); err == nil {
		t.Error("ParseDraft(2020-12) succeeded")
	}
}
