package cloudifysim

import (
	"sort"
	"strings"
	"time"
)

// updateBoolFields are the boolean fields of an update-initiate body.
var updateBoolFields = []string{"skip_install", "skip_uninstall", "skip_reinstall", "ignore_failure",
	"install_first", "force", "preview", "update_plugins", "runtime_only_evaluation", "auto_correct_types",
	"reevaluate_active_statuses", "skip_drift_check", "force_reinstall", "skip_heal"}

// handleInitiateUpdatePost serves POST .../update/initiate: a JSON body from 6.2
// (the release's own client sends it so), only a JSON body from 6.4; before 6.2,
// and for any other body before 6.4, the legacy blueprint archive upload.
func (s *Simulator) handleInitiateUpdatePost(rq *request) *response {
	isJSON := rq.r.Header.Get("Content-Type") == "application/json"
	switch {
	case isJSON && s.ver.atLeast(6, 2, 0):
		return s.handleInitiateUpdate(rq)
	case !s.ver.atLeast(6, 4, 0):
		// the legacy form wants a multipart blueprint archive
		return apiErr("bad_parameters_error",
			"Missing blueprint archive: use a multipart upload with `blueprint_archive`, or `blueprint_archive_url`")
	}
	return apiErr("unsupported_content_type_error", "Content type must be application/json")
}

// handleInitiateUpdate starts a deployment update with a JSON body.
func (s *Simulator) handleInitiateUpdate(rq *request) *response {
	depID := rq.params["id"]
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	flags := map[string]any{}
	for _, f := range updateBoolFields {
		if v, ok := body[f]; ok && v != nil {
			b, ok := v.(bool)
			if !ok {
				return typeError(f, "bool", v)
			}
			flags[f] = b
		}
	}
	var given map[string]any
	if v, ok := body["inputs"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return typeError("inputs", "dict", v)
		}
		given = m
	}
	var newBPID string
	if v, ok := body["blueprint_id"]; ok && v != nil {
		str, ok := v.(string)
		if !ok {
			return typeError("blueprint_id", "str", v)
		}
		newBPID = str
	}
	if !s.ver.atLeast(5, 0, 0) && newBPID == "" && given == nil {
		return apiErr("bad_parameters_error", "Must supply either a blueprint (by id of an existing blueprint), or new inputs")
	}
	d := s.deployments[depKey{rq.tenant, depID}]
	if d == nil {
		return notFound("Deployment", depID)
	}
	if r := s.envCheck(d); r != nil {
		return r
	}
	bp := d.bp
	if newBPID != "" {
		b, ok := s.blueprints[newBPID]
		if !ok || !s.blueprintVisible(b) {
			return notFound("Blueprint", newBPID)
		}
		if s.ver.atLeast(5, 2, 0) && b.state != "uploaded" {
			return apiErr("deployment_creation_error",
				"Unable to update a deployment based on a blueprint which is not `uploaded` but: `%s`", b.state)
		}
		bp = b
	}
	force, _ := flags["force"].(bool)
	if !s.ver.atLeast(7, 0, 0) {
		var active []string
		for _, u := range s.updates {
			if u.tenant != rq.tenant || u.depID != depID || u.state == "successful" || u.state == "failed" || u.state == "preview" {
				continue
			}
			stale := false
			if e := s.executions[u.execID]; e != nil && isTerminal(e.status) {
				stale = true
			}
			if force && stale {
				continue
			}
			active = append(active, u.id)
		}
		if len(active) > 0 {
			sort.Strings(active)
			return apiErr("conflict_error",
				"there are deployment updates still active; update IDs: %s", strings.Join(active, ", "))
		}
	}
	newInputs := copyMap(d.inputs)
	if newInputs == nil {
		newInputs = map[string]any{}
	}
	defs := bp.planInputs()
	var unknown []string
	for k, v := range given {
		if _, ok := defs[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		newInputs[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return apiErr("unknown_deployment_input_error", "Unknown input(s) for the deployment update: %s", strings.Join(unknown, ", "))
	}
	// inputs of the old blueprint that the new one does not declare are dropped
	for k := range newInputs {
		if _, ok := defs[k]; !ok {
			delete(newInputs, k)
		}
	}
	if r := s.inputNameErrors(bp, newInputs, "update"); r != nil {
		return r
	}
	if !s.ver.atLeast(7, 0, 0) {
		if _, vi := s.resolveInputs(bp, rq.tenant, newInputs); vi != nil {
			if vi.exc == "MissingRequiredInputError" {
				return apiErr("missing_required_deployment_input_error", "%s", vi.msg)
			}
			return apiErr("constraint_error", "%s", vi.msg)
		}
	}
	s.seq++
	u := &depUpdate{
		id: depID + "-" + s.newID(), tenant: rq.tenant, depID: depID, oldBP: d.blueprintID, newBP: bp.id,
		oldInputs: copyMap(d.inputs), newInputs: newInputs, state: "updating", createdAt: rq.now,
		createdBy: rq.user, seq: s.seq, params: flags,
	}
	s.updates[u.id] = u
	if preview, _ := flags["preview"].(bool); preview && s.ver.atLeast(5, 0, 0) {
		u.state = "preview"
		return jsonResp(200, project(s.renderUpdate(u), updateFields()))
	}
	params := map[string]any{"update_id": u.id, "blueprint_id": bp.id, "inputs": copyMap(given),
		"skip_install": false, "skip_uninstall": false, "skip_reinstall": false, "ignore_failure": false,
		"install_first": false, "force": false, "preview": false}
	for k, v := range flags {
		params[k] = v
	}
	e := s.newExecution(d, wfUpdate, params, rq.user, rq.now, stPending)
	e.updateID = u.id
	u.execID = e.id
	s.recompute(d)
	s.log.Debug("deployment update started", "deployment_id", depID, "update_id", u.id, "blueprint_id", bp.id)
	return jsonResp(200, project(s.renderUpdate(u), updateFields()))
}

// applyUpdate moves the deployment to the update's blueprint and inputs.
func (s *Simulator) applyUpdate(d *deployment, u *depUpdate, e *execution, t time.Time) {
	bp := s.blueprints[u.newBP]
	if bp == nil {
		return
	}
	inputs := e.resolved
	if inputs == nil {
		resolved, vi := s.resolveInputs(bp, d.tenant, u.newInputs)
		if vi != nil {
			resolved = copyMap(u.newInputs)
		}
		inputs = resolved
	}
	s.populate(d, bp, inputs, t)
}

// handleGetUpdate serves GET /deployment-updates/{id}.
func (s *Simulator) handleGetUpdate(rq *request) *response {
	u := s.updates[rq.params["id"]]
	if u == nil || u.tenant != rq.tenant {
		return notFound("DeploymentUpdate", rq.params["id"])
	}
	return singleResponse(rq, s.renderUpdate(u), updateFields())
}

// handleListUpdates serves GET /deployment-updates.
func (s *Simulator) handleListUpdates(rq *request) *response {
	var items []map[string]any
	for _, u := range s.updates {
		if u.tenant == rq.tenant {
			items = append(items, s.renderUpdate(u))
		}
	}
	return s.listResponse(rq, items, listSpec{name: "DeploymentUpdate", fields: updateFields()})
}
