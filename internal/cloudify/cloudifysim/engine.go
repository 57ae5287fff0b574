package cloudifysim

import (
	"fmt"
	"sort"
	"time"
)

// durOr returns d, def when d is zero, and 0 when d is negative.
func durOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// pendingDuration is the time from pending to started.
func (s *Simulator) pendingDuration() time.Duration {
	return durOr(s.cfg.Durations.Pending, 200*time.Millisecond)
}

// cancelDuration is the time from a cancelling state to cancelled.
func (s *Simulator) cancelDuration() time.Duration {
	return durOr(s.cfg.Durations.Cancel, 500*time.Millisecond)
}

// workflowDuration is how long wf runs (started to end) on a deployment of
// a blueprint: SetDuration on the deployment, then on the blueprint, then the
// fixture, then Config.Durations, then the defaults.
func (s *Simulator) workflowDuration(depID, bpID, wf string) time.Duration {
	for _, target := range []string{depID, bpID} {
		if d, ok := s.durOverride[target][wf]; ok && target != "" {
			return max(d, 0)
		}
	}
	if bp := s.blueprints[bpID]; bp != nil {
		if d, ok := bp.sim.durations[wf]; ok {
			return max(d, 0)
		}
	}
	if d, ok := s.cfg.Durations.Workflows[wf]; ok {
		return max(d, 0)
	}
	if d, ok := defaultWorkflowDurations[wf]; ok {
		return d
	}
	return durOr(s.cfg.Durations.Default, 2*time.Second)
}

// setNext schedules e's next transition (zero: none).
func (s *Simulator) setNext(e *execution, t time.Time) {
	e.nextAt = t
	e.held = false
}

// advance runs every due transition up to now, in time order.
func (s *Simulator) advance(now time.Time) {
	for {
		var next *execution
		for _, e := range s.executions {
			if e.nextAt.IsZero() || e.nextAt.After(now) {
				continue
			}
			if s.holdState(e) == e.status {
				e.held = true
				continue
			}
			if next == nil || e.nextAt.Before(next.nextAt) || (e.nextAt.Equal(next.nextAt) && e.seq < next.seq) {
				next = e
			}
		}
		if next == nil {
			return
		}
		t := next.nextAt
		if next.held {
			t = now // released from a hang: the transition happens now
		}
		s.step(next, t)
	}
}

// holdState returns the status in which a hang rule keeps e ("pending",
// "started" or "").
func (s *Simulator) holdState(e *execution) string {
	if e.status != stPending && e.status != stStarted {
		return ""
	}
	for _, f := range s.wfFaults {
		if f.hang != "" && f.matches(e) {
			return f.hang
		}
	}
	if bp := s.blueprints[e.bpID]; bp != nil {
		if h := bp.sim.hang[e.workflowID]; h != "" {
			return h
		}
	}
	if ef, ok := s.effectOf(e); ok && ef.Kind == effectHang {
		return ef.State
	}
	return ""
}

// step performs e's due transition at time t.
func (s *Simulator) step(e *execution, t time.Time) {
	switch e.status {
	case stPending:
		e.status = stStarted
		e.startedAt = t
		s.setNext(e, t.Add(s.workflowDuration(e.depID, e.bpID, e.workflowID)))
		if u := s.updates[e.updateID]; u != nil && u.state == "updating" {
			u.state = "executing_workflow"
		}
		s.log.Debug("execution started", "execution_id", e.id, "workflow_id", e.workflowID, "deployment_id", e.depID)
		if d := s.deployments[depKey{e.tenant, e.depID}]; d != nil {
			s.recompute(d)
		}
	case stStarted:
		if failed, msg := s.outcome(e); failed {
			s.finish(e, stFailed, msg, t)
		} else {
			s.finish(e, stTerminated, "", t)
		}
	case stCancelling, stForceCancelling, stKillCancelling:
		s.finish(e, stCancelled, "", t)
	default:
		s.setNext(e, time.Time{})
	}
}

// outcome decides whether a started execution fails, and with what error.
func (s *Simulator) outcome(e *execution) (bool, string) {
	d := s.deployments[depKey{e.tenant, e.depID}]
	if e.workflowID == wfCreateEnv && d != nil {
		if !s.ver.atLeast(6, 0, 0) {
			e.resolved = d.inputs
		} else {
			raw := asMap(e.params["inputs"])
			resolved, vi := s.resolveInputs(d.bp, e.tenant, raw)
			if vi != nil {
				return true, workflowTraceback("cloudify_system_workflows/deployment_environment.py", "create", vi.pythonLine())
			}
			e.resolved = resolved
		}
	}
	if e.workflowID == wfUpdate && d != nil && s.ver.atLeast(7, 0, 0) {
		if u := s.updates[e.updateID]; u != nil {
			bp := s.blueprints[u.newBP]
			if bp != nil {
				resolved, vi := s.resolveInputs(bp, e.tenant, u.newInputs)
				if vi != nil {
					return true, workflowTraceback("cloudify_system_workflows/deployment_update/workflow.py", "update_deployment", vi.pythonLine())
				}
				e.resolved = resolved
			}
		}
	}
	for _, f := range s.wfFaults {
		if f.hang == "" && f.matches(e) {
			return true, f.errText
		}
	}
	if bp := s.blueprints[e.bpID]; bp != nil && bp.sim.failWorkflows[e.workflowID] {
		msg := bp.sim.errText
		if msg == "" {
			msg = defaultWorkflowError(e.workflowID)
		}
		return true, msg
	}
	return s.effectFailure(e)
}

// workflowTraceback renders a mgmtworker traceback ending in last.
func workflowTraceback(file, fn, last string) string {
	return "Traceback (most recent call last):\n" +
		"  File \"/opt/mgmtworker/env/lib/python3.11/site-packages/cloudify/dispatch.py\", line 1162, in _remote_workflow_child_thread\n" +
		"    workflow_result = self._execute_workflow_function()\n" +
		"  File \"/opt/mgmtworker/env/lib/python3.11/site-packages/" + file + "\", line 87, in " + fn + "\n" +
		"    raise\n" +
		last + "\n"
}

// defaultWorkflowError is the error of an injected failure without a text.
func defaultWorkflowError(wf string) string {
	return workflowTraceback("cloudify/plugins/workflows.py", wf,
		"cloudify.exceptions.NonRecoverableError: Workflow "+wf+" failed (simulated failure)")
}

// finish moves e to an end state at t and applies its effects.
func (s *Simulator) finish(e *execution, status, errText string, t time.Time) {
	if status != stTerminated {
		e.opsAtStop = s.finishedOps(e, t)
		if status == stFailed && e.opsAtStop == 0 && !e.startedAt.IsZero() {
			e.opsAtStop = e.totalOps / 2
		}
	}
	e.status = status
	e.errText = errText
	e.endedAt = t
	s.setNext(e, time.Time{})
	s.log.Debug("execution ended", "execution_id", e.id, "workflow_id", e.workflowID,
		"deployment_id", e.depID, "status", status)
	key := depKey{e.tenant, e.depID}
	if d := s.deployments[key]; d != nil {
		s.applyEffects(d, e, t)
		if d2 := s.deployments[key]; d2 != nil {
			d2.updatedAt = t
			s.recompute(d2)
		}
	}
	if u := s.updates[e.updateID]; u != nil {
		if status == stTerminated {
			u.state = "successful"
		} else {
			u.state = "failed"
		}
	}
	s.dequeue(e.tenant, e.depID, t)
}

// applyEffects changes the deployment according to a finished execution.
func (s *Simulator) applyEffects(d *deployment, e *execution, t time.Time) {
	ran := !e.startedAt.IsZero()
	switch e.workflowID {
	case wfCreateEnv:
		if e.status == stTerminated && s.ver.atLeast(6, 0, 0) && e.resolved != nil {
			s.populate(d, d.bp, e.resolved, t)
		}
		return
	case wfDeleteEnv:
		force, _ := e.params["force"].(bool)
		if e.status == stTerminated || (e.status == stFailed && force) {
			s.removeDeployment(d, t, "delete_deployment_environment")
		}
		return
	case wfUpdate:
		if e.status == stTerminated {
			if u := s.updates[e.updateID]; u != nil {
				s.applyUpdate(d, u, e, t)
			}
		}
		return
	}
	if e.dryRun {
		return
	}
	switch e.workflowID {
	case "install":
		switch {
		case e.status == stTerminated:
			setStates(d, "started", nil)
		case ran:
			// a failed or cancelled install leaves the first half started
			n := len(d.nodes) / 2
			for i, ni := range d.nodes {
				if i < n {
					ni.state = "started"
				} else {
					ni.state = "uninitialized"
				}
			}
		}
	case "uninstall":
		switch {
		case e.status == stTerminated:
			setStates(d, "deleted", nil)
			d.users = nil // the service and its users are gone
		case ran:
			live := 0
			for _, ni := range d.nodes {
				if ni.state != "uninitialized" && ni.state != "deleted" {
					if live%2 == 0 {
						ni.state = "deleted"
					}
					live++
				}
			}
		}
	case "reinstall", "heal":
		if e.status == stTerminated {
			setStates(d, "started", nil)
		}
	case "start":
		if e.status == stTerminated {
			setStates(d, "started", map[string]bool{"stopped": true, "configured": true})
		}
	case "stop":
		if e.status == stTerminated {
			setStates(d, "stopped", map[string]bool{"started": true})
		}
	default:
		if e.status == stTerminated {
			s.applyCustomEffect(d, e, t)
		}
	}
}

// setStates sets every instance (or those in the from states) to state.
func setStates(d *deployment, state string, from map[string]bool) {
	for _, ni := range d.nodes {
		if from == nil || from[ni.state] {
			ni.state = state
		}
	}
}

// populate applies the blueprint plan and resolved inputs to the deployment,
// creating node instances in state uninitialized (keeping the states of
// instances whose node still exists).
func (s *Simulator) populate(d *deployment, bp *blueprint, inputs map[string]any, t time.Time) {
	d.bp = bp
	d.blueprintID = bp.id
	d.inputs = inputs
	if d.inputs == nil {
		d.inputs = map[string]any{}
	}
	d.description = bp.plan["description"]
	d.outputs = copyMap(asMap(bp.plan["outputs"]))
	if d.outputs == nil {
		d.outputs = map[string]any{}
	}
	d.capabilities = copyMap(asMap(bp.plan["capabilities"]))
	if d.capabilities == nil {
		d.capabilities = map[string]any{}
	}
	d.workflows = copyMap(asMap(bp.plan["workflows"]))
	d.paramsJSON = nil
	if d.workflows == nil {
		d.workflows = map[string]any{}
	}
	old := map[string][]*nodeInstance{}
	for _, ni := range d.nodes {
		old[ni.nodeID] = append(old[ni.nodeID], ni)
	}
	allStarted := len(d.nodes) > 0
	for _, ni := range d.nodes {
		if ni.state != "started" {
			allStarted = false
		}
	}
	var nodes []*nodeInstance
	for _, n := range bp.nodes() {
		count := n.Instances
		if n.InstancesInput != "" {
			if c, ok := toInt(inputs[n.InstancesInput]); ok {
				count = c
			}
		}
		if count <= 0 && n.InstancesInput == "" {
			count = 1
		}
		for i := 0; i < count; i++ {
			if prev := old[n.ID]; i < len(prev) {
				nodes = append(nodes, prev[i])
				continue
			}
			state := "uninitialized"
			if allStarted {
				state = "started" // added by an update of an installed deployment
			}
			nodes = append(nodes, &nodeInstance{id: n.ID + "_" + s.randString(6, "abcdefghijklmnopqrstuvwxyz0123456789"),
				nodeID: n.ID, state: state, index: i})
		}
	}
	d.nodes = nodes
	d.updatedAt = t
}

// recompute refreshes installation_status and deployment_status (6.0+).
func (s *Simulator) recompute(d *deployment) {
	if !s.ver.atLeast(6, 0, 0) {
		return
	}
	if d.ready() {
		d.instStatus = "active"
		for _, ni := range d.nodes {
			if ni.state != "started" {
				d.instStatus = "inactive"
				break
			}
		}
	}
	inst := d.instStatus
	if inst == "" {
		inst = "inactive"
	}
	latest := ""
	if le := s.executions[d.latestExecID]; le != nil {
		latest = statusSummary(le.status)
	}
	switch {
	case latest == "in_progress":
		d.depStatus = "in_progress"
	case latest == "failed" || inst == "inactive":
		d.depStatus = "requires_attention"
	default:
		d.depStatus = "good"
	}
}

// dequeue starts the oldest queued execution of a free deployment, queued
// create_deployment_environment executions first.
func (s *Simulator) dequeue(tenant, depID string, t time.Time) {
	var queued []*execution
	for _, e := range s.executions {
		if e.tenant != tenant || e.depID != depID {
			continue
		}
		if isActive(e.status) {
			return
		}
		if e.status == stQueued {
			queued = append(queued, e)
		}
	}
	if len(queued) == 0 {
		return
	}
	sort.Slice(queued, func(i, j int) bool {
		ci, cj := queued[i].workflowID == wfCreateEnv, queued[j].workflowID == wfCreateEnv
		if ci != cj {
			return ci
		}
		if !queued[i].createdAt.Equal(queued[j].createdAt) {
			return queued[i].createdAt.Before(queued[j].createdAt)
		}
		return queued[i].seq < queued[j].seq
	})
	e := queued[0]
	// 6.4+ checks a queued workflow's availability when it leaves the queue, and fails
	// it then, as it would have refused it at start.
	if d := s.deployments[depKey{tenant, depID}]; d != nil && s.ver.atLeast(6, 4, 0) {
		if def, ok := d.workflows[e.workflowID]; ok && !d.workflowAvailable(asMap(def)) {
			e.status = stFailed
			e.errText = "Error preparing execution: Workflow not available: " + e.workflowID
			e.endedAt = t
			s.setNext(e, time.Time{})
			s.log.Debug("queued execution failed: workflow not available", "execution_id", e.id, "workflow_id", e.workflowID, "deployment_id", depID)
			s.recompute(d)
			s.dequeue(tenant, depID, t)
			return
		}
	}
	e.status = stPending
	s.setNext(e, t.Add(s.pendingDuration()))
	s.log.Debug("execution dequeued", "execution_id", e.id, "workflow_id", e.workflowID, "deployment_id", depID)
	if d := s.deployments[depKey{tenant, depID}]; d != nil {
		s.recompute(d)
	}
}

// newExecution stores a new execution of wf on d and makes it the latest.
func (s *Simulator) newExecution(d *deployment, wf string, params map[string]any, user string, now time.Time, status string) *execution {
	s.seq++
	e := &execution{
		id: s.newID(), tenant: d.tenant, depID: d.id, bpID: d.blueprintID, depDisplayName: d.displayName,
		workflowID: wf, status: status, params: params, createdAt: now, createdBy: user, seq: s.seq,
	}
	n := len(d.nodes)
	if n == 0 && d.bp != nil {
		n = len(d.bp.nodes())
	}
	switch wf {
	case wfCreateEnv, wfDeleteEnv:
		e.totalOps = 0
	case "install", "uninstall", "reinstall":
		e.totalOps = 6 * n
	default:
		e.totalOps = 2 * n
	}
	if status == stPending {
		s.setNext(e, now.Add(s.pendingDuration()))
	}
	s.executions[e.id] = e
	d.latestExecID = e.id
	s.log.Debug("execution created", "execution_id", e.id, "workflow_id", wf, "deployment_id", d.id, "status", status)
	return e
}

// removeDeployment deletes a deployment with its executions and updates.
func (s *Simulator) removeDeployment(d *deployment, t time.Time, why string) {
	delete(s.deployments, depKey{d.tenant, d.id})
	for id, e := range s.executions {
		if e.tenant == d.tenant && e.depID == d.id {
			delete(s.executions, id)
		}
	}
	for id, u := range s.updates {
		if u.tenant == d.tenant && u.depID == d.id {
			delete(s.updates, id)
		}
	}
	info := s.deploymentInfo(d)
	info.Exists = false
	info.DeletedAt = t
	s.tombstones = append(s.tombstones, info)
	s.log.Debug("deployment removed", "deployment_id", d.id, "tenant", d.tenant, "by", why)
}

// errExecNotRunning formats ids as the manager's Python list.
func runningIDs(execs []*execution) string {
	ids := make([]string, len(execs))
	for i, e := range execs {
		ids[i] = e.id
	}
	return pyRepr(ids)
}

// blockingExecutions returns the executions that keep a new one from
// starting on the deployment: active ones, and from 6.0 queued ones.
func (s *Simulator) blockingExecutions(tenant, depID string) []*execution {
	var out []*execution
	for _, e := range s.executions {
		if e.tenant != tenant || e.depID != depID {
			continue
		}
		if isActive(e.status) || (e.status == stQueued && s.ver.atLeast(6, 0, 0)) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// envCheck is the create_deployment_environment gate of POST /executions.
func (s *Simulator) envCheck(d *deployment) *response {
	ce := s.executions[d.createExecID]
	if ce == nil {
		return nil
	}
	switch {
	case ce.status == stPending || ce.status == stQueued || ce.status == stScheduled:
		return apiErr("deployment_environment_creation_pending_error",
			"Deployment environment creation is still pending, try again in a minute")
	case ce.status == stStarted || isCancelling(ce.status):
		return apiErr("deployment_environment_creation_in_progress_error",
			"Deployment environment creation is still in progress, try again in a minute")
	case ce.status == stFailed || ce.status == stCancelled:
		msg := fmt.Sprintf("Can't launch executions since environment creation for deployment %s has failed: %s",
			d.id, lastLine(ce.errText))
		if !s.ver.atLeast(6, 0, 0) {
			return internalError("RuntimeError", msg)
		}
		return apiErr("deployment_creation_error", "%s", msg)
	}
	return nil
}
