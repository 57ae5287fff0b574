package cloudifysim

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Execution statuses.
const (
	stPending         = "pending"
	stStarted         = "started"
	stCancelling      = "cancelling"
	stForceCancelling = "force_cancelling"
	stKillCancelling  = "kill_cancelling"
	stQueued          = "queued"
	stScheduled       = "scheduled"
	stTerminated      = "terminated"
	stFailed          = "failed"
	stCancelled       = "cancelled"
)

// Workflow ids with special handling.
const (
	wfCreateEnv = "create_deployment_environment"
	wfDeleteEnv = "delete_deployment_environment"
	wfUpdate    = "update"
)

// isActive reports the states that block other executions in every release.
func isActive(status string) bool {
	switch status {
	case stPending, stStarted, stCancelling, stForceCancelling, stKillCancelling:
		return true
	}
	return false
}

// isTerminal reports the end states.
func isTerminal(status string) bool {
	return status == stTerminated || status == stFailed || status == stCancelled
}

// isCancelling reports the three cancelling states.
func isCancelling(status string) bool {
	return status == stCancelling || status == stForceCancelling || status == stKillCancelling
}

// statusSummary maps an execution status to latest_execution_status.
func statusSummary(status string) string {
	switch status {
	case "":
		return ""
	case stTerminated:
		return "completed"
	case stFailed:
		return "failed"
	case stCancelled:
		return "cancelled"
	}
	return "in_progress"
}

// label is a deployment label.
type label struct {
	Key, Value string
	CreatedAt  time.Time
	CreatedBy  string
}

// nodeInstance is one node instance of the simplified node model.
type nodeInstance struct {
	id, nodeID, state string
	index             int
}

// deployment is a stored deployment.
type deployment struct {
	tenant, id   string
	blueprintID  string
	bp           *blueprint
	displayName  string
	description  any
	createdAt    time.Time
	updatedAt    time.Time
	createdBy    string
	visibility   string
	labels       []label
	inputs       map[string]any // nil until the environment is created (6.0+)
	outputs      map[string]any // plan definitions, unevaluated
	capabilities map[string]any
	workflows    map[string]any
	nodes        []*nodeInstance
	createExecID string
	latestExecID string
	instStatus   string // installation_status; "" until first computed
	depStatus    string // deployment_status
	siteName     any
	runtimeOnly  bool
	seq          int64
	// users are the binding users made by create_secret workflow effects,
	// by binding.
	users map[string]*bindingUser
	// paramsJSON caches the encoded parameters of each workflow; the
	// definitions only change when populate replaces d.workflows.
	paramsJSON map[string]json.RawMessage
}

// ready reports whether the plan has been applied to the deployment.
func (d *deployment) ready() bool { return d.inputs != nil }

// execution is a stored execution.
type execution struct {
	id, tenant     string
	depID, bpID    string
	depDisplayName string
	workflowID     string
	status         string
	errText        string
	params         map[string]any
	dryRun         bool
	allowCustom    bool
	createdAt      time.Time
	startedAt      time.Time
	endedAt        time.Time
	cancelledAt    time.Time
	createdBy      string
	nextAt         time.Time
	held           bool
	seq            int64
	totalOps       int
	opsAtStop      int
	updateID       string
	resolved       map[string]any // inputs resolved by create-dep-env or update
	// system marks a system workflow (upload_blueprint): no deployment, left out of
	// GET /executions unless _include_system_workflows=true.
	system bool
}

// depUpdate is a stored deployment update.
type depUpdate struct {
	id, tenant, depID string
	oldBP, newBP      string
	oldInputs         map[string]any
	newInputs         map[string]any
	state             string
	execID            string
	createdAt         time.Time
	createdBy         string
	seq               int64
	params            map[string]any
}

// executionFields is the execution field set of the simulated release.
func (s *Simulator) executionFields() []string {
	f := []string{"id", "workflow_id", "deployment_id", "blueprint_id", "status", "error", "parameters",
		"is_system_workflow", "created_at", "created_by", "tenant_name", "visibility", "private_resource",
		"resource_availability"}
	if s.ver.atLeast(4, 4, 0) {
		f = append(f, "ended_at", "is_dry_run")
	}
	if s.ver.atLeast(4, 5, 0) {
		f = append(f, "started_at")
	}
	if s.ver.atLeast(4, 5, 5) {
		f = append(f, "scheduled_for")
	}
	if s.ver.atLeast(6, 0, 0) {
		f = append(f, "resume", "total_operations", "finished_operations", "allow_custom_parameters", "status_display")
	}
	if s.ver.atLeast(6, 4, 0) {
		f = append(f, "deployment_display_name")
	}
	return f
}

// finishedOps estimates finished_operations from the execution's progress.
func (s *Simulator) finishedOps(e *execution, now time.Time) int {
	switch {
	case e.status == stTerminated:
		return e.totalOps
	case isTerminal(e.status) || isCancelling(e.status):
		return e.opsAtStop
	case e.status == stStarted && !e.nextAt.IsZero():
		total := e.nextAt.Sub(e.startedAt)
		if total <= 0 {
			return 0
		}
		done := now.Sub(e.startedAt)
		return min(e.totalOps, int(float64(e.totalOps)*float64(done)/float64(total)))
	}
	return 0
}

// renderExecution returns the execution resource (superset of fields).
func (s *Simulator) renderExecution(e *execution, now time.Time) map[string]any {
	display := e.status
	if display == stTerminated {
		display = "completed"
	}
	params := e.params
	if params == nil {
		params = map[string]any{}
	}
	return map[string]any{
		"id":                      e.id,
		"workflow_id":             e.workflowID,
		"deployment_id":           nilIfEmpty(e.depID),
		"blueprint_id":            e.bpID,
		"status":                  e.status,
		"status_display":          display,
		"error":                   e.errText,
		"parameters":              params,
		"is_system_workflow":      e.system,
		"is_dry_run":              e.dryRun,
		"created_at":              fmtTime(e.createdAt),
		"started_at":              fmtTime(e.startedAt),
		"ended_at":                fmtTime(e.endedAt),
		"scheduled_for":           nil,
		"created_by":              e.createdBy,
		"tenant_name":             e.tenant,
		"visibility":              "tenant",
		"private_resource":        false,
		"resource_availability":   "tenant",
		"resume":                  false,
		"total_operations":        e.totalOps,
		"finished_operations":     s.finishedOps(e, now),
		"allow_custom_parameters": e.allowCustom,
		"deployment_display_name": nilIfEmpty(e.depDisplayName),
	}
}

// deploymentFields is the deployment field set of the simulated release.
func (s *Simulator) deploymentFields() []string {
	f := []string{"id", "blueprint_id", "description", "inputs", "outputs", "groups", "policy_types",
		"policy_triggers", "scaling_groups", "workflows", "permalink", "created_at", "updated_at",
		"created_by", "tenant_name", "visibility", "private_resource", "resource_availability"}
	if s.ver.atLeast(4, 5, 5) {
		f = append(f, "capabilities")
	}
	if s.ver.atLeast(5, 0, 0) {
		f = append(f, "site_name", "runtime_only_evaluation")
	}
	if s.ver.atLeast(5, 1, 1) {
		f = append(f, "labels")
	}
	if s.ver.atLeast(6, 0, 0) {
		f = append(f, "display_name", "installation_status", "deployment_status", "latest_execution",
			"create_execution", "latest_execution_status", "latest_execution_workflow_id",
			"latest_execution_total_operations", "latest_execution_finished_operations",
			"environment_type", "sub_services_status", "sub_environments_status", "sub_services_count",
			"sub_environments_count", "deployment_groups", "schedules", "has_sub_deployments")
	}
	if s.ver.atLeast(6, 2, 0) {
		f = append(f, "resource_tags")
	}
	if s.ver.atLeast(7, 0, 0) {
		f = append(f, "drifted_instances", "unavailable_instances")
	}
	return f
}

// renderLabels renders labels as the API does.
func renderLabels(ls []label) []any {
	out := make([]any, 0, len(ls))
	for _, l := range ls {
		out = append(out, map[string]any{"key": l.Key, "value": l.Value,
			"created_at": fmtTime(l.CreatedAt), "created_by": l.CreatedBy})
	}
	return out
}

// workflowAvailable applies the 6.4 availability rules to the deployment's
// current node-instance states.
func (d *deployment) workflowAvailable(def map[string]any) bool {
	rules := asMap(def["availability_rules"])
	if rules == nil {
		return true
	}
	if av, ok := rules["available"]; ok && av != nil && av != true {
		return false
	}
	active, ok := rules["node_instances_active"]
	if !ok || active == nil {
		return true
	}
	states := map[string]bool{}
	for _, ni := range d.nodes {
		states[ni.state] = true
	}
	result := false
	for _, r := range asSlice(active) {
		switch r {
		case "all":
			result = result || len(states) == 0 || (len(states) == 1 && states["started"])
		case "partial":
			result = result || (len(states) > 1 && states["started"])
		case "none":
			result = result || !states["started"]
		}
	}
	return result
}

// renderWorkflows renders the deployment's workflows list.
func (s *Simulator) renderWorkflows(d *deployment) any {
	if d.workflows == nil {
		return nil
	}
	names := make([]string, 0, len(d.workflows))
	for n := range d.workflows {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]any, 0, len(names))
	for _, n := range names {
		def := asMap(d.workflows[n])
		if d.paramsJSON == nil {
			d.paramsJSON = map[string]json.RawMessage{}
		}
		params, ok := d.paramsJSON[n]
		if !ok {
			p := def["parameters"]
			if p == nil {
				p = map[string]any{}
			}
			params = json.RawMessage(bytes.TrimSpace(marshalJSON(p)))
			d.paramsJSON[n] = params
		}
		if !s.ver.atLeast(5, 0, 0) {
			out = append(out, map[string]any{"name": n, "created_at": fmtTime(d.createdAt), "parameters": params})
			continue
		}
		plugin, _ := def["plugin"].(string)
		op, _ := def["operation"].(string)
		casc, _ := def["is_cascading"].(bool)
		w := map[string]any{"name": n, "created_at": nil, "plugin": plugin, "operation": op,
			"parameters": params, "is_cascading": casc}
		if !s.ver.atLeast(6, 0, 0) {
			w["created_at"] = fmtTime(d.createdAt)
		}
		if s.ver.atLeast(6, 4, 0) {
			w["availability_rules"] = def["availability_rules"]
			w["is_available"] = d.workflowAvailable(def)
		}
		out = append(out, w)
	}
	return out
}

// renderDeployment returns the deployment resource (superset of fields).
func (s *Simulator) renderDeployment(d *deployment, now time.Time) map[string]any {
	m := s.renderDeploymentLight(d, now)
	m["workflows"] = s.renderWorkflows(d)
	return m
}

// renderDeploymentLight renders every field but the workflows list, which is
// the expensive one; lists use it to filter and sort.
func (s *Simulator) renderDeploymentLight(d *deployment, now time.Time) map[string]any {
	m := map[string]any{
		"id":                      d.id,
		"blueprint_id":            d.blueprintID,
		"display_name":            d.displayName,
		"description":             d.description,
		"inputs":                  nilIfNilMap(d.inputs),
		"outputs":                 nilIfNilMap(d.outputs),
		"capabilities":            nilIfNilMap(d.capabilities),
		"groups":                  map[string]any{},
		"policy_types":            map[string]any{},
		"policy_triggers":         map[string]any{},
		"scaling_groups":          map[string]any{},
		"permalink":               nil,
		"created_at":              fmtTime(d.createdAt),
		"updated_at":              fmtTime(d.updatedAt),
		"created_by":              d.createdBy,
		"tenant_name":             d.tenant,
		"visibility":              d.visibility,
		"private_resource":        d.visibility == "private",
		"resource_availability":   d.visibility,
		"site_name":               d.siteName,
		"runtime_only_evaluation": d.runtimeOnly,
		"labels":                  renderLabels(d.labels),
		"environment_type":        "",
		"sub_services_status":     nil,
		"sub_environments_status": nil,
		"sub_services_count":      0,
		"sub_environments_count":  0,
		"has_sub_deployments":     false,
		"deployment_groups":       []any{},
		"schedules":               []any{},
		"resource_tags":           nil,
		"drifted_instances":       0,
		"unavailable_instances":   0,
	}
	inst := d.instStatus
	if inst == "" {
		inst = "inactive"
	}
	m["installation_status"] = inst
	m["deployment_status"] = nilIfEmpty(d.depStatus)
	m["create_execution"] = nilIfEmpty(d.createExecID)
	m["latest_execution"] = nilIfEmpty(d.latestExecID)
	m["latest_execution_status"] = nil
	m["latest_execution_workflow_id"] = nil
	m["latest_execution_total_operations"] = nil
	m["latest_execution_finished_operations"] = nil
	if le := s.executions[d.latestExecID]; le != nil {
		m["latest_execution_status"] = statusSummary(le.status)
		m["latest_execution_workflow_id"] = le.workflowID
		m["latest_execution_total_operations"] = le.totalOps
		m["latest_execution_finished_operations"] = s.finishedOps(le, now)
	}
	for _, l := range d.labels {
		if l.Key == "csys-env-type" {
			m["environment_type"] = l.Value
			break
		}
	}
	return m
}

// nilIfNilMap turns a nil map into a JSON null.
func nilIfNilMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// nilIfEmpty turns "" into a JSON null.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// renderNodeInstance returns a node-instance resource.
func (s *Simulator) renderNodeInstance(d *deployment, ni *nodeInstance) map[string]any {
	runtime := map[string]any{}
	if ni.state == "started" {
		for k, v := range d.bp.sim.runtime[ni.nodeID] {
			runtime[k] = deepCopy(v)
		}
	}
	return map[string]any{
		"id": ni.id, "node_id": ni.nodeID, "deployment_id": d.id, "state": ni.state,
		"host_id": ni.id, "runtime_properties": runtime, "relationships": []any{}, "version": 1,
		"scaling_groups": []any{}, "index": ni.index, "tenant_name": d.tenant, "created_by": d.createdBy,
		"visibility": d.visibility, "private_resource": d.visibility == "private",
		"resource_availability": d.visibility, "has_configuration_drift": false, "is_status_check_ok": true,
	}
}

// nodeInstanceFields is the node-instance field set.
func nodeInstanceFields() []string {
	return []string{"id", "node_id", "deployment_id", "state", "host_id", "runtime_properties",
		"relationships", "version", "scaling_groups", "index", "tenant_name", "created_by", "visibility",
		"private_resource", "resource_availability", "has_configuration_drift", "is_status_check_ok"}
}

// liveNodes returns the ids of instances not uninitialized or deleted.
func (d *deployment) liveNodes() []string {
	var ids []string
	for _, ni := range d.nodes {
		if ni.state != "uninitialized" && ni.state != "deleted" {
			ids = append(ids, ni.id)
		}
	}
	return ids
}

// updateFields is the deployment-update field set.
func updateFields() []string {
	return []string{"id", "deployment_id", "old_blueprint_id", "new_blueprint_id", "old_inputs",
		"new_inputs", "state", "execution_id", "steps", "created_at", "created_by", "tenant_name",
		"visibility", "private_resource", "resource_availability", "deployment_plan",
		"deployment_update_node_instances", "deployment_update_nodes", "modified_entity_ids",
		"central_plugins_to_install", "central_plugins_to_uninstall", "recursive_dependencies",
		"runtime_only_evaluation", "preview"}
}

// renderUpdate returns a deployment-update resource.
func (s *Simulator) renderUpdate(u *depUpdate) map[string]any {
	preview, _ := u.params["preview"].(bool)
	rto, _ := u.params["runtime_only_evaluation"].(bool)
	return map[string]any{
		"id": u.id, "deployment_id": u.depID, "old_blueprint_id": u.oldBP, "new_blueprint_id": u.newBP,
		"old_inputs": nilIfNilMap(u.oldInputs), "new_inputs": nilIfNilMap(u.newInputs), "state": u.state,
		"execution_id": nilIfEmpty(u.execID), "steps": []any{}, "created_at": fmtTime(u.createdAt),
		"created_by": u.createdBy, "tenant_name": u.tenant, "visibility": "tenant", "private_resource": false,
		"resource_availability": "tenant", "deployment_plan": nil, "deployment_update_node_instances": nil,
		"deployment_update_nodes": nil, "modified_entity_ids": nil, "central_plugins_to_install": []any{},
		"central_plugins_to_uninstall": []any{}, "recursive_dependencies": []any{},
		"runtime_only_evaluation": rto, "preview": preview,
	}
}

// lastLine returns the last non-empty line of a multi-line error.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}
