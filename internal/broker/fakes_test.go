package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// fakeStore is a function-field fake of broker.Store. A nil Get*Fn answers
// broker.ErrNotFound; a nil CommitFn accepts every transaction.
type fakeStore struct {
	GetInstanceFn  func(ctx context.Context, id string) (broker.Instance, error)
	GetOperationFn func(ctx context.Context, id string) (broker.Operation, error)
	GetBindingFn   func(ctx context.Context, instanceID, bindingID string) (broker.Binding, error)
	CommitFn       func(ctx context.Context, tx broker.Tx) error
}

var _ broker.Store = (*fakeStore)(nil)

func (f *fakeStore) GetInstance(ctx context.Context, id string) (broker.Instance, error) {
	if f.GetInstanceFn == nil {
		return broker.Instance{}, broker.ErrNotFound
	}
	return f.GetInstanceFn(ctx, id)
}

func (f *fakeStore) GetOperation(ctx context.Context, id string) (broker.Operation, error) {
	if f.GetOperationFn == nil {
		return broker.Operation{}, broker.ErrNotFound
	}
	return f.GetOperationFn(ctx, id)
}

func (f *fakeStore) GetBinding(ctx context.Context, instanceID, bindingID string) (broker.Binding, error) {
	if f.GetBindingFn == nil {
		return broker.Binding{}, broker.ErrNotFound
	}
	return f.GetBindingFn(ctx, instanceID, bindingID)
}

func (f *fakeStore) Commit(ctx context.Context, tx broker.Tx) error {
	if f.CommitFn == nil {
		return nil
	}
	return f.CommitFn(ctx, tx)
}

// statusStore is a fakeStore with the optional broker.StatusReader capability. A nil
// OperationStatusFn answers broker.ErrNotFound.
type statusStore struct {
	*fakeStore
	OperationStatusFn func(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error)
}

var _ broker.StatusReader = (*statusStore)(nil)

func (f *statusStore) OperationStatus(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error) {
	if f.OperationStatusFn == nil {
		return broker.OperationStatus{}, broker.ErrNotFound
	}
	return f.OperationStatusFn(ctx, instanceID, operationID)
}

// fakeCatalog is a function-field fake of broker.CatalogReader. A nil GetCatalogFn
// answers broker.ErrNotFound (no catalog synced yet).
type fakeCatalog struct {
	GetCatalogFn func(ctx context.Context) (broker.Catalog, error)
}

func (f *fakeCatalog) GetCatalog(ctx context.Context) (broker.Catalog, error) {
	if f.GetCatalogFn == nil {
		return broker.Catalog{}, broker.ErrNotFound
	}
	return f.GetCatalogFn(ctx)
}

// fakeStarter is a function-field fake of broker.Starter. A nil StartFn accepts.
type fakeStarter struct {
	StartFn func(ctx context.Context, op broker.Operation) error
}

func (f *fakeStarter) Start(ctx context.Context, op broker.Operation) error {
	if f.StartFn == nil {
		return nil
	}
	return f.StartFn(ctx, op)
}

// fakeCreds is a function-field fake of broker.CredentialsReader. A nil
// DeploymentValuesFn answers no capabilities and no outputs.
type fakeCreds struct {
	DeploymentValuesFn func(ctx context.Context, deploymentID string) (map[string]any, map[string]any, error)
	// BindingSecretFn nil answers that there is no such secret.
	BindingSecretFn func(ctx context.Context, key string) (map[string]any, error)
}

func (f *fakeCreds) BindingSecret(ctx context.Context, key string) (map[string]any, error) {
	if f.BindingSecretFn == nil {
		return nil, fmt.Errorf("fake: secret %s: %w", key, broker.ErrNotFound)
	}
	return f.BindingSecretFn(ctx, key)
}

func (f *fakeCreds) DeploymentValues(ctx context.Context, deploymentID string) (map[string]any, map[string]any, error) {
	if f.DeploymentValuesFn == nil {
		return nil, nil, nil
	}
	return f.DeploymentValuesFn(ctx, deploymentID)
}

// fakeSealer is a function-field fake of broker.Sealer. Nil fields seal reversibly
// with sealPrefix, so that a test sees both that a value was sealed and what it was.
type fakeSealer struct {
	SealFn func(plaintext []byte) ([]byte, error)
	OpenFn func(sealed []byte) ([]byte, error)
}

const sealPrefix = "sealed:"

func (f *fakeSealer) Seal(plaintext []byte) ([]byte, error) {
	if f.SealFn == nil {
		return append([]byte(sealPrefix), plaintext...), nil
	}
	return f.SealFn(plaintext)
}

func (f *fakeSealer) Open(sealed []byte) ([]byte, error) {
	if f.OpenFn == nil {
		plain, ok := bytes.CutPrefix(sealed, []byte(sealPrefix))
		if !ok {
			return nil, errors.New("not sealed by this key")
		}
		return plain, nil
	}
	return f.OpenFn(sealed)
}

// memState is broker state in memory behind a fakeStore's functions, with the
// conditional writes of broker.Tx. Commits holds a copy of every transaction that
// was applied, in order.
type memState struct {
	mu         sync.Mutex
	instances  map[string]broker.Instance
	operations map[string]broker.Operation
	bindings   map[[2]string]broker.Binding
	commits    []appliedTx
}

// appliedTx is a copy of an applied broker.Tx, as written (Versions before the write).
type appliedTx struct {
	Instances      []broker.Instance
	Operations     []broker.Operation
	Bindings       []broker.Binding
	DeleteBindings []broker.Binding
}

// wire points the store's nil function fields at the state.
func (m *memState) wire(s *fakeStore) {
	s.GetInstanceFn = func(_ context.Context, id string) (broker.Instance, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		inst, ok := m.instances[id]
		if !ok {
			return broker.Instance{}, fmt.Errorf("instance %s: %w", id, broker.ErrNotFound)
		}
		return inst, nil
	}
	s.GetOperationFn = func(_ context.Context, id string) (broker.Operation, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		op, ok := m.operations[id]
		if !ok {
			return broker.Operation{}, fmt.Errorf("operation %s: %w", id, broker.ErrNotFound)
		}
		return op, nil
	}
	s.GetBindingFn = func(_ context.Context, instanceID, bindingID string) (broker.Binding, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		b, ok := m.bindings[[2]string{instanceID, bindingID}]
		if !ok {
			return broker.Binding{}, fmt.Errorf("binding %s: %w", bindingID, broker.ErrNotFound)
		}
		return b, nil
	}
	s.CommitFn = m.commit
}

// commit applies tx under the conditions of broker.Tx.
func (m *memState) commit(_ context.Context, tx broker.Tx) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	check := func(kind, id string, stored, want int64, exists bool) error {
		if want == 0 && exists || want != 0 && (!exists || stored != want) {
			return fmt.Errorf("%s %s at version %d: %w", kind, id, want, broker.ErrConflict)
		}
		return nil
	}
	for _, i := range tx.Instances {
		cur, ok := m.instances[i.ID]
		if err := check("instance", i.ID, cur.Version, i.Version, ok); err != nil {
			return err
		}
	}
	for _, o := range tx.Operations {
		cur, ok := m.operations[o.ID]
		if err := check("operation", o.ID, cur.Version, o.Version, ok); err != nil {
			return err
		}
	}
	for _, b := range tx.Bindings {
		cur, ok := m.bindings[[2]string{b.InstanceID, b.ID}]
		if err := check("binding", b.ID, cur.Version, b.Version, ok); err != nil {
			return err
		}
	}
	for _, b := range tx.DeleteBindings {
		cur, ok := m.bindings[[2]string{b.InstanceID, b.ID}]
		if !ok || cur.Version != b.Version {
			return fmt.Errorf("binding %s: %w", b.ID, broker.ErrConflict)
		}
	}
	var applied appliedTx
	for _, i := range tx.Instances {
		applied.Instances = append(applied.Instances, *i)
		i.Version++
		m.instances[i.ID] = *i
	}
	for _, o := range tx.Operations {
		applied.Operations = append(applied.Operations, *o)
		o.Version++
		m.operations[o.ID] = *o
	}
	for _, b := range tx.Bindings {
		applied.Bindings = append(applied.Bindings, *b)
		b.Version++
		m.bindings[[2]string{b.InstanceID, b.ID}] = *b
	}
	for _, b := range tx.DeleteBindings {
		applied.DeleteBindings = append(applied.DeleteBindings, *b)
		delete(m.bindings, [2]string{b.InstanceID, b.ID})
	}
	m.commits = append(m.commits, applied)
	return nil
}

// t0 is the fake clock's time.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// env is the use cases over fakes, with their observations.
type env struct {
	uc      *broker.UseCases
	store   *fakeStore
	mem     *memState
	catalog *fakeCatalog
	starter *fakeStarter
	creds   *fakeCreds
	sealer  *fakeSealer
	// started lists the operations handed to the starter, in order.
	started []broker.Operation
	// now is what the fake clock answers.
	now time.Time
	log *bytes.Buffer
	// statusFn, when set, gives the store the broker.StatusReader capability.
	statusFn func(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error)
}

// envOpt changes the env before the use cases are built.
type envOpt func(*env, *broker.Config)

// withStatusReader gives the store the broker.StatusReader capability, with fn.
func withStatusReader(fn func(ctx context.Context, instanceID, operationID string) (broker.OperationStatus, error)) envOpt {
	return func(e *env, _ *broker.Config) {
		e.statusFn = fn
	}
}

// newEnv returns use cases over an empty in-memory store, the testCatalog, a starter
// that records what it starts, and a fake clock at t0. Operation ids are
// "<type>-id-1", "<type>-id-2", ...
func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	e := &env{
		store:   &fakeStore{},
		mem:     &memState{instances: map[string]broker.Instance{}, operations: map[string]broker.Operation{}, bindings: map[[2]string]broker.Binding{}},
		catalog: &fakeCatalog{GetCatalogFn: func(context.Context) (broker.Catalog, error) { return testCatalog(), nil }},
		creds:   &fakeCreds{},
		sealer:  &fakeSealer{},
		now:     t0,
		log:     &bytes.Buffer{},
	}
	e.mem.wire(e.store)
	e.starter = &fakeStarter{StartFn: func(_ context.Context, op broker.Operation) error {
		e.started = append(e.started, op)
		return nil
	}}
	n := 0
	cfg := broker.Config{
		DashboardURL: func(dep string) string { return "https://cfy.example/deployments/" + dep },
		Now:          func() time.Time { return e.now },
		NewID:        func() string { n++; return fmt.Sprintf("id-%d", n) },
		Logger:       slog.New(slog.NewTextHandler(e.log, nil)),
	}
	for _, o := range opts {
		o(e, &cfg)
	}
	var store broker.Store = e.store
	if e.statusFn != nil {
		store = &statusStore{fakeStore: e.store, OperationStatusFn: e.statusFn}
	}
	e.uc = broker.New(store, e.catalog, e.starter, e.creds, e.sealer, cfg)
	return e
}

// Catalog ids of testCatalog.
const (
	serviceID   = "svc-db"
	planSmall   = "plan-small" // updateable (plan override), bindable, maintenance 1.2.0, schemas
	planLarge   = "plan-large" // another blueprint, maintenance 1.3.0, 600 s deadline
	planFixed   = "plan-fixed" // not updateable, not bindable, no maintenance_info
	createRules = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","additionalProperties":false,
		"properties":{"name":{"type":"string","pattern":"^[a-z]+$"},"node_count":{"type":"integer","minimum":1,"maximum":9}}}`
	updateRules = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","additionalProperties":false,
		"properties":{"node_count":{"type":"integer","minimum":1,"maximum":5}}}`
	bindRules = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","additionalProperties":false,
		"properties":{"role":{"enum":["reader","writer"]}}}`
)

// testCatalog is one service with three plans (see the plan constants). The service
// is bindable and its plans are not updateable unless the plan says so.
func testCatalog() broker.Catalog {
	yes, no := true, false
	return broker.Catalog{ETag: "etag-1", SyncedAt: t0, Services: []broker.Service{{
		ID: serviceID, Name: "mysql", Description: "MySQL", Bindable: true, BlueprintID: "bp-mysql",
		Credentials: []broker.CredentialField{{Key: "host"}, {Key: "password", Source: "output", Secret: true}},
		Plans: []broker.Plan{
			{
				ID: planSmall, Name: "small", BlueprintID: "bp-mysql", PlanUpdateable: &yes,
				MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.2.0"},
				CreateSchema:    json.RawMessage(createRules), UpdateSchema: json.RawMessage(updateRules), BindSchema: json.RawMessage(bindRules),
				Inputs: map[string]any{"size": "small"},
			},
			{
				ID: planLarge, Name: "large", BlueprintID: "bp-mysql-ha", MaximumPollingDuration: 600,
				MaintenanceInfo: &broker.MaintenanceInfo{Version: "1.3.0"},
				Inputs:          map[string]any{"size": "large"},
			},
			{ID: planFixed, Name: "fixed", BlueprintID: "bp-mysql", Bindable: &no},
		},
	}}}
}

// provisionRequest is a valid provision of instance inst-1 on the small plan; mods
// change it.
func provisionRequest(mods ...func(*broker.ProvisionRequest)) broker.ProvisionRequest {
	req := broker.ProvisionRequest{
		RequestInfo:       broker.RequestInfo{APIVersion: "2.17", RequestID: "req-1", Identity: broker.Identity{Platform: "cloudfoundry", User: "u-1"}},
		InstanceID:        "inst-1",
		ServiceID:         serviceID,
		PlanID:            planSmall,
		OrganizationGUID:  "org-1",
		SpaceGUID:         "space-1",
		Context:           json.RawMessage(`{"platform":"cloudfoundry"}`),
		Parameters:        json.RawMessage(`{"name":"abc","node_count":3}`),
		MaintenanceInfo:   &broker.MaintenanceInfo{Version: "1.2.0"},
		AcceptsIncomplete: true,
	}
	for _, m := range mods {
		m(&req)
	}
	return req
}

// put stores records as they are (Version included), bypassing Commit.
func (e *env) put(records ...any) {
	e.mem.mu.Lock()
	defer e.mem.mu.Unlock()
	for _, r := range records {
		switch r := r.(type) {
		case broker.Instance:
			e.mem.instances[r.ID] = r
		case broker.Operation:
			e.mem.operations[r.ID] = r
		case broker.Binding:
			e.mem.bindings[[2]string{r.InstanceID, r.ID}] = r
		default:
			panic(fmt.Sprintf("put %T", r))
		}
	}
}

// instance returns the stored instance, failing the test when there is none.
func (e *env) instance(t *testing.T, id string) broker.Instance {
	t.Helper()
	inst, err := e.store.GetInstance(context.Background(), id)
	if err != nil {
		t.Fatalf("stored instance %s: %v", id, err)
	}
	return inst
}

// operation returns the stored operation, failing the test when there is none.
func (e *env) operation(t *testing.T, id string) broker.Operation {
	t.Helper()
	op, err := e.store.GetOperation(context.Background(), id)
	if err != nil {
		t.Fatalf("stored operation %s: %v", id, err)
	}
	return op
}

// commits returns the transactions applied so far.
func (e *env) commits() []appliedTx {
	e.mem.mu.Lock()
	defer e.mem.mu.Unlock()
	return append([]appliedTx(nil), e.mem.commits...)
}

// mustProvision provisions and fails the test on an error.
func mustProvision(t *testing.T, e *env, req broker.ProvisionRequest) broker.ProvisionResult {
	t.Helper()
	res, err := e.uc.Provision(context.Background(), req)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return res
}

// finish ends the instance's current operation as the workflow engine would: the
// operation in state, the instance ready (succeeded), failed (failed provision) or
// gone (succeeded deprovision).
func finish(t *testing.T, e *env, instanceID string, state broker.OperationState) {
	t.Helper()
	inst := e.instance(t, instanceID)
	op := e.operation(t, inst.OperationID)
	op.State, op.EndedAt = state, e.now
	inst.OperationState = state
	switch {
	case op.Type == broker.OpDeprovision && state == broker.StateSucceeded:
		inst.State = broker.InstanceGone
	case op.Type == broker.OpProvision && state == broker.StateFailed:
		inst.State = broker.InstanceFailed
	case state == broker.StateSucceeded:
		inst.State = broker.InstanceReady
		if op.PlanID != "" {
			inst.PlanID = op.PlanID
		}
		if op.BlueprintID != "" {
			inst.BlueprintID = op.BlueprintID
		}
		inst.MaintenanceVersion = op.MaintenanceVersion
	}
	op.Version++
	inst.Version++
	e.put(inst, op)
}

// readyInstance provisions inst-1 with provisionRequest and finishes the provision.
func readyInstance(t *testing.T, e *env) broker.Instance {
	t.Helper()
	mustProvision(t, e, provisionRequest())
	finish(t, e, "inst-1", broker.StateSucceeded)
	return e.instance(t, "inst-1")
}

// wantCode fails the test unless err carries the domain error code want.
func wantCode(t *testing.T, err error, want broker.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with code %q", want)
	}
	if got := broker.ErrorCode(err); got != want {
		t.Fatalf("error %q has code %q, want %q", err, got, want)
	}
}

// wantMessage fails the test unless the domain error's message holds every part.
func wantMessage(t *testing.T, err error, parts ...string) {
	t.Helper()
	msg := broker.ErrorMessage(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q does not say %q", msg, p)
		}
	}
}

// mark is how much the env had seen at one moment (see wantNoWrites).
type mark struct{ commits, started int }

// mark returns what the env has seen so far.
func (e *env) mark() mark { return mark{len(e.commits()), len(e.started)} }

// wantNoWrites fails the test when a transaction was applied or an operation started
// since m.
func (e *env) wantNoWrites(t *testing.T, m mark) {
	t.Helper()
	if got := e.mark(); got != m {
		t.Errorf("since the mark: %d transactions applied and %d operations started, want none",
			got.commits-m.commits, got.started-m.started)
	}
}

// opened returns the JSON object a fakeSealer sealed, failing the test when the
// bytes are not sealed.
func opened(t *testing.T, sealed []byte) map[string]any {
	t.Helper()
	if sealed == nil {
		return nil
	}
	plain, ok := bytes.CutPrefix(sealed, []byte(sealPrefix))
	if !ok {
		t.Fatalf("%q is not sealed", sealed)
	}
	var m map[string]any
	if err := json.Unmarshal(plain, &m); err != nil {
		t.Fatalf("sealed %q: %v", plain, err)
	}
	return m
}

// wantFault fails the test unless err is a fault as the package documents them: it
// matches cause, has no domain code (the OSB surface answers 500), and was wrapped
// exactly once, with the "broker: " prefix.
func wantFault(t *testing.T, err, cause error) {
	t.Helper()
	if !errors.Is(err, cause) {
		t.Fatalf("error %v does not match %v", err, cause)
	}
	if code := broker.ErrorCode(err); code != "" {
		t.Errorf("fault %q has the domain code %q", err, code)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "broker: ") || strings.Count(msg, "broker: ") != 1 {
		t.Errorf("fault %q: want one \"broker: \" prefix", msg)
	}
}
