package broker_test

// Handler cost: the OSB handler (internal/osb) over the broker's use cases and the
// embedded store (bbolt, fsync on every commit), wired as `cfybroker serve` wires them,
// called without the network. The catalog is the one the catalog sync builds from the
// simulator's sample blueprints. What is left out: the network, the workflow driver
// (a Starter that does nothing) and Cloudify (bind's credentials come from memory:
// in the running broker they are one Cloudify round trip, which the load test and the
// lifecycle counts cover).
//
// Run with: go test -run '^$' -bench EmbeddedHandler -benchmem ./internal/broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/cfybroker/cfybroker/internal/seal"
	"github.com/cfybroker/cfybroker/internal/store/boltstore"
)

const (
	benchUser = "platform"
	benchPass = "bench-pw"
)

// benchStarter stands in for the workflow driver: operations stay in progress.
type benchStarter struct{}

func (benchStarter) Start(context.Context, broker.Operation) error { return nil }

// benchValues are a deployment's capabilities and outputs, from memory.
type benchValues struct{}

func (benchValues) DeploymentValues(context.Context, string) (map[string]any, map[string]any, error) {
	return map[string]any{"host": "10.0.0.7", "port": 3306, "username": "dbadmin", "password": "Passw0rd-x", "database": "app"}, nil, nil
}

func (benchValues) BindingSecret(context.Context, string) (map[string]any, error) {
	return map[string]any{"username": "u", "password": "p"}, nil
}

// benchDiscard is a ResponseWriter that keeps nothing, so that the benchmarks measure
// the handler rather than a recorder.
type benchDiscard struct {
	header http.Header
	status int
}

func (w *benchDiscard) Header() http.Header         { return w.header }
func (w *benchDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchDiscard) WriteHeader(status int)      { w.status = status }

// benchEnv is the handler with its store, a ready instance (for bind) and an instance
// whose provision is in progress (for last_operation).
type benchEnv struct {
	h                  http.Handler
	db                 *boltstore.DB
	serviceID, planID  string
	polledID, polledOp string
	readyID            string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	sim := cloudifysim.New(cloudifysim.Config{Version: "7.0.4", Users: map[string]string{"admin": "admin"}, LoadSamples: true})
	ts := httptest.NewServer(sim)
	b.Cleanup(ts.Close)
	client, err := cloudify.New(ts.URL, cloudify.WithBasicAuth("admin", "admin"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "cfybroker.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	// The bind measured is the synchronous one of shared credentials (as in the
	// lifecycle bench): mariadb's bind workflows are left unused.
	if err := db.PutOverlay(ctx, []byte("version: 1\nservices:\n  mariadb:\n    bindings: shared\n")); err != nil {
		b.Fatal(err)
	}
	syncer := &catalog.Syncer{Source: client, Store: db, Options: catalog.BuildOptions{ManagerURL: "builtin-cloudify-simulator", Tenant: "default_tenant"}}
	cat, _, err := syncer.Sync(ctx)
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	// As serve logs (written nowhere here): one info line per request, but a poll that
	// repeats its previous answer (the repeated catalog and last_operation below) at debug.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	uc := broker.New(db, db, benchStarter{}, benchValues{}, sealer, broker.Config{Logger: log})
	env := &benchEnv{
		h:  osb.NewHandler(uc, osb.Config{Credentials: []osb.Credential{{Username: benchUser, Password: benchPass}}, Logger: log}),
		db: db,
	}
	for _, s := range cat.Services {
		if s.Name == "mariadb" {
			env.serviceID, env.planID = s.ID, s.Plans[0].ID
		}
	}
	if env.serviceID == "" {
		b.Fatal("no mariadb service in the catalog")
	}
	env.polledID, env.readyID = "bench-polled", "bench-ready"
	env.polledOp = env.provision(b, env.polledID)
	env.provision(b, env.readyID)
	inst, err := db.GetInstance(ctx, env.readyID)
	if err != nil {
		b.Fatal(err)
	}
	op, err := db.GetOperation(ctx, inst.OperationID)
	if err != nil {
		b.Fatal(err)
	}
	inst.State, inst.OperationState = broker.InstanceReady, broker.StateSucceeded
	op.State, op.Description = broker.StateSucceeded, "deployment osb-bench-ready installed"
	if err := db.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&inst}, Operations: []*broker.Operation{&op}}); err != nil {
		b.Fatal(err)
	}
	return env
}

func (e *benchEnv) provisionBody() string {
	return `{"service_id":"` + e.serviceID + `","plan_id":"` + e.planID + `","organization_guid":"org-1","space_guid":"space-1",` +
		`"context":{"platform":"cloudfoundry","organization_guid":"org-1","space_guid":"space-1"},` +
		`"parameters":{"admin_password":"Passw0rd-x","db_name":"orders"}}`
}

func (e *benchEnv) bindBody() string {
	return `{"service_id":"` + e.serviceID + `","plan_id":"` + e.planID + `","bind_resource":{"app_guid":"app-1"}}`
}

// provision records a provision through the handler and returns its operation.
func (e *benchEnv) provision(b *testing.B, id string) string {
	b.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, benchRequest(http.MethodPut, "/v2/service_instances/"+id+"?accepts_incomplete=true", e.provisionBody()))
	if w.Code != http.StatusAccepted {
		b.Fatalf("provision %s: %d %s", id, w.Code, w.Body)
	}
	var resp struct {
		Operation string `json:"operation"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		b.Fatal(err)
	}
	return resp.Operation
}

func benchRequest(method, target, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.SetBasicAuth(benchUser, benchPass)
	r.Header.Set("X-Broker-API-Version", "2.17")
	r.Header.Set("X-Broker-API-Request-Identity", "9f1c2b7e-5d4a-4c3b-8a29-0e6f7d8c9b01")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// serveRepeat serves the same request b.N times.
func (e *benchEnv) serveRepeat(b *testing.B, r *http.Request, want int) {
	w := &benchDiscard{header: make(http.Header, 8)}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.header)
		e.h.ServeHTTP(w, r)
		if w.status != want {
			b.Fatalf("status = %d, want %d", w.status, want)
		}
	}
}

// serveEach serves b.N requests made by mk, built before the timer starts, so that
// building them is not counted.
func (e *benchEnv) serveEach(b *testing.B, mk func(i int) *http.Request, want int) {
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = mk(i)
	}
	w := &benchDiscard{header: make(http.Header, 8)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.header)
		e.h.ServeHTTP(w, reqs[i])
		if w.status != want {
			b.Fatalf("status = %d, want %d", w.status, want)
		}
	}
}

// BenchmarkEmbeddedHandler is the handler cost per request of the embedded shape.
func BenchmarkEmbeddedHandler(b *testing.B) {
	env := newBenchEnv(b)
	b.Run("catalog", func(b *testing.B) {
		env.serveRepeat(b, benchRequest(http.MethodGet, "/v2/catalog", ""), http.StatusOK)
	})
	b.Run("last_operation", func(b *testing.B) {
		target := fmt.Sprintf("/v2/service_instances/%s/last_operation?service_id=%s&plan_id=%s&operation=%s",
			env.polledID, env.serviceID, env.planID, env.polledOp)
		env.serveRepeat(b, benchRequest(http.MethodGet, target, ""), http.StatusOK)
	})
	// A platform that ignores OSB's operation field polls the instance alone.
	b.Run("last_operation_unnamed", func(b *testing.B) {
		target := fmt.Sprintf("/v2/service_instances/%s/last_operation?service_id=%s&plan_id=%s",
			env.polledID, env.serviceID, env.planID)
		env.serveRepeat(b, benchRequest(http.MethodGet, target, ""), http.StatusOK)
	})
	round := 0
	b.Run("provision", func(b *testing.B) {
		round++
		body := env.provisionBody()
		env.serveEach(b, func(i int) *http.Request {
			return benchRequest(http.MethodPut, fmt.Sprintf("/v2/service_instances/p-%d-%d?accepts_incomplete=true", round, i), body)
		}, http.StatusAccepted)
	})
	b.Run("bind", func(b *testing.B) {
		round++
		body := env.bindBody()
		env.serveEach(b, func(i int) *http.Request {
			return benchRequest(http.MethodPut, fmt.Sprintf("/v2/service_instances/%s/service_bindings/b-%d-%d", env.readyID, round, i), body)
		}, http.StatusCreated)
	})
}
