package catalog

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
)

func TestDiff(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	before, _ := mustBuild(t, testBlueprints(), ov, testOptions())

	if got := Diff(before, before); len(got) != 0 {
		t.Errorf("Diff of a catalog with itself = %v", got)
	}

	after := cloneCatalog(t, before)
	// after.Services: legacy, mariadb, my-app, my-app-2, my.app
	after.Services[0].Name = "legacy2"                            // renamed
	after.Services[0].Description = "changed"                     // service changed
	after.Services[0].Tags = []string{"t"}                        // service changed
	maria := &after.Services[1]                                   //
	maria.Credentials = nil                                       // broker only
	maria.CredentialsType = "mariadb"                             // broker only
	maria.Plans[0].Name = "tiny"                                  // plan renamed
	maria.Plans[0].Free = true                                    // plan changed
	maria.Plans[0].Inputs = map[string]any{"node_count": 2}       // broker only
	maria.Plans[0].MaintenanceInfo.Description = "now documented" // maintenance_info description
	maria.Plans[1].BlueprintID = "mariadb_v3"                     // no version bump
	maria.Plans[1].BindWorkflows = nil                            // broker only
	maria.Plans[1].BindingRotation = &broker.BindingRotation{}    // binding_rotatable (invisible without workflows)
	maria.Plans[1].UpdateSchema = json.RawMessage(`{"type":"object"}`)
	var reordered any
	_ = json.Unmarshal(maria.Plans[1].CreateSchema, &reordered)
	maria.Plans[1].CreateSchema, _ = json.MarshalIndent(reordered, "", "\t") // same schema
	maria.Plans = append(maria.Plans, broker.Plan{ID: "new-plan", Name: "huge"})
	after.Services[2].Plans[0].MaintenanceInfo = &broker.MaintenanceInfo{Version: "2.0.0"}
	after.Services[2].Plans[0].BlueprintID = "my_app_v2"
	after.Services[3].Plans = nil // plan removed
	removed := after.Services[4]
	after.Services = append(after.Services[:4], broker.Service{ID: "new-service", Name: "fresh"})

	got := Diff(before, after)
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	want := []string{
		"~ service legacy2: renamed from legacy",
		"~ service legacy2: description, tags changed",
		"~ service mariadb: credentials mapping, credentials_type changed (broker only)",
		"~ plan mariadb/tiny: renamed from small",
		"~ plan mariadb/tiny: free changed",
		"~ plan mariadb/tiny: maintenance_info description changed (version 1.1.0)",
		"~ plan mariadb/tiny: inputs changed (broker only)",
		"~ plan mariadb/large: update schema changed",
		"~ plan mariadb/large: blueprint mariadb_v2 -> mariadb_v3 (broker only); maintenance_info.version is unchanged, so the platform will not offer the upgrade",
		"~ plan mariadb/large: bind workflows osb_bind/osb_unbind -> (shared) (broker only)",
		"+ plan mariadb/huge",
		"~ plan my-app/default: maintenance_info 1.0.0 -> 2.0.0",
		"~ plan my-app/default: blueprint My_App -> my_app_v2 (broker only)",
		"- plan my-app-2/default",
		"+ service fresh",
		"- service " + removed.Name,
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got[1].Kind != ServiceChanged || got[1].ServiceID != before.Services[0].ID || got[3].PlanID != before.Services[1].Plans[0].ID {
		t.Errorf("change fields: %+v, %+v", got[1], got[3])
	}
	if got[5].Kind != MaintenanceInfoChanged || !cmp.Equal(got[5].Fields, []string{"description"}) {
		t.Errorf("maintenance change: %+v", got[5])
	}
}

func TestDiffBindings(t *testing.T) {
	ov := mustParseOverlay(t, testOverlayDoc)
	before, _ := mustBuild(t, testBlueprints(), ov, testOptions())
	after := cloneCatalog(t, before)
	maria := &after.Services[1]
	maria.URITemplate = "mysql://{host}"
	maria.Plans[0].BindingRotation = &broker.BindingRotation{MaximumValidityPeriod: 60}
	maria.Plans[0].Metadata[MetadataBindingRotation] = map[string]any{"maximumValidityPeriod": 60}
	maria.Plans[1].BindWorkflows.Unbind = "drop_user"
	maria.Plans[1].CreateSchema = json.RawMessage(`{}`)
	maria.Plans[1].UpdateSchema = json.RawMessage(`{}`)
	maria.Plans[1].BindSchema = nil

	var lines []string
	for _, c := range Diff(before, after) {
		lines = append(lines, c.String())
	}
	want := []string{
		"~ service mariadb: credentials uri_template changed (broker only)",
		"~ plan mariadb/small: binding_rotatable, metadata changed",
		"~ plan mariadb/large: create, update and bind schema changed",
		"~ plan mariadb/large: bind workflows osb_bind/osb_unbind -> osb_bind/drop_user (broker only)",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
