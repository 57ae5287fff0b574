package benchreport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadLambdaMemory reads testdata/CfyBroker.template.json, shaped like what
// `cdk synth` writes: functions named by their aws:cdk:path, or without it by their
// logical ID; one without MemorySize has Lambda's default.
func TestReadLambdaMemory(t *testing.T) {
	got, err := readLambdaMemory("testdata")
	if err != nil {
		t.Fatal(err)
	}
	want := lambdaMemory{"api": 512, "step": 128, "catalog": 128}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readLambdaMemory (-want +got):\n%s", diff)
	}
}

func TestReadLambdaMemoryErrors(t *testing.T) {
	if _, err := readLambdaMemory(t.TempDir()); !errors.Is(err, errNoTemplate) {
		t.Errorf("no template: %v, want errNoTemplate", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.template.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readLambdaMemory(dir); err == nil || errors.Is(err, errNoTemplate) {
		t.Errorf("broken template: %v, want a JSON error", err)
	}
}

func TestCFNFunctionName(t *testing.T) {
	for _, tc := range []struct{ id, path, want string }{
		{"Api0F1E2D3C", "CfyBroker/Api/Resource", "api"},
		{"StepB5C6D7E8", "", "step"},
		{"Catalog", "", "catalog"},
		{"Whatever12345678", "Stack/Nested/Catalog/Resource", "catalog"},
		{"Stepxyz", "", "stepxyz"},
	} {
		if got := cfnFunctionName(tc.id, tc.path); got != tc.want {
			t.Errorf("cfnFunctionName(%q, %q) = %q, want %q", tc.id, tc.path, got, tc.want)
		}
	}
}

// TestReportWithoutTemplate says in the report that the memory was not read.
func TestReportWithoutTemplate(t *testing.T) {
	r := loadBenchResults(t.TempDir(), t.TempDir())
	if !errors.Is(r.memoryErr, errNoTemplate) || !strings.Contains(r.markdown("p.png", false), "make synth") || r.memoryMB != benchAssumedMemoryMB || r.stepMemoryMB != benchAssumedStepMemoryMB {
		t.Errorf("memory %d and %d MB, %v", r.memoryMB, r.stepMemoryMB, r.memoryErr)
	}
}
