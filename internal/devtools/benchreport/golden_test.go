package benchreport

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestHandlerSectionGolden reads testdata/handler.txt (go test -bench output of two
// packages, three runs each) with benchfmt and renders the report's handler section,
// compared with testdata/handler.golden.md.
func TestHandlerSectionGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "handler.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	handler, err := parseGoBench("handler.txt", f)
	if err != nil {
		t.Fatal(err)
	}
	r := &benchResults{handler: handler}
	m := &benchMD{}
	r.handlerSection(m)
	got := m.b.String()
	golden := filepath.Join("testdata", "handler.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("handler section (-want +got):\n%s", diff)
	}
}
