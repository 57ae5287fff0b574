package cloudifysim

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// handleListBlueprints serves GET /blueprints.
func (s *Simulator) handleListBlueprints(rq *request) *response {
	var items []map[string]any
	for _, bp := range s.blueprints {
		if s.blueprintVisible(bp) {
			items = append(items, s.renderBlueprint(bp, rq.tenant))
		}
	}
	return s.listResponse(rq, items, listSpec{name: "Blueprint", fields: s.blueprintFields(), search: true})
}

// handleGetBlueprint serves GET /blueprints/{id}.
func (s *Simulator) handleGetBlueprint(rq *request) *response {
	id := rq.params["id"]
	bp, ok := s.blueprints[id]
	if !ok || !s.blueprintVisible(bp) {
		return notFound("Blueprint", id)
	}
	fields := s.blueprintFields()
	inc, errResp := includeFields(rq.query(), fields)
	if errResp != nil {
		return errResp
	}
	for _, f := range inc {
		if f == "labels" {
			inc = nil // the manager's quirk: including labels disables projection
			break
		}
	}
	if len(inc) > 0 {
		fields = inc
	}
	return jsonResp(200, project(s.renderBlueprint(bp, rq.tenant), fields))
}

// handleListDeployments serves GET /deployments.
func (s *Simulator) handleListDeployments(rq *request) *response {
	spec := s.deploymentListSpec()
	lp, errResp := s.parseListParams(rq.query(), spec)
	if errResp != nil {
		return errResp
	}
	deps, items := s.tenantDeployments(rq)
	page, total := applyListLazy(items, func(i int) map[string]any { return s.renderDeployment(deps[i], rq.now) }, lp, spec)
	return jsonResp(200, s.listEnvelope(page, total, lp, nil))
}

// deploymentListSpec is the list spec of deployments.
func (s *Simulator) deploymentListSpec() listSpec {
	return listSpec{name: "Deployment", fields: s.deploymentFields(), search: true, searchName: s.ver.atLeast(6, 0, 0)}
}

// tenantDeployments returns the deployments of the request's tenant with
// their light renderings.
func (s *Simulator) tenantDeployments(rq *request) ([]*deployment, []map[string]any) {
	var deps []*deployment
	var items []map[string]any
	for k, d := range s.deployments {
		if k.tenant == rq.tenant {
			deps = append(deps, d)
			items = append(items, s.renderDeploymentLight(d, rq.now))
		}
	}
	return deps, items
}

// handleGetDeployment serves GET /deployments/{id}.
func (s *Simulator) handleGetDeployment(rq *request) *response {
	d := s.deployments[depKey{rq.tenant, rq.params["id"]}]
	if d == nil {
		return notFound("Deployment", rq.params["id"])
	}
	return singleResponse(rq, s.renderDeployment(d, rq.now), s.deploymentFields())
}

// idCharsRe matches the characters URL quoting leaves unchanged.
var (
	idCharsRe   = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	idCharsPy3  = regexp.MustCompile(`^[A-Za-z0-9_.\-~]+$`)
	labelKeyRe  = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	allowedCsys = map[string]bool{"csys-obj-type": true, "csys-obj-parent": true, "csys-location-name": true,
		"csys-location-lat": true, "csys-location-long": true, "csys-environment": true,
		"csys-obj-name": true, "csys-env-type": true, "csys-wrong-obj-type": false}
)

// validateResourceID applies the manager's id rules for the release.
func (s *Simulator) validateResourceID(arg, id string) *response {
	if len(id) > 256 {
		return apiErr("bad_parameters_error", "The `%s` argument is longer than 256 characters", arg)
	}
	re := idCharsRe
	if s.ver.atLeast(5, 1, 0) {
		re = idCharsPy3
	}
	if !re.MatchString(id) {
		return apiErr("bad_parameters_error",
			"The `%s` argument contains illegal characters. Only letters, digits and the characters \"-\", \".\" and \"_\" are allowed", arg)
	}
	if !s.ver.atLeast(6, 0, 0) && !startsWithLetter(id) {
		return apiErr("bad_parameters_error", "The `%s` argument must begin with a letter", arg)
	}
	return nil
}

// typeError is the body-field type check message.
func typeError(field, want string, v any) *response {
	return apiErr("bad_parameters_error", "%s parameter is expected to be of type %s but is of type %s", field, want, pyType(v))
}

// parseLabels reads [{"k": "v"}, {"k": ["v1", "v2"]}] into labels.
func (s *Simulator) parseLabels(v any, user string, now time.Time) ([]label, *response) {
	const shape = "Labels must be a list of 1-entry dictionaries: [{<key1>: <value1>}, {<key2>: [<value2>, <value3>]}, ...]"
	list, ok := v.([]any)
	if !ok {
		return nil, apiErr("bad_parameters_error", shape)
	}
	var out []label
	seen := map[[2]string]bool{}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, apiErr("bad_parameters_error", shape)
		}
		for k, raw := range m {
			key := strings.ToLower(strings.TrimSpace(k))
			if len(key) > 256 || !labelKeyRe.MatchString(key) {
				return nil, apiErr("bad_parameters_error",
					"The key `%s` contains illegal characters or is too long. Only letters, digits and the characters `-`, `.` and `_` are allowed", k)
			}
			if strings.HasPrefix(key, "csys-") && !allowedCsys[key] {
				return nil, apiErr("bad_parameters_error",
					"All labels with a `csys-` prefix are reserved for internal use. Allowed `csys-` prefixed keys: %s", pyRepr(allowedCsysKeys()))
			}
			var vals []any
			switch x := raw.(type) {
			case string:
				vals = []any{x}
			case []any:
				vals = x
			default:
				return nil, apiErr("bad_parameters_error", shape)
			}
			for _, rv := range vals {
				val, ok := rv.(string)
				if !ok || len(val) > 256 || strings.ContainsAny(val, "\x00\n\r\t\"") {
					return nil, apiErr("bad_parameters_error",
						"The value `%s` of label `%s` is too long or contains illegal characters", pyStr(rv), key)
				}
				if seen[[2]string{key, val}] {
					continue
				}
				seen[[2]string{key, val}] = true
				out = append(out, label{Key: key, Value: val, CreatedAt: now, CreatedBy: user})
			}
		}
	}
	return out, nil
}

// allowedCsysKeys lists the csys- label keys users may set.
func allowedCsysKeys() []string {
	var ks []string
	for k, ok := range allowedCsys {
		if ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// handleCreateDeployment serves PUT /deployments/{id}.
func (s *Simulator) handleCreateDeployment(rq *request) *response {
	id := rq.params["id"]
	if r := s.validateResourceID("deployment_id", id); r != nil {
		return r
	}
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	rawBP, ok := body["blueprint_id"]
	if !ok || rawBP == nil {
		return apiErr("bad_parameters_error", "Missing blueprint_id in json request body")
	}
	bpID, ok := rawBP.(string)
	if !ok {
		return typeError("blueprint_id", "str", rawBP)
	}
	inputs := map[string]any{}
	if v, ok := body["inputs"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return typeError("inputs", "dict", v)
		}
		inputs = m
	}
	bools := map[string]bool{}
	for _, f := range []string{"skip_plugins_validation", "runtime_only_evaluation"} {
		if v, ok := body[f]; ok && v != nil {
			b, ok := v.(bool)
			if !ok {
				return typeError(f, "bool", v)
			}
			bools[f] = b
		}
	}
	visibility := "tenant"
	if v, ok := body["visibility"]; ok && v != nil {
		vs, _ := v.(string)
		if vs != "private" && vs != "tenant" && vs != "global" {
			return apiErr("bad_parameters_error", "Invalid visibility: `%s`. Valid visibility's values are: ['private', 'tenant', 'global']", pyStr(v))
		}
		visibility = vs
	}
	displayName := id
	if v, ok := body["display_name"]; ok && v != nil && s.ver.atLeast(6, 0, 0) {
		dn, ok := v.(string)
		if !ok {
			return typeError("display_name", "str", v)
		}
		if dn != "" {
			displayName = dn
		}
	}
	var labels []label
	if v, ok := body["labels"]; ok && v != nil && s.ver.atLeast(5, 1, 1) {
		if labels, errResp = s.parseLabels(v, rq.user, rq.now); errResp != nil {
			return errResp
		}
	}
	async := false
	if v := rq.query()["async_create"]; len(v) > 0 && s.ver.atLeast(6, 0, 0) {
		if async, errResp = parseQueryBool("async_create", v[0]); errResp != nil {
			return errResp
		}
	}
	bp, ok := s.blueprints[bpID]
	if !ok || !s.blueprintVisible(bp) {
		return notFound("Blueprint", bpID)
	}
	if s.ver.atLeast(5, 2, 0) && bp.state != "uploaded" {
		return apiErr("deployment_creation_error",
			"Unable to create a deployment based on a blueprint which is not `uploaded` but: `%s`", bp.state)
	}
	key := depKey{rq.tenant, id}
	if old := s.deployments[key]; old != nil {
		if s.ver.atLeast(6, 0, 0) && s.onlyFailedCreate(old) {
			s.log.Debug("replacing deployment whose creation failed", "deployment_id", id)
			s.removeDeployment(old, rq.now, "cleanup_failed_deployment")
		} else {
			return apiErr("conflict_error",
				"<Deployment id=`%s` tenant=`%s`> already exists on <Tenant name=`%s`> or with global visibility",
				id, rq.tenant, rq.tenant)
		}
	}
	if bp.plan == nil {
		return apiErr("deployment_creation_error", "Blueprint %s has no plan", bpID)
	}
	if r := s.inputNameErrors(bp, inputs, "create"); r != nil {
		return r
	}
	s.seq++
	d := &deployment{
		tenant: rq.tenant, id: id, blueprintID: bp.id, bp: bp, displayName: displayName,
		createdAt: rq.now, updatedAt: rq.now, createdBy: rq.user, visibility: visibility,
		labels: labels, runtimeOnly: bools["runtime_only_evaluation"], seq: s.seq,
	}
	if v, ok := body["site_name"].(string); ok && s.ver.atLeast(5, 0, 0) {
		d.siteName = v
	}
	if !s.ver.atLeast(6, 0, 0) {
		return s.createDeploymentSync5x(rq, d, inputs)
	}
	params := map[string]any{
		"inputs":                  inputs,
		"skip_plugins_validation": bools["skip_plugins_validation"],
		"display_name":            displayName,
	}
	if labels != nil {
		params["labels"] = renderLabelPairs(labels)
	}
	s.deployments[key] = d
	e := s.newExecution(d, wfCreateEnv, params, rq.user, rq.now, stPending)
	d.createExecID = e.id
	d.depStatus = "requires_attention"
	s.log.Debug("deployment created", "deployment_id", id, "blueprint_id", bp.id, "async", async)
	if async {
		return jsonResp(201, project(s.renderDeployment(d, rq.now), s.deploymentFields()))
	}
	wait := s.cfg.SyncCreateWait
	if wait == 0 {
		wait = 120 * time.Second
		if !s.ver.atLeast(6, 2, 0) {
			wait = 60 * time.Second
		}
	}
	w := &syncWait{tenant: rq.tenant, depID: id, execID: e.id, deadline: rq.now.Add(wait)}
	if s.realClock {
		return &response{wait: w}
	}
	// A clock that does not move by itself: the wait is taken as elapsed.
	total := s.pendingDuration() + s.workflowDuration(d.id, d.blueprintID, wfCreateEnv)
	if h := s.holdState(e); h != "" || total > wait {
		return internalError("RuntimeError", fmt.Sprintf(
			"Timed out waiting for execution %s of deployment %s to finish (waited %d seconds)", e.id, id, int(wait.Seconds())))
	}
	s.step(e, rq.now) // pending -> started
	s.step(e, rq.now) // started -> end
	return s.syncCreateResult(w, rq.now)
}

// renderLabelPairs renders labels as the create execution's parameter.
func renderLabelPairs(ls []label) []any {
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = map[string]any{"key": l.Key, "value": l.Value}
	}
	return out
}

// onlyFailedCreate reports a deployment whose only execution is a failed
// create_deployment_environment (6.0+ replaces those on a new PUT).
func (s *Simulator) onlyFailedCreate(d *deployment) bool {
	var execs []*execution
	for _, e := range s.executions {
		if e.tenant == d.tenant && e.depID == d.id {
			execs = append(execs, e)
		}
	}
	return len(execs) == 1 && execs[0].workflowID == wfCreateEnv && execs[0].status == stFailed
}

// syncCreateResult is the answer of a synchronous create once its execution
// ended or the wait ran out; nil while it should keep waiting.
func (s *Simulator) syncCreateResult(w *syncWait, now time.Time) *response {
	e := s.executions[w.execID]
	d := s.deployments[depKey{w.tenant, w.depID}]
	if e == nil || d == nil {
		return internalError("RuntimeError", fmt.Sprintf("Deployment %s disappeared while it was being created", w.depID))
	}
	switch e.status {
	case stTerminated:
		return jsonResp(201, project(s.renderDeployment(d, now), s.deploymentFields()))
	case stFailed, stCancelled:
		msg := lastLine(e.errText)
		if msg == "" {
			msg = fmt.Sprintf("Deployment environment creation for %s was %s", w.depID, e.status)
		}
		return apiErr("deployment_creation_error", "%s", msg)
	}
	if !now.Before(w.deadline) {
		return internalError("RuntimeError", fmt.Sprintf(
			"Timed out waiting for execution %s of deployment %s to finish", e.id, w.depID))
	}
	return nil
}

// createDeploymentSync5x is the 4.x/5.x create: the REST call parses the plan
// and validates inputs itself, then starts create_deployment_environment.
func (s *Simulator) createDeploymentSync5x(rq *request, d *deployment, inputs map[string]any) *response {
	resolved, vi := s.resolveInputs(d.bp, rq.tenant, inputs)
	if vi != nil {
		switch {
		case vi.exc == "MissingRequiredInputError":
			return apiErr("missing_required_deployment_input_error", "%s", vi.msg)
		case vi.isType || !s.ver.atLeast(5, 0, 0):
			// not mapped by the manager before 6.0: an internal error
			return internalError(vi.exc, vi.msg)
		default:
			return apiErr("constraint_error", "%s", vi.msg)
		}
	}
	s.populate(d, d.bp, resolved, rq.now)
	s.deployments[depKey{d.tenant, d.id}] = d
	params := map[string]any{}
	if s.ver.atLeast(5, 0, 0) {
		params = map[string]any{"skip_plugins_validation": false}
	}
	e := s.newExecution(d, wfCreateEnv, params, rq.user, rq.now, stPending)
	d.createExecID = e.id
	s.log.Debug("deployment created", "deployment_id", d.id, "blueprint_id", d.blueprintID)
	return jsonResp(201, project(s.renderDeployment(d, rq.now), s.deploymentFields()))
}

// handlePatchDeployment serves PATCH /deployments/{id} (labels).
func (s *Simulator) handlePatchDeployment(rq *request) *response {
	d := s.deployments[depKey{rq.tenant, rq.params["id"]}]
	if d == nil {
		return notFound("Deployment", rq.params["id"])
	}
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	raw, ok := body["labels"]
	if !ok {
		return apiErr("illegal_action_error", "Update a deployment request must include at least one parameter to update")
	}
	labels, errResp := s.parseLabels(raw, rq.user, rq.now)
	if errResp != nil {
		return errResp
	}
	old := map[[2]string]label{}
	for _, l := range d.labels {
		old[[2]string{l.Key, l.Value}] = l
	}
	for i, l := range labels {
		if prev, ok := old[[2]string{l.Key, l.Value}]; ok {
			labels[i] = prev
		}
	}
	d.labels = labels
	d.updatedAt = rq.now
	return jsonResp(200, project(s.renderDeployment(d, rq.now), s.deploymentFields()))
}

// handleDeleteDeployment serves DELETE /deployments/{id}.
func (s *Simulator) handleDeleteDeployment(rq *request) *response {
	id := rq.params["id"]
	d := s.deployments[depKey{rq.tenant, id}]
	if d == nil {
		return notFound("Deployment", id)
	}
	q := rq.query()
	forceName := "force"
	if !s.ver.atLeast(5, 1, 0) {
		forceName = "ignore_live_nodes"
	}
	var force, deleteLogs bool
	var errResp *response
	if v := q[forceName]; len(v) > 0 {
		if force, errResp = parseQueryBool(forceName, v[0]); errResp != nil {
			return errResp
		}
	}
	if v := q["delete_logs"]; len(v) > 0 {
		if deleteLogs, errResp = parseQueryBool("delete_logs", v[0]); errResp != nil {
			return errResp
		}
	}
	var busy []*execution
	for _, e := range s.executions {
		if e.tenant == d.tenant && e.depID == d.id && (isActive(e.status) || e.status == stQueued || e.status == stScheduled) {
			busy = append(busy, e)
		}
	}
	if len(busy) > 0 {
		sort.Slice(busy, func(i, j int) bool { return busy[i].seq < busy[j].seq })
		ids := make([]string, len(busy))
		for i, e := range busy {
			ids[i] = e.id
		}
		return apiErr("dependent_exists_error",
			"Can't delete deployment %s - There are running or queued executions for this deployment. Running executions ids: %s",
			id, strings.Join(ids, ","))
	}
	if live := d.liveNodes(); len(live) > 0 && !force {
		return apiErr("dependent_exists_error",
			"Can't delete deployment %s - There are live nodes for this deployment. Live nodes ids: %s",
			id, strings.Join(live, ","))
	}
	switch {
	case !s.ver.atLeast(4, 4, 0):
		body := project(s.renderDeployment(d, rq.now), s.deploymentFields())
		s.removeDeployment(d, rq.now, "DELETE")
		return jsonResp(200, body)
	case !s.ver.atLeast(5, 1, 0):
		params := map[string]any{}
		if s.ver.atLeast(5, 0, 0) {
			params["delete_logs"] = deleteLogs
		}
		s.newExecution(d, wfDeleteEnv, params, rq.user, rq.now, stPending)
		return jsonResp(200, project(s.renderDeployment(d, rq.now), s.deploymentFields()))
	}
	params := map[string]any{"delete_logs": deleteLogs, "force": force}
	if s.ver.atLeast(7, 0, 1) {
		recursive := false
		if v := q["recursive"]; len(v) > 0 {
			if recursive, errResp = parseQueryBool("recursive", v[0]); errResp != nil {
				return errResp
			}
		}
		params["recursive"] = recursive
	}
	s.newExecution(d, wfDeleteEnv, params, rq.user, rq.now, stPending)
	s.recompute(d)
	if s.ver.atLeast(6, 0, 0) {
		d.depStatus = "in_progress"
	}
	s.log.Debug("deployment delete started", "deployment_id", id, "force", force)
	return &response{status: 204}
}

// handleOutputs serves GET /deployments/{id}/outputs.
func (s *Simulator) handleOutputs(rq *request) *response {
	return s.evaluated(rq, "outputs")
}

// handleCapabilities serves GET /deployments/{id}/capabilities.
func (s *Simulator) handleCapabilities(rq *request) *response {
	return s.evaluated(rq, "capabilities")
}

// evaluated evaluates a deployment's outputs or capabilities.
func (s *Simulator) evaluated(rq *request, what string) *response {
	id := rq.params["id"]
	d := s.deployments[depKey{rq.tenant, id}]
	if d == nil {
		return notFound("Deployment", id)
	}
	defs := d.outputs
	code := "deployment_outputs_evaluation_error"
	if what == "capabilities" {
		defs = d.capabilities
		code = "deployment_capabilities_evaluation_error"
	}
	values := map[string]any{}
	if defs != nil {
		v, err := s.evaluateDefs(d, defs)
		if err != nil {
			return apiErr(code, "Error while evaluating %s of deployment %s: %s", what, id, err.Error())
		}
		values = v
	}
	return jsonResp(200, map[string]any{"deployment_id": id, what: values})
}

// handleListNodeInstances serves GET /node-instances.
func (s *Simulator) handleListNodeInstances(rq *request) *response {
	var items []map[string]any
	for k, d := range s.deployments {
		if k.tenant != rq.tenant {
			continue
		}
		for _, ni := range d.nodes {
			items = append(items, s.renderNodeInstance(d, ni))
		}
	}
	return s.listResponse(rq, items, listSpec{name: "NodeInstance", fields: nodeInstanceFields()})
}
