package benchreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// benchGoBench is one Go benchmark's results across -count runs.
type benchGoBench struct {
	Pkg, Name             string
	NsOp, BytesOp, Allocs []float64
}

// parseGoBench reads `go test -bench` output (the Go benchmark format), grouping the
// results of each package's benchmark in the order first seen. The GOMAXPROCS suffix
// of a name ("-2") is not part of it.
func parseGoBench(name string, rd io.Reader) ([]*benchGoBench, error) {
	var out []*benchGoBench
	byKey := map[string]*benchGoBench{}
	r := benchfmt.NewReader(rd, name)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue // syntax errors and unit metadata: not results
		}
		pkg := string(res.GetConfig("pkg"))
		// The name less its GOMAXPROCS part ("-2"), which Parts returns last.
		base, parts := res.Name.Parts()
		full := "Benchmark" + string(base)
		for _, p := range parts {
			if p[0] == '/' {
				full += string(p)
			}
		}
		key := pkg + " " + full
		b := byKey[key]
		if b == nil {
			b = &benchGoBench{Pkg: pkg, Name: full}
			byKey[key] = b
			out = append(out, b)
		}
		if v, ok := res.Value("sec/op"); ok {
			b.NsOp = append(b.NsOp, v*1e9)
		}
		if v, ok := res.Value("B/op"); ok {
			b.BytesOp = append(b.BytesOp, v)
		}
		if v, ok := res.Value("allocs/op"); ok {
			b.Allocs = append(b.Allocs, v)
		}
	}
	if err := r.Err(); err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// lambdaMemory is the memory of the stack's functions, in MB, by function name
// ("api", "step", "catalog"), as the synthesized CloudFormation template sets it.
type lambdaMemory map[string]int

// errNoTemplate is returned when no template was synthesized.
var errNoTemplate = errors.New("no synthesized template (run make synth)")

// readLambdaMemory reads the MemorySize of every AWS::Lambda::Function of the
// templates that `cdk synth` wrote into dir (*.template.json). A function is named by
// its construct (the "aws:cdk:path" metadata "<stack>/Api/Resource" gives "api"), or
// without that metadata by its logical ID less the CDK's 8-digit hash ("ApiA1B2C3D4").
// It fails with errNoTemplate when dir holds no template.
func readLambdaMemory(dir string) (lambdaMemory, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, errNoTemplate)
	}
	sort.Strings(files)
	mem := lambdaMemory{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := parseLambdaMemory(b, mem); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return mem, nil
}

type cfnTemplate struct {
	Resources map[string]struct {
		Type       string `json:"Type"`
		Properties struct {
			MemorySize *int `json:"MemorySize"`
		} `json:"Properties"`
		Metadata struct {
			CDKPath string `json:"aws:cdk:path"`
		} `json:"Metadata"`
	} `json:"Resources"`
}

// parseLambdaMemory adds the functions of one template to mem. A function without
// MemorySize has Lambda's default, 128 MB.
func parseLambdaMemory(b []byte, mem lambdaMemory) error {
	var t cfnTemplate
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	for id, res := range t.Resources {
		if res.Type != "AWS::Lambda::Function" {
			continue
		}
		name := cfnFunctionName(id, res.Metadata.CDKPath)
		mb := 128
		if res.Properties.MemorySize != nil {
			mb = *res.Properties.MemorySize
		}
		mem[name] = mb
	}
	return nil
}

// cfnFunctionName is the lower-case construct name of a function resource.
func cfnFunctionName(logicalID, cdkPath string) string {
	if p := strings.TrimSuffix(cdkPath, "/Resource"); p != cdkPath && strings.Count(p, "/") >= 1 {
		return strings.ToLower(path.Base(p))
	}
	if n := len(logicalID); n > 8 && isHex(logicalID[n-8:]) {
		logicalID = logicalID[:n-8]
	}
	return strings.ToLower(logicalID)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return false
		}
	}
	return true
}
