package cloudifysim

import (
	"sort"
	"strings"
)

// handleListExecutions serves GET /executions.
func (s *Simulator) handleListExecutions(rq *request) *response {
	q := rq.query()
	includeSystem := false
	if v := q["_include_system_workflows"]; len(v) > 0 {
		b, errResp := parseQueryBool("_include_system_workflows", v[0])
		if errResp != nil {
			return errResp
		}
		includeSystem = b
	}
	var items []map[string]any
	for _, e := range s.executions {
		if e.tenant == rq.tenant && (includeSystem || !e.system) {
			items = append(items, s.renderExecution(e, rq.now))
		}
	}
	return s.listResponse(rq, items, listSpec{name: "Execution", fields: s.executionFields()})
}

// handleGetExecution serves GET /executions/{id}.
func (s *Simulator) handleGetExecution(rq *request) *response {
	e := s.executions[rq.params["id"]]
	if e == nil || e.tenant != rq.tenant {
		return notFound("Execution", rq.params["id"])
	}
	return singleResponse(rq, s.renderExecution(e, rq.now), s.executionFields())
}

// bodyBool reads an execution-body boolean: a JSON bool or "true"/"false".
func bodyBool(body map[string]any, name string) (bool, *response) {
	v, ok := body[name]
	if !ok || v == nil {
		return false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, apiErr("bad_parameters_error", "Invalid value for %s: %s. Valid values are: true, false", name, pyStr(v))
}

// handleStartExecution serves POST /executions.
func (s *Simulator) handleStartExecution(rq *request) *response {
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	for _, f := range []string{"deployment_id", "workflow_id"} {
		v, ok := body[f]
		if !ok || v == nil {
			return apiErr("bad_parameters_error", "Missing %s in json request body", f)
		}
		if _, ok := v.(string); !ok {
			return typeError(f, "str", v)
		}
	}
	depID := body["deployment_id"].(string)
	wf := body["workflow_id"].(string)
	params := map[string]any{}
	if v, ok := body["parameters"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return typeError("parameters", "dict", v)
		}
		params = m
	}
	flags := map[string]bool{}
	for _, f := range []string{"allow_custom_parameters", "force", "dry_run", "queue"} {
		b, errResp := bodyBool(body, f)
		if errResp != nil {
			return errResp
		}
		flags[f] = b
	}
	if !s.ver.atLeast(4, 5, 0) {
		flags["queue"] = false
	}
	d := s.deployments[depKey{rq.tenant, depID}]
	if d == nil {
		return notFound("Deployment", depID)
	}
	if r := s.envCheck(d); r != nil {
		return r
	}
	def, ok := d.workflows[wf]
	if !ok {
		return apiErr("nonexistent_workflow_error", "Workflow %s does not exist in the deployment %s", wf, depID)
	}
	merged, errResp := s.mergeWorkflowParams(rq, wf, asMap(asMap(def)["parameters"]), params, flags["allow_custom_parameters"])
	if errResp != nil {
		return errResp
	}
	status := stPending
	if !flags["force"] {
		if blocking := s.blockingExecutions(rq.tenant, depID); len(blocking) > 0 {
			if !flags["queue"] {
				return apiErr("existing_running_execution_error",
					"The following executions are currently running for this deployment: %s. To execute this workflow anyway, pass \"force=true\" as a query parameter to this request",
					runningIDs(blocking))
			}
			status = stQueued
		}
	}
	// A queued execution's availability is checked when it leaves the queue (dequeue).
	if s.ver.atLeast(6, 4, 0) && !flags["force"] && status != stQueued && !d.workflowAvailable(asMap(def)) {
		msg := "Workflow not available: " + wf
		e := s.newExecution(d, wf, merged, rq.user, rq.now, stFailed)
		e.errText = "Error preparing execution: " + msg
		e.endedAt = rq.now
		e.allowCustom = flags["allow_custom_parameters"]
		e.dryRun = flags["dry_run"]
		// the rejected row does not become the deployment's latest execution
		s.restoreLatest(d, e)
		return apiErr("unavailable_workflow_error", "%s", msg)
	}
	e := s.newExecution(d, wf, merged, rq.user, rq.now, status)
	e.allowCustom = flags["allow_custom_parameters"]
	e.dryRun = flags["dry_run"]
	s.recompute(d)
	return jsonResp(201, project(s.renderExecution(e, rq.now), s.executionFields()))
}

// restoreLatest points the deployment back at its previous latest execution
// after a rejected execution row was stored.
func (s *Simulator) restoreLatest(d *deployment, rejected *execution) {
	var prev *execution
	for _, e := range s.executions {
		if e == rejected || e.tenant != d.tenant || e.depID != d.id || strings.HasPrefix(e.errText, "Error preparing execution: ") {
			continue
		}
		if prev == nil || e.seq > prev.seq {
			prev = e
		}
	}
	d.latestExecID = ""
	if prev != nil {
		d.latestExecID = prev.id
	}
}

// mergeWorkflowParams fills defaults, rejects missing and undeclared
// parameters, and (6.0+) type-checks them.
func (s *Simulator) mergeWorkflowParams(rq *request, wf string, defs, given map[string]any, allowCustom bool) (map[string]any, *response) {
	merged := map[string]any{}
	var missing, undeclared []string
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		def := asMap(defs[n])
		if v, ok := given[n]; ok {
			merged[n] = v
			continue
		}
		if d, ok := def["default"]; ok {
			merged[n] = deepCopy(d)
			continue
		}
		if isRequiredFalse(def) {
			continue
		}
		missing = append(missing, n)
	}
	for n, v := range given {
		if _, ok := defs[n]; !ok {
			if !allowCustom {
				undeclared = append(undeclared, n)
				continue
			}
			merged[n] = v
		}
	}
	sort.Strings(undeclared)
	if len(missing) > 0 {
		return nil, apiErr("illegal_execution_parameters_error",
			"Workflow \"%s\" must be provided with the following parameters to execute: %s", wf, strings.Join(missing, ","))
	}
	if len(undeclared) > 0 {
		return nil, apiErr("illegal_execution_parameters_error",
			"Workflow \"%s\" does not have the following parameters declared: %s. Remove these parameters or use the flag for allowing custom parameters",
			wf, strings.Join(undeclared, ","))
	}
	if s.ver.atLeast(6, 0, 0) {
		c := &inputChecker{s: s, tenant: rq.tenant}
		for _, n := range names {
			v, ok := merged[n]
			if !ok || v == nil {
				continue
			}
			if vi := c.check(n, asMap(defs[n]), v); vi != nil {
				return nil, apiErr("illegal_execution_parameters_error", "Workflow \"%s\": parameter %s: %s", wf, n, vi.msg)
			}
		}
	}
	return merged, nil
}

// validActions lists the execution actions of the simulated release.
func (s *Simulator) validActions() []string {
	acts := []string{"cancel", "force-cancel"}
	if s.ver.atLeast(4, 4, 0) {
		acts = append(acts, "kill")
	}
	if s.ver.atLeast(4, 5, 5) {
		acts = append(acts, "resume", "force-resume")
	}
	if s.ver.atLeast(6, 0, 0) {
		acts = append(acts, "requeue")
	}
	return acts
}

// handleExecutionAction serves POST /executions/{id} (cancel and friends).
func (s *Simulator) handleExecutionAction(rq *request) *response {
	id := rq.params["id"]
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	action, _ := body["action"].(string)
	valid := false
	for _, a := range s.validActions() {
		if a == action {
			valid = true
		}
	}
	if !valid {
		return apiErr("bad_parameters_error", "Invalid action: %s, Valid action values are: %s",
			pyStr(body["action"]), pyRepr(s.validActions()))
	}
	e := s.executions[id]
	if e == nil || e.tenant != rq.tenant {
		return notFound("Execution", id)
	}
	fields := s.executionFields()
	switch action {
	case "resume", "force-resume", "requeue":
		// not simulated: the execution is returned unchanged
		return jsonResp(200, project(s.renderExecution(e, rq.now), fields))
	}
	kill := action == "kill"
	force := action == "force-cancel"
	if e.status == stQueued || e.status == stScheduled {
		kill = true
	}
	if isTerminal(e.status) {
		if kill {
			return jsonResp(200, project(s.renderExecution(e, rq.now), fields))
		}
		return apiErr("illegal_action_error", "Can't %s execution %s because it's in status %s", action, id, e.status)
	}
	if !kill {
		allowed := e.status == stPending || e.status == stStarted
		if s.ver.atLeast(4, 5, 5) && e.status == stScheduled {
			allowed = true
		}
		if force && e.status == stCancelling {
			allowed = true
		}
		if !allowed {
			return apiErr("illegal_action_error", "Can't %s execution %s because it's in status %s", action, id, e.status)
		}
	}
	newStatus := stCancelling
	switch {
	case kill:
		newStatus = stKillCancelling
	case force:
		newStatus = stForceCancelling
	}
	e.opsAtStop = s.finishedOps(e, rq.now)
	e.status = newStatus
	e.errText = ""
	e.cancelledAt = rq.now
	s.setNext(e, rq.now.Add(s.cancelDuration()))
	s.log.Debug("execution cancelling", "execution_id", id, "action", action, "status", newStatus)
	if d := s.deployments[depKey{e.tenant, e.depID}]; d != nil {
		s.recompute(d)
	}
	return jsonResp(200, project(s.renderExecution(e, rq.now), fields))
}
