package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// fakeSource is a BlueprintSource with a function field.
type fakeSource struct {
	ListBlueprintsFn func(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Blueprint, error)
}

func (f *fakeSource) ListBlueprints(ctx context.Context, opts cloudify.ListOptions) ([]cloudify.Blueprint, error) {
	return f.ListBlueprintsFn(ctx, opts)
}

// memStore is an in-memory broker.CatalogStore.
type memStore struct {
	catalog    *broker.Catalog
	overlay    []byte
	getErr     error
	putErr     error
	putCatalog int
}

var _ broker.CatalogStore = (*memStore)(nil)

func (m *memStore) GetCatalog(context.Context) (broker.Catalog, error) {
	if m.getErr != nil {
		return broker.Catalog{}, m.getErr
	}
	if m.catalog == nil {
		return broker.Catalog{}, broker.ErrNotFound
	}
	return *m.catalog, nil
}

func (m *memStore) PutCatalog(_ context.Context, c broker.Catalog) error {
	if m.putErr != nil {
		return m.putErr
	}
	m.putCatalog++
	m.catalog = &c
	return nil
}

func (m *memStore) GetOverlay(context.Context) ([]byte, error) {
	if m.overlay == nil {
		return nil, broker.ErrNotFound
	}
	return m.overlay, nil
}

func (m *memStore) PutOverlay(_ context.Context, doc []byte) error {
	m.overlay = doc
	return nil
}

func TestSync(t *testing.T) {
	var gotOpts cloudify.ListOptions
	src := &fakeSource{ListBlueprintsFn: func(_ context.Context, opts cloudify.ListOptions) ([]cloudify.Blueprint, error) {
		gotOpts = opts
		return testBlueprints(), nil
	}}
	store := &memStore{overlay: []byte(testOverlayDoc)}
	var progress []string
	s := &Syncer{Source: src, Store: store, Options: testOptions(), Progress: func(done, total int) {
		progress = append(progress, strings.Repeat("#", done)+strings.Repeat(".", total-done))
	}}
	cat, warns, err := s.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, wantWarns := mustBuild(t, testBlueprints(), mustParseOverlay(t, testOverlayDoc), testOptions())
	if diff := cmp.Diff(want, cat); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantWarns, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, *store.catalog); diff != "" {
		t.Errorf("stored catalog (-want +got):\n%s", diff)
	}
	wantInclude := []string{"id", "description", "plan", "tenant_name", "visibility", "created_at", "state", "is_hidden", "labels"}
	if diff := cmp.Diff(wantInclude, gotOpts.Include); diff != "" {
		t.Errorf("_include (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{".....", "#....", "##...", "###..", "####.", "#####"}, progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}

func TestSyncNoOverlay(t *testing.T) {
	src := &fakeSource{ListBlueprintsFn: func(context.Context, cloudify.ListOptions) ([]cloudify.Blueprint, error) {
		return testBlueprints(), nil
	}}
	store := &memStore{}
	cat, _, err := (&Syncer{Source: src, Store: store, Options: testOptions()}).Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Services) != 7 || store.putCatalog != 1 {
		t.Errorf("%d services, %d puts", len(cat.Services), store.putCatalog)
	}
}

func TestSyncKeepsNamesOfPreviousCatalog(t *testing.T) {
	bps := []cloudify.Blueprint{{ID: "a_b", State: "uploaded"}}
	src := &fakeSource{ListBlueprintsFn: func(context.Context, cloudify.ListOptions) ([]cloudify.Blueprint, error) { return bps, nil }}
	store := &memStore{}
	s := &Syncer{Source: src, Store: store, Options: testOptions()}
	if _, _, err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	bps = append(bps, cloudify.Blueprint{ID: "a-b", State: "uploaded"}) // sorts first
	cat, _, err := s.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, svc := range cat.Services {
		got[svc.BlueprintID] = svc.Name
	}
	if diff := cmp.Diff(map[string]string{"a_b": "a-b", "a-b": "a-b-2"}, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestSyncFailuresKeepPreviousCatalog(t *testing.T) {
	errList := errors.New("manager down")
	errStore := errors.New("disk full")
	tests := []struct {
		name    string
		list    error
		overlay string
		putErr  error
		getErr  error
		want    string
		is      error
	}{
		{name: "list fails", list: errList, want: "catalog: sync: list blueprints: manager down", is: errList},
		{name: "bad overlay", overlay: "services:\n  a: {nme: x}\n", want: `catalog: sync: overlay.yaml:2: services.a: unknown field "nme" (did you mean "name"?)`},
		{name: "build fails", overlay: "services:\n  mariadb:\n    plans: [{name: p, inputs: {nope: 1}}]\n", want: `catalog: sync: overlay.yaml:3: services.mariadb.plans[0].inputs: unknown input "nope" of blueprint mariadb`},
		{name: "store fails", putErr: errStore, want: "catalog: sync: store catalog: disk full", is: errStore},
		{name: "read fails", getErr: errStore, want: "catalog: sync: read catalog: disk full", is: errStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := broker.Catalog{ETag: "previous"}
			store := &memStore{catalog: &prev, putErr: tt.putErr, getErr: tt.getErr}
			if tt.overlay != "" {
				store.overlay = []byte(tt.overlay)
			}
			src := &fakeSource{ListBlueprintsFn: func(context.Context, cloudify.ListOptions) ([]cloudify.Blueprint, error) {
				if tt.list != nil {
					return nil, tt.list
				}
				return testBlueprints(), nil
			}}
			_, _, err := (&Syncer{Source: src, Store: store, Options: testOptions()}).Sync(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error does not wrap %v", tt.is)
			}
			if store.catalog.ETag != "previous" {
				t.Error("the previous catalog was replaced")
			}
		})
	}
}

func TestBlueprintFields(t *testing.T) {
	tests := map[string][]string{
		"4.6":   {"id", "description", "plan", "tenant_name", "visibility", "created_at"},
		"5.1.1": {"id", "description", "plan", "tenant_name", "visibility", "created_at"},
		"5.2":   {"id", "description", "plan", "tenant_name", "visibility", "created_at", "state", "is_hidden"},
		"6.4.2": {"id", "description", "plan", "tenant_name", "visibility", "created_at", "state", "is_hidden", "labels"},
		"":      {"id", "description", "plan", "tenant_name", "visibility", "created_at", "state", "is_hidden", "labels"},
	}
	for v, want := range tests {
		if diff := cmp.Diff(want, BlueprintFields(v)); diff != "" {
			t.Errorf("BlueprintFields(%q) (-want +got):\n%s", v, diff)
		}
	}
}
