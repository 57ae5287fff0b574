package cloudifysim

import (
	"maps"
	"sort"
	"time"
)

// statsData holds the counters behind Stats.
type statsData struct {
	requests    map[string]int
	total       int
	faults      map[string]int
	faultsTotal int
}

// newStatsData returns empty counters.
func newStatsData() statsData {
	return statsData{requests: map[string]int{}, faults: map[string]int{}}
}

// Stats is a snapshot of the simulator's counters.
type Stats struct {
	// Requests counts requests per "METHOD /route/{template}" (route
	// templates relative to /api/v3.1; unknown routes as "METHOD <unmatched>").
	Requests map[string]int
	// TotalRequests is the number of requests received.
	TotalRequests int
	// Faults counts injected faults per FaultKind.String().
	Faults map[string]int
	// FaultsInjected is the number of injected faults.
	FaultsInjected int
}

// Stats returns the request and fault counters.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Requests:       maps.Clone(s.stats.requests),
		TotalRequests:  s.stats.total,
		Faults:         maps.Clone(s.stats.faults),
		FaultsInjected: s.stats.faultsTotal,
	}
}

// ResetStats zeroes the counters.
func (s *Simulator) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStatsData()
}

// Label is a deployment label in snapshots.
type Label struct {
	Key, Value string
}

// DeploymentInfo is a snapshot of one deployment.
type DeploymentInfo struct {
	Tenant      string
	ID          string
	BlueprintID string
	DisplayName string
	// Inputs are the deployment's inputs; nil until create_deployment_environment
	// has applied them (6.0+).
	Inputs map[string]any
	Labels []Label
	// InstallationStatus is "active" when every node instance is started,
	// "inactive" otherwise (computed for every release).
	InstallationStatus string
	// DeploymentStatus is the 6.0+ deployment_status ("" before 6.0).
	DeploymentStatus string
	// NodeInstances counts node instances per state.
	NodeInstances map[string]int
	// BindingUsers are the users create_secret workflow effects made (a
	// database user per binding), by binding; delete_user and
	// delete_secret effects and a successful uninstall remove them.
	BindingUsers []BindingUser `json:",omitempty"`
	// Exists is false for a deployment that has been deleted.
	Exists    bool
	CreatedAt time.Time
	// DeletedAt is when a deleted deployment disappeared.
	DeletedAt time.Time
}

// deploymentInfo snapshots d.
func (s *Simulator) deploymentInfo(d *deployment) DeploymentInfo {
	info := DeploymentInfo{
		Tenant: d.tenant, ID: d.id, BlueprintID: d.blueprintID, DisplayName: d.displayName,
		Inputs: copyMap(d.inputs), DeploymentStatus: d.depStatus, NodeInstances: map[string]int{},
		Exists: true, CreatedAt: d.createdAt, InstallationStatus: "inactive",
	}
	for _, l := range d.labels {
		info.Labels = append(info.Labels, Label{Key: l.Key, Value: l.Value})
	}
	if len(d.users) > 0 {
		info.BindingUsers = bindingUsers(d)
	}
	allStarted := true
	for _, ni := range d.nodes {
		info.NodeInstances[ni.state]++
		if ni.state != "started" {
			allStarted = false
		}
	}
	if d.ready() && allStarted {
		info.InstallationStatus = "active"
	}
	return info
}

// Deployments returns every deployment (all tenants, by tenant and id),
// followed by the deleted ones in deletion order with Exists false.
func (s *Simulator) Deployments() []DeploymentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now().UTC())
	var out []DeploymentInfo
	for _, d := range s.deployments {
		out = append(out, s.deploymentInfo(d))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].ID < out[j].ID
	})
	return append(out, s.tombstones...)
}

// Deployment returns the snapshot of a live deployment in any tenant.
func (s *Simulator) Deployment(id string) (DeploymentInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now().UTC())
	for _, d := range s.sortedDeployments() {
		if d.id == id {
			return s.deploymentInfo(d), true
		}
	}
	return DeploymentInfo{}, false
}

// sortedDeployments lists deployments by tenant then id.
func (s *Simulator) sortedDeployments() []*deployment {
	out := make([]*deployment, 0, len(s.deployments))
	for _, d := range s.deployments {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].tenant != out[j].tenant {
			return out[i].tenant < out[j].tenant
		}
		return out[i].id < out[j].id
	})
	return out
}

// ExecutionInfo is a snapshot of one execution.
type ExecutionInfo struct {
	ID, Tenant, DeploymentID, BlueprintID, WorkflowID string
	Status                                            string
	Error                                             string
	Parameters                                        map[string]any
	IsDryRun                                          bool
	CreatedAt, StartedAt, EndedAt                     time.Time
}

// Executions returns the executions of a deployment (all tenants; every
// deployment when deploymentID is ""), oldest first.
func (s *Simulator) Executions(deploymentID string) []ExecutionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now().UTC())
	var es []*execution
	for _, e := range s.executions {
		if deploymentID == "" || e.depID == deploymentID {
			es = append(es, e)
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	out := make([]ExecutionInfo, len(es))
	for i, e := range es {
		out[i] = ExecutionInfo{ID: e.id, Tenant: e.tenant, DeploymentID: e.depID, BlueprintID: e.bpID,
			WorkflowID: e.workflowID, Status: e.status, Error: e.errText, Parameters: copyMap(e.params),
			IsDryRun: e.dryRun, CreatedAt: e.createdAt, StartedAt: e.startedAt, EndedAt: e.endedAt}
	}
	return out
}

// DeleteDeploymentNow removes a deployment (in every tenant) at once, with
// its executions and updates, as an operator deleting it by hand would. It
// reports whether one existed.
func (s *Simulator) DeleteDeploymentNow(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now().UTC()
	found := false
	for _, d := range s.sortedDeployments() {
		if d.id == id {
			s.removeDeployment(d, now, "DeleteDeploymentNow")
			found = true
		}
	}
	return found
}

// SetDuration sets how long workflowID runs (from started to its end) on the
// deployment or blueprint named target. A deployment's setting wins over its
// blueprint's; both win over the fixture and Config.Durations. It applies to
// executions that start after the call.
func (s *Simulator) SetDuration(target, workflowID string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.durOverride[target] == nil {
		s.durOverride[target] = map[string]time.Duration{}
	}
	s.durOverride[target][workflowID] = d
}
