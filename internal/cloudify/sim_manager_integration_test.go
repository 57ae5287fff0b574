package cloudify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestSimVersionAndStatus reads the version (once, then from the cache) and
// the manager status.
func TestSimVersionAndStatus(t *testing.T) {
	cases := []struct {
		version        string
		atLeast64      bool
		atLeast70      bool
		wantVersionGET int
	}{
		{"5.1.1", false, false, 1},
		{"6.4", true, false, 1},
		{"7.0.4", true, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			if got := e.c.BaseURL(); got != e.srv.URL+cloudify.APIPrefix {
				t.Errorf("BaseURL() = %q", got)
			}
			if got := e.c.Tenant(); got != simTenant {
				t.Errorf("Tenant() = %q", got)
			}
			for range 3 {
				v, err := e.c.Version(e.ctx)
				if err != nil {
					t.Fatalf("Version: %v", err)
				}
				want := cloudify.VersionInfo{Edition: "premium", Version: tc.version, Build: "cloudifysim",
					Distribution: "rhel", DistroRelease: "Ootpa"}
				if diff := cmp.Diff(want, v); diff != "" {
					t.Errorf("Version (-want +got):\n%s", diff)
				}
				if v.AtLeast(6, 4) != tc.atLeast64 || v.AtLeast(7, 0) != tc.atLeast70 {
					t.Errorf("AtLeast(6.4) = %v, AtLeast(7.0) = %v", v.AtLeast(6, 4), v.AtLeast(7, 0))
				}
			}
			if got := e.requests("GET /version"); got != tc.wantVersionGET {
				t.Errorf("GET /version sent %d times, want %d (cached)", got, tc.wantVersionGET)
			}

			s, err := e.c.Status(e.ctx)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			var services map[string]struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(s.Services, &services); err != nil {
				t.Fatalf("status services %s: %v", s.Services, err)
			}
			if s.Status != "running" || services["Manager Rest-Service"].Status != "Active" {
				t.Errorf("Status = %q, services %v", s.Status, services)
			}
		})
	}
}

// TestSimTokens creates a token with the release's token contract and uses
// it with WithToken: GET /tokens before 6.4, POST /tokens from 6.4.
func TestSimTokens(t *testing.T) {
	cases := []struct {
		version  string
		route    string // the route NewToken must use
		unused   string // the route it must not use
		lifetime time.Duration
	}{
		{"5.1.1", "GET /tokens", "POST /tokens", 10 * time.Hour},
		{"6.2", "GET /tokens", "POST /tokens", 10 * time.Hour},
		{"6.4", "POST /tokens", "GET /tokens", time.Hour},
		{"7.0.4", "POST /tokens", "GET /tokens", time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, tc.version)
			expires := simT0.Add(time.Hour)
			tok, err := e.c.NewToken(e.ctx, "osb broker", expires)
			if err != nil {
				t.Fatalf("NewToken: %v", err)
			}
			if got, other := e.requests(tc.route), e.requests(tc.unused); got != 1 || other != 0 {
				t.Errorf("NewToken sent %q %d times and %q %d times, want 1 and 0", tc.route, got, tc.unused, other)
			}
			if tok.Value == "" || tok.Username != simUser {
				t.Errorf("token = %s (value set: %v)", tok, tok.Value != "")
			}
			if strings.Contains(tok.String(), tok.Value) {
				t.Errorf("Token.String() leaks the value: %s", tok)
			}
			if e.atLeast(6, 4) {
				if tok.ID == "" || !strings.HasPrefix(tok.Value, "ctok-"+tok.ID+"-") || strings.Contains(tok.Value, "*") {
					t.Errorf("6.4+ token id %q value %q, want ctok-<id>-<secret>", tok.ID, tok.Value)
				}
				if tok.Description != "osb broker" || !tok.ExpirationDate.Equal(expires) {
					t.Errorf("token description %q expiration %v, want %q %v", tok.Description, tok.ExpirationDate, "osb broker", expires)
				}
			} else if tok.ID != "" || tok.Role != "admin" {
				t.Errorf("legacy token id %q role %q", tok.ID, tok.Role)
			}

			// The token authenticates a client that has no password.
			tc2 := e.clientAt(e.srv.URL, cloudify.WithToken(tok.Value))
			if _, err := tc2.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB, "id"); err != nil {
				t.Fatalf("GetBlueprint with the token: %v", err)
			}
			if _, err := e.clientAt(e.srv.URL, cloudify.WithToken(tok.Value+"x")).Status(e.ctx); !cloudify.IsUnauthorized(err) {
				t.Errorf("Status with a wrong token = %v, want unauthorized", err)
			}
			// ... until it expires.
			e.advance(tc.lifetime)
			_, err = tc2.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB, "id")
			ae := wantCode(t, err, 401, cloudify.CodeUnauthorized)
			if !cloudify.IsUnauthorized(err) || !strings.Contains(ae.Message, "expired") {
				t.Errorf("expired token: %v", err)
			}
		})
	}
	t.Run("fixed version skips GET /version", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, "7.0.4")
		c := e.client(cloudify.WithManagerVersion("7.0.4"))
		if _, err := c.NewToken(e.ctx, "", time.Time{}); err != nil {
			t.Fatalf("NewToken: %v", err)
		}
		if got := e.requests("GET /version"); got != 0 {
			t.Errorf("GET /version sent %d times with WithManagerVersion", got)
		}
	})
}

// TestSimListBlueprints pages through the blueprints with a small page size
// and checks include, sort, filters and limit.
func TestSimListBlueprints(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, "7.0.4")
	all := cloudifysim.SampleBlueprintIDs()
	rev := make([]string, len(all))
	for i, id := range all {
		rev[len(all)-1-i] = id
	}
	uploaded := []string{}
	for _, id := range all {
		if id != cloudifysim.SampleBrokenUpload {
			uploaded = append(uploaded, id)
		}
	}
	cases := []struct {
		name      string
		opts      cloudify.ListOptions
		want      []string
		wantPages int
	}{
		{"one page", cloudify.ListOptions{Sort: []string{"id"}}, all, 1},
		{"pages of two", cloudify.ListOptions{Sort: []string{"id"}, PageSize: 2}, all, (len(all) + 1) / 2},
		{"page size equals total", cloudify.ListOptions{Sort: []string{"id"}, PageSize: len(all)}, all, 1},
		{"descending", cloudify.ListOptions{Sort: []string{"-id"}, PageSize: 3}, rev, (len(all) + 2) / 3},
		{"limit", cloudify.ListOptions{Sort: []string{"id"}, PageSize: 2, Limit: 3}, all[:3], 2},
		{"filter state", cloudify.ListOptions{Sort: []string{"id"}, Filters: map[string][]string{"state": {"uploaded"}}}, uploaded, 1},
		{"filter OR", cloudify.ListOptions{Sort: []string{"-id"}, PageSize: 1,
			Filters: map[string][]string{"id": {cloudifysim.SampleMariaDB, cloudifysim.SampleRedis}}},
			[]string{cloudifysim.SampleRedis, cloudifysim.SampleMariaDB}, 2},
		{"filter none", cloudify.ListOptions{Filters: map[string][]string{"id": {"nope"}}}, []string{}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.ResetStats()
			tc.opts.Include = []string{"id", "state"}
			bps, err := e.c.ListBlueprints(e.ctx, tc.opts)
			if err != nil {
				t.Fatalf("ListBlueprints: %v", err)
			}
			if diff := cmp.Diff(tc.want, ids(bps, blueprintID)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if got := e.requests("GET /blueprints"); got != tc.wantPages {
				t.Errorf("%d requests, want %d", got, tc.wantPages)
			}
			for _, b := range bps {
				if b.Plan != nil || b.Description != "" || b.State == "" {
					t.Errorf("projection to id,state: %s has plan %v, description %q, state %q", b.ID, b.Plan != nil, b.Description, b.State)
				}
			}
		})
	}
	t.Run("whole resources", func(t *testing.T) {
		bps, err := e.c.ListBlueprints(e.ctx, cloudify.ListOptions{Filters: map[string][]string{"id": {cloudifysim.SampleRedis}}})
		if err != nil || len(bps) != 1 {
			t.Fatalf("ListBlueprints = %d items, %v", len(bps), err)
		}
		if b := bps[0]; b.Plan == nil || b.Plan.Inputs["memory_mb"].Type != "integer" || !b.Deployable() || b.TenantName != simTenant {
			t.Errorf("listed blueprint = %+v", b)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		_, err := e.c.ListBlueprints(e.ctx, cloudify.ListOptions{Include: []string{"nope"}})
		wantCode(t, err, 400, cloudify.CodeNoSuchIncludeField)
		_, err = e.c.ListBlueprints(e.ctx, cloudify.ListOptions{Filters: map[string][]string{"colour": {"red"}}})
		wantCode(t, err, 400, cloudify.CodeBadParameters)
		_, err = e.c.ListBlueprints(e.ctx, cloudify.ListOptions{Sort: []string{"colour"}})
		wantCode(t, err, 400, cloudify.CodeBadParameters)
	})
}

// TestSimGetBlueprint decodes a whole plan: inputs with constraints,
// outputs, capabilities, workflows (with the 6.4+ availability rules) and
// data types.
func TestSimGetBlueprint(t *testing.T) {
	// The fixture as stored in the simulator, decoded with the client's
	// types, is what the client must get over HTTP on 6.4+.
	var fixture cloudify.Blueprint
	for _, rawBP := range cloudifysim.SampleBlueprints() {
		var b cloudify.Blueprint
		if err := json.Unmarshal(rawBP, &b); err != nil {
			t.Fatalf("decoding a sample fixture: %v", err)
		}
		if b.ID == cloudifysim.SampleMariaDB {
			fixture = b
		}
	}
	if fixture.Plan == nil {
		t.Fatal("the mariadb sample has no plan")
	}
	for _, version := range []string{"6.2", "6.4", "7.0.4"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, version)
			b, err := e.c.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB)
			if err != nil {
				t.Fatalf("GetBlueprint: %v", err)
			}
			if b.ID != "mariadb" || b.State != cloudify.BlueprintUploaded || !b.Deployable() || b.TenantName != simTenant ||
				b.CreatedBy != "admin" || b.Visibility != "tenant" || b.MainFileName == "" ||
				!b.CreatedAt.Equal(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("blueprint resource = %+v", b)
			}
			if diff := cmp.Diff(map[string]string{"osb-service": "mariadb", "osb-plan": "standard", "osb-bindable": "true"}, labelMap(b.Labels)); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			p := b.Plan
			if p == nil {
				t.Fatal("no plan")
			}

			wantInputs := map[string]cloudify.Input{
				"admin_password": {Type: "string", DisplayLabel: "Admin password", Required: ptr(true),
					Description: "Password of the administrative database user",
					Constraints: []cloudify.Constraint{{"min_length": float64(8), "error_message": "The admin password must have at least 8 characters"}}},
				"node_count": {Type: "integer", Default: raw(`1`), DisplayLabel: "Database nodes",
					Description: "Number of database nodes behind the load balancer",
					Constraints: []cloudify.Constraint{{"in_range": []any{float64(1), float64(9)}}}},
				"db_name": {Type: "string", Default: raw(`"app"`), DisplayLabel: "Database name", Description: "Name of the schema to create",
					Constraints: []cloudify.Constraint{{"pattern": "[a-z][a-z0-9_]*"}, {"max_length": float64(32)}}},
				"replica_zones": {Type: "list", ItemType: "string", Required: ptr(false), DisplayLabel: "Replica zones",
					Description: "Availability zones for replicas", Constraints: []cloudify.Constraint{{"min_length": float64(2)}}},
				"charset": {Type: "string", Default: raw(`"utf8mb4"`), Hidden: true, Description: "Server character set"},
				"backup": {Type: "mariadb_backup", DisplayLabel: "Backup policy", Description: "Backup policy",
					Default: raw(`{"enabled": true, "retention_days": 7}`)},
			}
			for name, want := range wantInputs {
				if diff := cmp.Diff(want, p.Inputs[name], cmpRawJSON); diff != "" {
					t.Errorf("input %s (-want +got):\n%s", name, diff)
				}
			}
			if in := p.Inputs["admin_password"]; in.HasDefault() || in.Default != nil {
				t.Errorf("admin_password has a default: %s", in.Default)
			}
			if !p.Inputs["db_name"].HasDefault() {
				t.Error("db_name has no default")
			}
			if diff := cmp.Diff(cloudify.Output{Description: "host:port of the database",
				Value: raw(`{"concat": [{"get_attribute": ["db_lb", "ip"]}, ":", {"get_attribute": ["db_lb", "port"]}]}`)},
				p.Outputs["endpoint"], cmpRawJSON); diff != "" {
				t.Errorf("output endpoint (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cloudify.Output{Description: "Administrative password", Value: raw(`{"get_input": "admin_password"}`)},
				p.Capabilities["password"], cmpRawJSON); diff != "" {
				t.Errorf("capability password (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cloudify.DataType{Description: "Backup policy of the database", Properties: map[string]cloudify.Input{
				"enabled":        {Type: "boolean", Default: raw(`true`), Description: "Take nightly backups"},
				"schedule":       {Type: "string", Default: raw(`"0 3 * * *"`), Description: "Cron schedule of the backup job"},
				"retention_days": {Type: "integer", Default: raw(`7`), Description: "Days to keep backups", Constraints: []cloudify.Constraint{{"in_range": []any{float64(1), float64(35)}}}},
			}}, p.DataTypes["mariadb_backup"], cmpRawJSON); diff != "" {
				t.Errorf("data type mariadb_backup (-want +got):\n%s", diff)
			}

			install := p.Workflows["install"]
			if install.Plugin != "default_workflows" || install.Operation != "cloudify.plugins.workflows.install" ||
				install.IsCascading || install.Parameters["node_ids"].ItemType != "node_id" {
				t.Errorf("workflow install = %+v", install)
			}
			var wantRules map[string]any
			if e.atLeast(6, 4) {
				wantRules = map[string]any{"node_instances_active": []any{"none", "partial"}}
			}
			if diff := cmp.Diff(wantRules, install.AvailabilityRules); diff != "" {
				t.Errorf("install availability rules (-want +got):\n%s", diff)
			}
			if _, ok := p.Workflows["backup"]; !ok {
				t.Error("the custom workflow backup is missing")
			}

			if e.atLeast(6, 4) {
				if diff := cmp.Diff(fixture.Plan, p, cmpRawJSON); diff != "" {
					t.Errorf("plan differs from the fixture (-fixture +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("include, quirks, errors", func(t *testing.T) {
		t.Parallel()
		e := newSimEnv(t, "7.0.4")
		b, err := e.c.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB, "id", "state")
		if err != nil {
			t.Fatalf("GetBlueprint(include): %v", err)
		}
		if diff := cmp.Diff(cloudify.Blueprint{ID: "mariadb", State: "uploaded"}, b); diff != "" {
			t.Errorf("projected blueprint (-want +got):\n%s", diff)
		}
		// Including labels disables the projection (a manager quirk).
		b, err = e.c.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB, "id", "labels")
		if err != nil || b.Plan == nil || len(b.Labels) != 3 {
			t.Errorf("GetBlueprint(id,labels): plan %v labels %d err %v", b.Plan != nil, len(b.Labels), err)
		}
		b, err = e.c.GetBlueprint(e.ctx, cloudifysim.SampleBrokenUpload)
		if err != nil {
			t.Fatalf("GetBlueprint(broken): %v", err)
		}
		if b.State != "failed_parsing" || b.Deployable() || b.Plan != nil || !strings.Contains(b.Error, "Unknown type") ||
			!strings.Contains(b.ErrorTraceback, "Traceback") {
			t.Errorf("broken blueprint = state %q deployable %v plan %v error %q", b.State, b.Deployable(), b.Plan != nil, b.Error)
		}
		_, err = e.c.GetBlueprint(e.ctx, "nope")
		if ae := wantCode(t, err, 404, cloudify.CodeNotFound); !cloudify.IsNotFound(err) || ae.Op != "GetBlueprint" {
			t.Errorf("missing blueprint: %v", err)
		}
		_, err = e.c.GetBlueprint(e.ctx, cloudifysim.SampleMariaDB, "nope")
		wantCode(t, err, 400, cloudify.CodeNoSuchIncludeField)
	})
}
