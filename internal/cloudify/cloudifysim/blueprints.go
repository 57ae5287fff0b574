package cloudifysim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed blueprints/*.json
var sampleFS embed.FS

// Sample blueprint ids, as shipped in blueprints/*.json.
const (
	// SampleMariaDB is a MariaDB database: constraints of every common kind,
	// a required admin_password, a hidden input, capabilities and outputs.
	SampleMariaDB = "mariadb"
	// SampleMariaDBv2 is a newer MariaDB blueprint for plan-change tests.
	SampleMariaDBv2 = "mariadb-v2"
	// SampleRedis is a cache with enum memory sizes and a boolean input.
	SampleRedis = "redis-cache"
	// SampleS3 is an object-store bucket with a list-of-strings input.
	SampleS3 = "s3-bucket"
	// SampleRequiredInput has exactly one required input and no default.
	SampleRequiredInput = "required-input"
	// SampleFailingInstall fails its install workflow with a traceback.
	SampleFailingInstall = "failing-install"
	// SampleBrokenUpload is in state failed_parsing and cannot be deployed.
	SampleBrokenUpload = "broken-upload"
)

// SampleBlueprints returns the embedded sample fixtures, sorted by file name.
// Each is the blueprint resource as a manager returns it, plus an optional
// simulator-only "x-sim" block.
func SampleBlueprints() []json.RawMessage {
	entries, err := sampleFS.ReadDir("blueprints")
	if err != nil {
		return nil
	}
	var out []json.RawMessage
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := sampleFS.ReadFile("blueprints/" + e.Name())
		if err != nil {
			continue
		}
		out = append(out, json.RawMessage(b))
	}
	return out
}

// SampleBlueprintIDs returns the ids of the embedded samples, sorted.
func SampleBlueprintIDs() []string {
	var ids []string
	for _, raw := range SampleBlueprints() {
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &head) == nil && head.ID != "" {
			ids = append(ids, head.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// blueprint is a stored blueprint: the fixture's resource fields and its
// simulator block.
type blueprint struct {
	id        string
	raw       map[string]any // resource fields from the fixture, x-sim removed
	plan      map[string]any // nil when the fixture has none (failed uploads)
	state     string
	createdAt time.Time
	seq       int64
	sim       simBlock
}

// simBlock is the fixture's "x-sim" block.
type simBlock struct {
	durations     map[string]time.Duration
	failWorkflows map[string]bool
	errText       string
	hang          map[string]string // workflow -> "pending"|"started"
	runtime       map[string]map[string]any
	nodes         []simNode
	effects       map[string]workflowEffect // custom workflow -> effect
}

// simNode describes one node of the blueprint for the node-instance model.
type simNode struct {
	ID             string `json:"id"`
	Instances      int    `json:"instances"`
	InstancesInput string `json:"instances_input"`
}

// rawSimBlock is the JSON form of simBlock.
type rawSimBlock struct {
	Durations         map[string]json.RawMessage `json:"durations"`
	FailWorkflows     []string                   `json:"fail_workflows"`
	Error             string                     `json:"error"`
	HangWorkflows     map[string]string          `json:"hang_workflows"`
	RuntimeAttributes map[string]map[string]any  `json:"runtime_attributes"`
	Nodes             []simNode                  `json:"nodes"`
	WorkflowEffects   map[string]workflowEffect  `json:"workflow_effects"`
}

// decodeJSON decodes b keeping numbers as json.Number, so that 3 and 3.0 stay
// distinguishable as the manager's Python parser distinguishes them.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// parseDuration reads "5s", "1500ms" or a number of milliseconds.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return time.ParseDuration(s)
	}
	var ms float64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return 0, fmt.Errorf("duration must be a string like \"5s\" or milliseconds: %s", raw)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// parseBlueprint turns a fixture into a blueprint.
func parseBlueprint(raw []byte) (*blueprint, error) {
	var m map[string]any
	if err := decodeJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("blueprint fixture: %w", err)
	}
	if m == nil {
		return nil, errors.New("blueprint fixture: not a JSON object")
	}
	id, _ := m["id"].(string)
	if id == "" {
		return nil, errors.New("blueprint fixture: missing string \"id\"")
	}
	bp := &blueprint{id: id, raw: m, state: "uploaded"}
	if st, ok := m["state"].(string); ok && st != "" {
		bp.state = st
	}
	if p, ok := m["plan"]; ok && p != nil {
		plan, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("blueprint %s: \"plan\" must be an object", id)
		}
		bp.plan = plan
		for _, key := range []string{"inputs", "outputs", "capabilities", "workflows", "data_types"} {
			if v, ok := plan[key]; ok && v != nil {
				if _, ok := v.(map[string]any); !ok {
					return nil, fmt.Errorf("blueprint %s: plan.%s must be an object", id, key)
				}
			}
		}
		for name, def := range asMap(plan["inputs"]) {
			if _, ok := def.(map[string]any); !ok {
				return nil, fmt.Errorf("blueprint %s: input %s must be an object", id, name)
			}
		}
	}
	if ts, ok := m["created_at"].(string); ok {
		if t, err := parseTimestamp(ts); err == nil {
			bp.createdAt = t
		}
	}
	if xs, ok := m["x-sim"]; ok {
		delete(m, "x-sim")
		b, _ := json.Marshal(xs)
		var rs rawSimBlock
		if err := decodeJSON(b, &rs); err != nil {
			return nil, fmt.Errorf("blueprint %s: x-sim: %w", id, err)
		}
		bp.sim.errText = rs.Error
		bp.sim.runtime = rs.RuntimeAttributes
		bp.sim.nodes = rs.Nodes
		bp.sim.hang = rs.HangWorkflows
		if len(rs.FailWorkflows) > 0 {
			bp.sim.failWorkflows = map[string]bool{}
			for _, w := range rs.FailWorkflows {
				bp.sim.failWorkflows[w] = true
			}
		}
		if len(rs.Durations) > 0 {
			bp.sim.durations = map[string]time.Duration{}
			for wf, d := range rs.Durations {
				dur, err := parseDuration(d)
				if err != nil {
					return nil, fmt.Errorf("blueprint %s: x-sim.durations.%s: %w", id, wf, err)
				}
				bp.sim.durations[wf] = dur
			}
		}
		if len(rs.WorkflowEffects) > 0 {
			effects, err := parseEffects(id, rs.WorkflowEffects)
			if err != nil {
				return nil, err
			}
			bp.sim.effects = effects
		}
		for _, st := range rs.HangWorkflows {
			if st != "pending" && st != "started" {
				return nil, fmt.Errorf("blueprint %s: x-sim.hang_workflows values must be \"pending\" or \"started\"", id)
			}
		}
	}
	return bp, nil
}

// parseTimestamp reads the manager's layout or RFC 3339.
func parseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(timeFormat, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// asMap returns v as an object, or nil.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// AddBlueprint stores a blueprint fixture. v is a json.RawMessage, a []byte,
// a string holding JSON, or any value that marshals to the fixture's JSON. An
// existing id is an error.
func (s *Simulator) AddBlueprint(v any) error {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("blueprint fixture: %w", err)
		}
		raw = b
	}
	bp, err := parseBlueprint(raw)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blueprints[bp.id]; ok {
		return fmt.Errorf("blueprint %s already exists", bp.id)
	}
	if bp.createdAt.IsZero() {
		bp.createdAt = s.clock.Now().UTC()
	}
	s.seq++
	bp.seq = s.seq
	s.blueprints[bp.id] = bp
	s.addUploadExecutions(bp)
	s.log.Debug("blueprint added", "blueprint_id", bp.id, "state", bp.state)
	return nil
}

// addUploadExecutions records, from 6.0, the upload_blueprint system execution that
// uploaded bp, in every tenant (the fixture's blueprints are visible to all).
func (s *Simulator) addUploadExecutions(bp *blueprint) {
	if !s.ver.atLeast(6, 0, 0) {
		return
	}
	status := stTerminated
	if bp.state != "uploaded" {
		status = stFailed
	}
	tenants := make([]string, 0, len(s.tenants))
	for t := range s.tenants {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	for _, t := range tenants {
		s.seq++
		e := &execution{id: s.newID(), tenant: t, bpID: bp.id, workflowID: "upload_blueprint", status: status,
			params: map[string]any{"blueprint_id": bp.id}, createdAt: bp.createdAt, startedAt: bp.createdAt, endedAt: bp.createdAt,
			createdBy: "admin", seq: s.seq, system: true}
		s.executions[e.id] = e
	}
}

// LoadBlueprintsDir adds every *.json fixture in dir, in name order.
func (s *Simulator) LoadBlueprintsDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		if err := s.AddBlueprint(json.RawMessage(b)); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

// Blueprints returns the ids of the stored blueprints, sorted.
func (s *Simulator) Blueprints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.blueprints))
	for id := range s.blueprints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// visible reports whether the blueprint exists for the simulated release:
// before 5.2 an upload either succeeded or left no row.
func (s *Simulator) blueprintVisible(bp *blueprint) bool {
	return s.ver.atLeast(5, 2, 0) || bp.state == "uploaded"
}

// blueprintFields is the blueprint field set of the simulated release.
func (s *Simulator) blueprintFields() []string {
	f := []string{"id", "description", "main_file_name", "plan", "created_at", "updated_at",
		"tenant_name", "created_by", "visibility", "private_resource", "resource_availability"}
	if s.ver.atLeast(5, 0, 0) {
		f = append(f, "is_hidden")
	}
	if s.ver.atLeast(5, 2, 0) {
		f = append(f, "state", "error", "error_traceback")
	}
	if s.ver.atLeast(6, 0, 0) {
		f = append(f, "labels", "upload_execution")
	}
	if s.ver.atLeast(7, 0, 0) {
		f = append(f, "requirements")
	}
	return f
}

// renderBlueprint returns the blueprint resource as seen from tenant.
func (s *Simulator) renderBlueprint(bp *blueprint, tenant string) map[string]any {
	out := map[string]any{}
	for k, v := range bp.raw {
		out[k] = v
	}
	created := fmtTime(bp.createdAt)
	vis, _ := out["visibility"].(string)
	if vis == "" {
		vis = "tenant"
	}
	setDefault := func(k string, v any) {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	out["tenant_name"] = tenant
	out["visibility"] = vis
	out["private_resource"] = vis == "private"
	out["resource_availability"] = vis
	out["state"] = bp.state
	setDefault("description", nil)
	setDefault("main_file_name", "blueprint.yaml")
	setDefault("created_by", "admin")
	out["created_at"] = created
	setDefault("updated_at", created)
	setDefault("is_hidden", false)
	setDefault("error", nil)
	setDefault("error_traceback", nil)
	setDefault("upload_execution", nil)
	setDefault("requirements", nil)
	setDefault("plan", nil)
	if plan := asMap(out["plan"]); plan != nil && !s.ver.atLeast(6, 4, 0) {
		// availability rules arrived with 6.4; older plans do not carry them.
		p := map[string]any{}
		for k, v := range plan {
			p[k] = v
		}
		wfs := map[string]any{}
		for name, def := range asMap(plan["workflows"]) {
			d := map[string]any{}
			for k, v := range asMap(def) {
				if k != "availability_rules" {
					d[k] = v
				}
			}
			wfs[name] = d
		}
		if plan["workflows"] != nil {
			p["workflows"] = wfs
		}
		out["plan"] = p
	}
	labels := []any{}
	for _, l := range asSlice(out["labels"]) {
		lm := asMap(l)
		if lm == nil {
			continue
		}
		nl := map[string]any{"key": lm["key"], "value": lm["value"], "created_at": created, "created_by": "admin"}
		if v, ok := lm["created_at"]; ok {
			nl["created_at"] = v
		}
		if v, ok := lm["created_by"]; ok {
			nl["created_by"] = v
		}
		labels = append(labels, nl)
	}
	out["labels"] = labels
	return out
}

// asSlice returns v as a JSON array, or nil.
func asSlice(v any) []any {
	a, _ := v.([]any)
	return a
}

// planInputs returns the plan's input definitions.
func (bp *blueprint) planInputs() map[string]any { return asMap(bp.plan["inputs"]) }

// nodes returns the node list for the node-instance model: x-sim.nodes, else
// plan.nodes, else the nodes named by get_attribute in outputs and
// capabilities, else a single "app" node.
func (bp *blueprint) nodes() []simNode {
	if len(bp.sim.nodes) > 0 {
		return bp.sim.nodes
	}
	var out []simNode
	for _, n := range asSlice(bp.plan["nodes"]) {
		nm := asMap(n)
		id, _ := nm["id"].(string)
		if id == "" {
			continue
		}
		count := 1
		if inst := asMap(nm["instances"]); inst != nil {
			if c, ok := toInt(inst["deploy"]); ok {
				count = c
			}
		}
		out = append(out, simNode{ID: id, Instances: count})
	}
	if len(out) > 0 {
		return out
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if args := asSlice(x["get_attribute"]); len(x) == 1 && len(args) > 0 {
				if n, ok := args[0].(string); ok && !seen[n] {
					seen[n] = true
					out = append(out, simNode{ID: n, Instances: 1})
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(bp.plan["outputs"])
	walk(bp.plan["capabilities"])
	if len(out) == 0 {
		out = []simNode{{ID: "app", Instances: 1}}
	}
	return out
}

// toInt converts a JSON integer to int.
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(x.String())
		return n, err == nil
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case int:
		return x, true
	}
	return 0, false
}
