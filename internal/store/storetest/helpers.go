package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// zone is not UTC, so that the suite sees engines normalise times to UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// t0 has sub-millisecond digits, so that the suite sees engines keep milliseconds.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, zone)

// recordOpts compares records as the contract allows them to come back.
var recordOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
	}),
	cmpopts.EquateEmpty(),
}

// catalogOpts compares catalogs, whose schemas are JSON documents: the catalog is a
// published document and an engine may store it re-encoded.
var catalogOpts = cmp.Options{
	recordOpts,
	// Empty documents are left to EquateEmpty.
	cmp.FilterValues(func(a, b json.RawMessage) bool { return len(a) > 0 && len(b) > 0 },
		cmp.Comparer(func(a, b json.RawMessage) bool {
			var va, vb any
			if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
				return bytes.Equal(a, b)
			}
			return reflect.DeepEqual(va, vb)
		})),
}

func fullInstance(id string) broker.Instance {
	return broker.Instance{
		ID:                 id,
		ServiceID:          "svc-db",
		PlanID:             "plan-small",
		OrganizationGUID:   "org-1",
		SpaceGUID:          "space-1",
		Context:            json.RawMessage(`{"platform": "cloudfoundry",  "organization_guid":"org-1", "note":"<&>"}`),
		Fingerprint:        "sha256:5a1f",
		Parameters:         []byte{0, 1, 2, 0xfe, 0xff, '"'},
		DeploymentID:       "dep-" + id,
		BlueprintID:        "bp-db-small",
		MaintenanceVersion: "1.2.3",
		DashboardURL:       "https://dash.example.com/" + id,
		State:              broker.InstanceReady,
		OperationID:        "op-" + id,
		OperationType:      broker.OpProvision,
		OperationState:     broker.StateSucceeded,
		CreatedAt:          t0,
		UpdatedAt:          t0.Add(90*time.Second + 123456789),
	}
}

func fullOperation(id, instanceID string) broker.Operation {
	return broker.Operation{
		ID:                 id,
		Type:               broker.OpUpdate,
		InstanceID:         instanceID,
		BindingID:          "b-rotating",
		Workflow:           "osb_bind",
		SecretKey:          "osb-dep-b-rotating",
		State:              broker.StateInProgress,
		Description:        "updating plan «small» → large",
		Phase:              "await_update",
		DeploymentID:       "dep-" + instanceID,
		BlueprintID:        "bp-db-large",
		ServiceID:          "svc-db",
		PlanID:             "plan-large",
		PreviousPlanID:     "plan-small",
		MaintenanceVersion: "1.3.0",
		Inputs:             []byte{0xde, 0xad, 0xbe, 0xef, 0},
		Parameters:         []byte{0, 'p', 0x80},
		Fingerprint:        "sha256:0p",
		Labels:             map[string]string{"csb-instance": instanceID, "tier": "gold", "empty": ""},
		ExecutionID:        "exec-1",
		UpdateID:           "upd-1",
		SupersededBy:       "op-later",
		Halts:              "op-earlier",
		Deadline:           t0.Add(time.Hour),
		NextCheck:          t0.Add(30*time.Second + 1),
		Steps:              7,
		Retries:            2,
		RequestID:          "req-1",
		Identity:           "cloudfoundry/user-1",
		CreatedAt:          t0,
		UpdatedAt:          t0.Add(time.Minute),
		EndedAt:            t0.Add(2 * time.Minute),
		CloudifyEndedAt:    t0.Add(time.Minute + 999999),
	}
}

func fullBinding(instanceID, id string) broker.Binding {
	return broker.Binding{
		InstanceID:     instanceID,
		ID:             id,
		ServiceID:      "svc-db",
		PlanID:         "plan-small",
		AppGUID:        "app-1",
		Fingerprint:    "sha256:b1",
		Parameters:     []byte{9, 8, 7, 0},
		Context:        json.RawMessage(`{"platform":"kubernetes", "namespace": "ns"}`),
		State:          broker.BindingUnbinding,
		SecretKey:      "osb-dep-" + id,
		PredecessorID:  "b-old",
		OperationID:    "op-unbind-" + id,
		OperationType:  broker.OpUnbind,
		OperationState: broker.StateInProgress,
		ExpiresAt:      t0.Add(48*time.Hour + 7),
		RenewBefore:    t0.Add(24 * time.Hour),
		CreatedAt:      t0.Add(5 * time.Second),
	}
}

func fullCatalog() broker.Catalog {
	yes, no := true, false
	return broker.Catalog{
		ETag:     `W/"etag-1"`,
		SyncedAt: t0,
		Services: []broker.Service{{
			ID:                   "svc-db",
			Name:                 "database",
			Description:          "A database on Cloudify",
			Tags:                 []string{"db", "cloudify"},
			Requires:             []string{"volume_mount"},
			Bindable:             true,
			InstancesRetrievable: true,
			BindingsRetrievable:  true,
			PlanUpdateable:       true,
			AllowContextUpdates:  true,
			Metadata: map[string]any{
				"displayName": "Database",
				"nested":      map[string]any{"n": float64(3), "list": []any{"a", true, nil}},
			},
			BlueprintID: "bp-db",
			Credentials: []broker.CredentialField{
				{Key: "uri", Source: "capability", Name: "connection_uri", Secret: true},
				{Key: "host"},
			},
			Plans: []broker.Plan{
				{
					ID:                     "plan-small",
					Name:                   "small",
					Description:            "One node",
					Free:                   true,
					Bindable:               &no,
					PlanUpdateable:         &yes,
					Metadata:               map[string]any{"bullets": []any{"1 GB"}},
					MaximumPollingDuration: 3600,
					MaintenanceInfo:        &broker.MaintenanceInfo{Version: "1.2.3", Description: "patch"},
					CreateSchema:           json.RawMessage(`{"type": "object", "properties": {"size": {"type": "string"}}}`),
					UpdateSchema:           json.RawMessage(`{"type":"object"}`),
					BindSchema:             json.RawMessage(`{"type":"object","required":["role"]}`),
					BlueprintID:            "bp-db-small",
					Inputs:                 map[string]any{"size": "small", "replicas": float64(2)},
				},
				{ID: "plan-large", Name: "large", BlueprintID: "bp-db-large"},
			},
		}},
	}
}

// requireFull fails the test when a fixture leaves a field other than Version zero,
// so that a field added to the domain is covered by the round trip once set here.
func requireFull(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if name != "Version" && rv.Field(i).IsZero() {
			t.Fatalf("fixture %T leaves %s zero; set it so that the round trip covers it", v, name)
		}
	}
}

// checkUTC reports the non-zero time fields of a record that are not in UTC.
func checkUTC(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if tm, ok := rv.Field(i).Interface().(time.Time); ok && !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%T.%s is in %v, want UTC", v, f.Name, tm.Location())
		}
	}
}

func mustCommit(t *testing.T, s store.Engine, tx broker.Tx) {
	t.Helper()
	if err := s.Commit(t.Context(), tx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustGetInstance(t *testing.T, s store.Engine, id string) broker.Instance {
	t.Helper()
	in, err := s.GetInstance(t.Context(), id)
	if err != nil {
		t.Fatalf("GetInstance(%q): %v", id, err)
	}
	return in
}

func mustGetOperation(t *testing.T, s store.Engine, id string) broker.Operation {
	t.Helper()
	op, err := s.GetOperation(t.Context(), id)
	if err != nil {
		t.Fatalf("GetOperation(%q): %v", id, err)
	}
	return op
}

func mustGetBinding(t *testing.T, s store.Engine, instanceID, id string) broker.Binding {
	t.Helper()
	b, err := s.GetBinding(t.Context(), instanceID, id)
	if err != nil {
		t.Fatalf("GetBinding(%q, %q): %v", instanceID, id, err)
	}
	return b
}

func mustActive(t *testing.T, s store.Engine) []broker.Operation {
	t.Helper()
	ops, err := s.ActiveOperations(t.Context())
	if err != nil {
		t.Fatalf("ActiveOperations: %v", err)
	}
	return ops
}

func mustListBindings(t *testing.T, s store.Engine, instanceID string) []broker.Binding {
	t.Helper()
	list, err := s.ListBindings(t.Context(), instanceID)
	if err != nil {
		t.Fatalf("ListBindings(%q): %v", instanceID, err)
	}
	// The domain does not order bindings; the suite compares them by id.
	slices.SortFunc(list, func(a, b broker.Binding) int { return strings.Compare(a.ID, b.ID) })
	return list
}

// mustListAllInstances follows ListInstances cursors to the end, checking that every
// page respects the limit and that the walk ends.
func mustListAllInstances(t *testing.T, s store.Engine, limit int) []broker.Instance {
	t.Helper()
	var all []broker.Instance
	after := ""
	for range 1000 {
		page, next, err := s.ListInstances(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("ListInstances(%q, %d): %v", after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("ListInstances(%q, %d) returned %d instances", after, limit, len(page))
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("ListInstances(%q, %d) returned no instances and cursor %q", after, limit, next)
		}
		after = next
	}
	t.Fatalf("ListInstances(limit %d) did not reach the end after 1000 pages", limit)
	return nil
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one matching %v", what, err, target)
	}
}

func ids[T any](records []T, id func(T) string) []string {
	out := make([]string, 0, len(records))
	for _, r := range records {
		out = append(out, id(r))
	}
	return out
}

func instanceID(in broker.Instance) string   { return in.ID }
func operationID(op broker.Operation) string { return op.ID }
func bindingID(b broker.Binding) string      { return b.ID }
