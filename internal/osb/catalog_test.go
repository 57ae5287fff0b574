package osb_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// testCatalog is a catalog with every field set, private ones included.
func testCatalog() broker.Catalog {
	return broker.Catalog{
		ETag:     "cat-v1",
		SyncedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Services: []broker.Service{
			{
				ID:                   "svc-1",
				Name:                 "postgresql",
				Description:          "PostgreSQL on Cloudify",
				Tags:                 []string{"sql", "postgres"},
				Requires:             []string{"syslog_drain"},
				Bindable:             true,
				InstancesRetrievable: true,
				BindingsRetrievable:  true,
				PlanUpdateable:       true,
				AllowContextUpdates:  true,
				Metadata:             map[string]any{"displayName": "PostgreSQL", "providerDisplayName": "Example"},
				BlueprintID:          "pg-blueprint",
				Credentials:          []broker.CredentialField{{Key: "uri", Source: "capability", Secret: true}},
				Plans: []broker.Plan{
					{
						ID:                     "plan-1",
						Name:                   "small",
						Description:            "One small VM",
						Free:                   true,
						Bindable:               ptr(true),
						PlanUpdateable:         ptr(false),
						Metadata:               map[string]any{"bullets": []any{"1 vCPU", "2 GB"}},
						MaximumPollingDuration: 3600,
						MaintenanceInfo:        &broker.MaintenanceInfo{Version: "1.2.0", Description: "PostgreSQL 16.4"},
						CreateSchema:           json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"size":{"type":"string"}}}`),
						UpdateSchema:           json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}`),
						BindSchema:             json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"role":{"type":"string"}}}`),
						BlueprintID:            "pg-small",
						Inputs:                 map[string]any{"vm_size": "small", "admin_password": "plan-secret"},
					},
					{
						ID:           "plan-2",
						Name:         "large",
						Description:  "Three large VMs",
						CreateSchema: json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}`),
						BlueprintID:  "pg-large",
					},
				},
			},
			{
				ID:          "svc-2",
				Name:        "object-store",
				Description: "S3-compatible object store",
				Plans: []broker.Plan{
					{ID: "plan-3", Name: "default", Description: "Default", Free: true, BindSchema: json.RawMessage(` null `)},
				},
			},
		},
	}
}

func TestCatalogETag(t *testing.T) {
	h := newHandler(t, successBroker())
	w := do(t, h, http.MethodGet, "/v2/catalog", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d", w.Code)
	}
	if got := w.Header().Get("ETag"); got != `"cat-v1"` {
		t.Errorf("ETag = %q, want %q", got, `"cat-v1"`)
	}
	// The catalog is larger than net/http's buffer: its length is sent, not chunks.
	if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
		t.Errorf("Content-Length = %q, want %q", got, want)
	}
	tests := []struct {
		ifNoneMatch string
		wantStatus  int
	}{
		{`"cat-v1"`, http.StatusNotModified},
		{`W/"cat-v1"`, http.StatusNotModified},
		{`"other", "cat-v1"`, http.StatusNotModified},
		{`"other",W/"cat-v1"`, http.StatusNotModified},
		{`*`, http.StatusNotModified},
		{`"cat-v0"`, http.StatusOK},
		{`cat-v1`, http.StatusOK},
		{`"cat-v1`, http.StatusOK},
		{`"cat-v1-longer"`, http.StatusOK},
		{`,,`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.ifNoneMatch, func(t *testing.T) {
			w := do(t, h, http.MethodGet, "/v2/catalog", "", withHeader("If-None-Match", tt.ifNoneMatch))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("ETag"); got != `"cat-v1"` {
				t.Errorf("ETag = %q, want %q", got, `"cat-v1"`)
			}
			if tt.wantStatus == http.StatusNotModified && (w.Body.Len() != 0 || w.Header().Get("Content-Length") != "") {
				t.Errorf("304 has a body or a Content-Length: %q, %s", w.Header().Get("Content-Length"), w.Body.Bytes())
			}
		})
	}
}

// TestCatalogCachedPerETag checks that a catalog is rendered once per ETag: the same
// ETag serves the first rendering, a new one renders again.
func TestCatalogCachedPerETag(t *testing.T) {
	var current atomic.Pointer[broker.Catalog]
	set := func(etag, name string) {
		c := broker.Catalog{ETag: etag, Services: []broker.Service{{ID: "svc", Name: name, Plans: []broker.Plan{{ID: "p"}}}}}
		current.Store(&c)
	}
	f := &fakeBroker{CatalogFn: func(context.Context) (broker.Catalog, error) { return *current.Load(), nil }}
	h := newHandler(t, f)
	name := func() (string, string) {
		t.Helper()
		w := do(t, h, http.MethodGet, "/v2/catalog", "")
		var c struct {
			Services []struct{ Name string } `json:"services"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || len(c.Services) != 1 {
			t.Fatalf("catalog %s: %v", w.Body.Bytes(), err)
		}
		return c.Services[0].Name, w.Header().Get("ETag")
	}
	steps := []struct {
		etag, name         string
		wantName, wantETag string
	}{
		{"v1", "first", "first", `"v1"`},
		{"v1", "changed without a new etag", "first", `"v1"`},
		{"v2", "second", "second", `"v2"`},
		{"", "no etag", "no etag", ""},
		{"", "no etag again", "no etag again", ""},
		{`bad"etag`, "unquotable", "unquotable", ""},
		// Catalogs without a usable ETag are not cached and do not evict v2.
		{"v2", "v2 changed without a new etag", "second", `"v2"`},
		{"v3", "third", "third", `"v3"`},
	}
	for i, s := range steps {
		set(s.etag, s.name)
		gotName, gotETag := name()
		if gotName != s.wantName || gotETag != s.wantETag {
			t.Errorf("step %d: served %q with ETag %q, want %q with %q", i, gotName, gotETag, s.wantName, s.wantETag)
		}
	}
}

func TestCatalogHidesPrivateFields(t *testing.T) {
	h := newHandler(t, successBroker())
	w := do(t, h, http.MethodGet, "/v2/catalog", "")
	body := w.Body.String()
	for _, private := range []string{"blueprint_id", "inputs", "credentials", "etag", "synced_at", "pg-blueprint", "pg-small", "plan-secret", "cat-v1"} {
		if strings.Contains(body, private) {
			t.Errorf("catalog body contains %q:\n%s", private, body)
		}
	}
}

func TestCatalogEmpty(t *testing.T) {
	h := newHandler(t, &fakeBroker{})
	w := do(t, h, http.MethodGet, "/v2/catalog", "")
	assertResponse(t, w, http.StatusOK, `{"services":[]}`)
	if got := w.Header().Get("ETag"); got != "" {
		t.Errorf("ETag = %q for a catalog without one", got)
	}
}

func TestCatalogServiceWithoutPlans(t *testing.T) {
	f := &fakeBroker{CatalogFn: func(context.Context) (broker.Catalog, error) {
		return broker.Catalog{ETag: "x", Services: []broker.Service{{ID: "s", Name: "n", Description: "d"}}}, nil
	}}
	w := do(t, newHandler(t, f), http.MethodGet, "/v2/catalog", "")
	assertResponse(t, w, http.StatusOK, `{"services":[{"id":"s","name":"n","description":"d","bindable":false,
		"instances_retrievable":false,"bindings_retrievable":false,"allow_context_updates":false,"plan_updateable":false,"plans":[]}]}`)
}

func TestCatalogBadSchemaIs500(t *testing.T) {
	f := &fakeBroker{CatalogFn: func(context.Context) (broker.Catalog, error) {
		return broker.Catalog{ETag: "x", Services: []broker.Service{{ID: "s", Plans: []broker.Plan{{ID: "p", CreateSchema: json.RawMessage(`{not json`)}}}}}, nil
	}}
	w := do(t, newHandler(t, f), http.MethodGet, "/v2/catalog", "")
	assertResponse(t, w, http.StatusInternalServerError, `{"description":"internal error, correlation id `+generatedID+`"}`)
}
