package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// FuzzInputSchemas decodes a blueprint plan from arbitrary JSON: InputSchemas must never
// panic, and the schemas it returns without error must compile (draft-04 or draft-07).
func FuzzInputSchemas(f *testing.F) {
	files, _ := filepath.Glob("testdata/schemas/*.json")
	for _, file := range files {
		if strings.Contains(file, ".golden.") || strings.Contains(file, ".expected.") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var c struct {
			Plan json.RawMessage `json:"plan"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.Plan), false, "")
		f.Add([]byte(c.Plan), true, "5.1.1")
	}
	for _, seed := range []string{
		`{}`,
		`{"inputs":{"a":{}}}`,
		`{"inputs":{"a":{"type":"t"}},"data_types":{"t":{"properties":{"b":{"type":"t"}}}}}`,
		`{"inputs":{"a":{"type":"a b%/~"}},"data_types":{"a b%/~":{"properties":{}}}}`,
		`{"inputs":{"a":{"type":"list","item_type":"list","constraints":[{"length":1e3},{"in_range":[1e308,-1e308]}]}}}`,
		`{"inputs":{"a":{"constraints":[{"valid_values":[1,1.0,"1",[1],{"a":1}]},{"equal":null},{"pattern":"(?P<x>a)|[[]"}]}}}`,
		`{"inputs":{"a":{"type":"string","constraints":[{"pattern":"\\u0000\\x00[\\]]{,}"}],"default":"\u0000"}}}`,
		`{"inputs":{"a":{"type":"blueprint_id","constraints":[{"name_pattern":{"starts_with":"(","equals_to":"x","contains":"\\"}}]}}}`,
		`{"inputs":{"a":{"type":"integer","constraints":[{"greater_than":1,"error_message":"m"},{"less_than":1},{"greater_than":1}]}}}`,
	} {
		f.Add([]byte(seed), false, "")
		f.Add([]byte(seed), true, "4.6")
	}
	f.Fuzz(func(t *testing.T, data []byte, draft07 bool, version string) {
		var plan cloudify.BlueprintPlan
		if err := json.Unmarshal(data, &plan); err != nil {
			return
		}
		opts := SchemaOptions{ManagerVersion: version}
		if draft07 {
			opts.Draft = Draft07
		}
		create, upd, _, err := InputSchemas(&plan, nil, opts)
		if err != nil {
			return
		}
		for _, doc := range []json.RawMessage{create, upd} {
			if _, err := compileSchema(doc); err != nil {
				t.Fatalf("schema does not compile: %v\n%s", err, doc)
			}
		}
	})
}
