package cloudifysim

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStateFile: with a state file, a new simulator on the same file (a restart,
// after a crash too: every answer follows its write) finds the deployments, their
// executions and secrets as they were; an execution in flight goes on from where it
// was, and new ids do not repeat the saved ones.
func TestStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim-state.json")
	withState := func(c *Config) { c.StateFile = path }
	a := newTestSim(t, "7.0.4", withState)
	a.installed("db1")
	a.create("db2", "required-input", map[string]any{"name": "x"}, false)
	a.advance(2 * time.Second)
	running := a.mustStart("db2", "install", nil)
	a.advance(time.Second) // install of db2 is under way
	before := a.exec(running)
	if before["status"] != "started" {
		t.Fatalf("install of db2 = %v, want started", before["status"])
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	// A restart, on a clock that reads another time.
	other := NewManualClock(t0.Add(-30 * 24 * time.Hour))
	b := newTestSim(t, "7.0.4", withState, func(c *Config) { c.Clock = other })
	b.clock = other
	if err := b.sim.LoadState(); err != nil {
		t.Fatal(err)
	}
	if d := b.dep("db1"); d["installation_status"] != "active" || d["inputs"] == nil {
		t.Errorf("db1 after the restart: %v %v", d["installation_status"], d["inputs"])
	}
	if got := b.exec(running); got["status"] != "started" || got["deployment_id"] != "db2" {
		t.Errorf("db2's install after the restart: %v", got)
	}
	if e := b.waitEnd(running); e["status"] != "terminated" {
		t.Errorf("db2's install ended %v", e["status"])
	}
	if d := b.dep("db2"); d["installation_status"] != "active" {
		t.Errorf("db2 after its install: %v", d["installation_status"])
	}
	fresh := b.mustStart("db1", "execute_operation", map[string]any{"parameters": map[string]any{"operation": "op"}})
	for _, e := range a.sim.Executions("") {
		if e.ID == fresh {
			t.Fatalf("new execution id %s repeats one of the saved state", fresh)
		}
	}
	infos := map[string]bool{}
	for _, d := range b.sim.Deployments() {
		infos[d.ID] = d.Exists
	}
	if !infos["db1"] || !infos["db2"] {
		t.Errorf("Deployments after the restart: %v", infos)
	}

	// Without a state file, nothing is kept.
	c := newTestSim(t, "7.0.4")
	if err := c.sim.LoadState(); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, c.do("GET", "/deployments/db1", nil), 404)

	// A damaged file is an error, not an empty manager.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newTestSim(t, "7.0.4", withState)
	if err := d.sim.LoadState(); err == nil {
		t.Error("a damaged state file was accepted")
	}
}
