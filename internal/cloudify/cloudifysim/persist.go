package cloudifysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// stateVersion is the format version of the state file.
const stateVersion = 1

// simState is what the state file holds: the deployments, executions, updates,
// secrets and deleted deployments, with the simulated time they were saved at.
// Blueprints are not kept: they come from the fixtures (LoadSamples, AddBlueprint)
// at every start, and deployments find theirs by id.
type simState struct {
	Version     int               `json:"version"`
	SavedAt     time.Time         `json:"saved_at"`
	Seq         int64             `json:"seq"`
	Deployments []stateDeployment `json:"deployments"`
	Executions  []stateExecution  `json:"executions"`
	Updates     []stateUpdate     `json:"updates"`
	Secrets     []stateSecret     `json:"secret_records,omitempty"`
	Tombstones  []DeploymentInfo  `json:"tombstones,omitempty"`
}

type stateSecret struct {
	Tenant     string    `json:"tenant"`
	Key        string    `json:"key"`
	Value      string    `json:"value"`
	Visibility string    `json:"visibility"`
	Hidden     bool      `json:"is_hidden_value"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Seq        int64     `json:"seq"`
}

type stateNode struct {
	ID     string `json:"id"`
	NodeID string `json:"node_id"`
	State  string `json:"state"`
	Index  int    `json:"index"`
}

type stateDeployment struct {
	Tenant       string         `json:"tenant"`
	ID           string         `json:"id"`
	BlueprintID  string         `json:"blueprint_id"`
	DisplayName  string         `json:"display_name"`
	Description  any            `json:"description"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	CreatedBy    string         `json:"created_by"`
	Visibility   string         `json:"visibility"`
	Labels       []label        `json:"labels"`
	Inputs       map[string]any `json:"inputs"`
	Outputs      map[string]any `json:"outputs"`
	Capabilities map[string]any `json:"capabilities"`
	Workflows    map[string]any `json:"workflows"`
	Nodes        []stateNode    `json:"nodes"`
	CreateExecID string         `json:"create_exec_id"`
	LatestExecID string         `json:"latest_exec_id"`
	InstStatus   string         `json:"inst_status"`
	DepStatus    string         `json:"dep_status"`
	SiteName     any            `json:"site_name"`
	RuntimeOnly  bool           `json:"runtime_only"`
	Seq          int64          `json:"seq"`
	Users        []BindingUser  `json:"binding_users,omitempty"`
}

type stateExecution struct {
	ID             string         `json:"id"`
	Tenant         string         `json:"tenant"`
	DepID          string         `json:"dep_id"`
	BPID           string         `json:"bp_id"`
	DepDisplayName string         `json:"dep_display_name"`
	WorkflowID     string         `json:"workflow_id"`
	Status         string         `json:"status"`
	ErrText        string         `json:"err_text"`
	Params         map[string]any `json:"params"`
	DryRun         bool           `json:"dry_run"`
	AllowCustom    bool           `json:"allow_custom"`
	CreatedAt      time.Time      `json:"created_at"`
	StartedAt      time.Time      `json:"started_at"`
	EndedAt        time.Time      `json:"ended_at"`
	CancelledAt    time.Time      `json:"cancelled_at"`
	CreatedBy      string         `json:"created_by"`
	NextAt         time.Time      `json:"next_at"`
	Held           bool           `json:"held"`
	Seq            int64          `json:"seq"`
	TotalOps       int            `json:"total_ops"`
	OpsAtStop      int            `json:"ops_at_stop"`
	UpdateID       string         `json:"update_id"`
	Resolved       map[string]any `json:"resolved"`
	System         bool           `json:"system"`
}

type stateUpdate struct {
	ID        string         `json:"id"`
	Tenant    string         `json:"tenant"`
	DepID     string         `json:"dep_id"`
	OldBP     string         `json:"old_bp"`
	NewBP     string         `json:"new_bp"`
	OldInputs map[string]any `json:"old_inputs"`
	NewInputs map[string]any `json:"new_inputs"`
	State     string         `json:"state"`
	ExecID    string         `json:"exec_id"`
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy string         `json:"created_by"`
	Seq       int64          `json:"seq"`
	Params    map[string]any `json:"params"`
}

// snapshotLocked encodes the state; s.mu is held.
func (s *Simulator) snapshotLocked(now time.Time) ([]byte, error) {
	st := simState{Version: stateVersion, SavedAt: now, Seq: s.seq, Tombstones: s.tombstones}
	for _, sec := range s.sortedSecrets() {
		st.Secrets = append(st.Secrets, stateSecret{Tenant: sec.tenant, Key: sec.key, Value: sec.value, Visibility: sec.visibility,
			Hidden: sec.hidden, CreatedBy: sec.createdBy, CreatedAt: sec.createdAt, UpdatedAt: sec.updatedAt, Seq: sec.seq})
	}
	for _, d := range s.deployments {
		sd := stateDeployment{Tenant: d.tenant, ID: d.id, BlueprintID: d.blueprintID, DisplayName: d.displayName,
			Description: d.description, CreatedAt: d.createdAt, UpdatedAt: d.updatedAt, CreatedBy: d.createdBy,
			Visibility: d.visibility, Labels: d.labels, Inputs: d.inputs, Outputs: d.outputs, Capabilities: d.capabilities,
			Workflows: d.workflows, CreateExecID: d.createExecID, LatestExecID: d.latestExecID, InstStatus: d.instStatus,
			DepStatus: d.depStatus, SiteName: d.siteName, RuntimeOnly: d.runtimeOnly, Seq: d.seq}
		for _, n := range d.nodes {
			sd.Nodes = append(sd.Nodes, stateNode{ID: n.id, NodeID: n.nodeID, State: n.state, Index: n.index})
		}
		if len(d.users) > 0 {
			sd.Users = bindingUsers(d)
		}
		st.Deployments = append(st.Deployments, sd)
	}
	for _, e := range s.executions {
		st.Executions = append(st.Executions, stateExecution{ID: e.id, Tenant: e.tenant, DepID: e.depID, BPID: e.bpID,
			DepDisplayName: e.depDisplayName, WorkflowID: e.workflowID, Status: e.status, ErrText: e.errText, Params: e.params,
			DryRun: e.dryRun, AllowCustom: e.allowCustom, CreatedAt: e.createdAt, StartedAt: e.startedAt, EndedAt: e.endedAt,
			CancelledAt: e.cancelledAt, CreatedBy: e.createdBy, NextAt: e.nextAt, Held: e.held, Seq: e.seq,
			TotalOps: e.totalOps, OpsAtStop: e.opsAtStop, UpdateID: e.updateID, Resolved: e.resolved, System: e.system})
	}
	for _, u := range s.updates {
		st.Updates = append(st.Updates, stateUpdate{ID: u.id, Tenant: u.tenant, DepID: u.depID, OldBP: u.oldBP, NewBP: u.newBP,
			OldInputs: u.oldInputs, NewInputs: u.newInputs, State: u.state, ExecID: u.execID, CreatedAt: u.createdAt,
			CreatedBy: u.createdBy, Seq: u.seq, Params: u.params})
	}
	// A stable order, so that an unchanged state encodes to the same bytes.
	sort.Slice(st.Deployments, func(i, j int) bool { return st.Deployments[i].Seq < st.Deployments[j].Seq })
	sort.Slice(st.Executions, func(i, j int) bool { return st.Executions[i].Seq < st.Executions[j].Seq })
	sort.Slice(st.Updates, func(i, j int) bool { return st.Updates[i].Seq < st.Updates[j].Seq })
	return json.Marshal(st)
}

// persistLocked writes the state to Config.StateFile when it changed; s.mu is held,
// so the state a request leaves is on disk before its answer is written. Saving
// compares the state without its time, so requests that change nothing write nothing.
func (s *Simulator) persistLocked() {
	if s.cfg.StateFile == "" {
		return
	}
	data, err := s.snapshotLocked(time.Time{})
	if err != nil {
		s.log.Error("simulator state not saved", "error", err)
		return
	}
	if bytes.Equal(data, s.savedState) {
		return
	}
	// The saved time is the clock's, so that a restart can carry the times over.
	withTime, err := s.snapshotLocked(s.clock.Now().UTC())
	if err == nil {
		err = writeFileAtomic(s.cfg.StateFile, withTime)
	}
	if err != nil {
		s.log.Error("simulator state not saved", "error", err)
		return
	}
	s.savedState = data
}

// writeFileAtomic replaces path with data: a synced temporary file renamed over it,
// so that a crash leaves the old state or the new one, never a torn file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o600)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadState restores the state Config.StateFile holds, if the file exists (none:
// nothing to restore). Call it once, after New and the blueprint fixtures, before
// serving. The simulated times are carried over to the clock: the state resumes
// where it was saved (an execution 3 s into its run is 3 s into it), the time the
// simulator was down not counted. A deployment whose blueprint is not loaded is an
// error, as is a file in another format.
func (s *Simulator) LoadState() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	data, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cloudifysim: state: %w", err)
	}
	var st simState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("cloudifysim: state %s: %w", s.cfg.StateFile, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("cloudifysim: state %s: format version %d, want %d", s.cfg.StateFile, st.Version, stateVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	shift := s.clock.Now().UTC().Sub(st.SavedAt)
	at := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(shift).UTC()
	}
	deployments := map[depKey]*deployment{}
	for _, sd := range st.Deployments {
		bp := s.blueprints[sd.BlueprintID]
		if bp == nil {
			return fmt.Errorf("cloudifysim: state %s: deployment %s: blueprint %s is not loaded", s.cfg.StateFile, sd.ID, sd.BlueprintID)
		}
		d := &deployment{tenant: sd.Tenant, id: sd.ID, blueprintID: sd.BlueprintID, bp: bp, displayName: sd.DisplayName,
			description: sd.Description, createdAt: at(sd.CreatedAt), updatedAt: at(sd.UpdatedAt), createdBy: sd.CreatedBy,
			visibility: sd.Visibility, inputs: sd.Inputs, outputs: sd.Outputs, capabilities: sd.Capabilities,
			workflows: sd.Workflows, createExecID: sd.CreateExecID, latestExecID: sd.LatestExecID, instStatus: sd.InstStatus,
			depStatus: sd.DepStatus, siteName: sd.SiteName, runtimeOnly: sd.RuntimeOnly, seq: sd.Seq}
		for _, l := range sd.Labels {
			l.CreatedAt = at(l.CreatedAt)
			d.labels = append(d.labels, l)
		}
		for _, n := range sd.Nodes {
			d.nodes = append(d.nodes, &nodeInstance{id: n.ID, nodeID: n.NodeID, state: n.State, index: n.Index})
		}
		for _, u := range sd.Users {
			if d.users == nil {
				d.users = map[string]*bindingUser{}
			}
			d.users[u.Binding] = &bindingUser{username: u.Username, password: u.Password, secretKey: u.SecretKey, createdAt: at(u.CreatedAt)}
		}
		deployments[depKey{d.tenant, d.id}] = d
	}
	executions := map[string]*execution{}
	for _, se := range st.Executions {
		executions[se.ID] = &execution{id: se.ID, tenant: se.Tenant, depID: se.DepID, bpID: se.BPID, depDisplayName: se.DepDisplayName,
			workflowID: se.WorkflowID, status: se.Status, errText: se.ErrText, params: se.Params, dryRun: se.DryRun,
			allowCustom: se.AllowCustom, createdAt: at(se.CreatedAt), startedAt: at(se.StartedAt), endedAt: at(se.EndedAt),
			cancelledAt: at(se.CancelledAt), createdBy: se.CreatedBy, nextAt: at(se.NextAt), held: se.Held, seq: se.Seq,
			totalOps: se.TotalOps, opsAtStop: se.OpsAtStop, updateID: se.UpdateID, resolved: se.Resolved, system: se.System}
	}
	updates := map[string]*depUpdate{}
	for _, su := range st.Updates {
		updates[su.ID] = &depUpdate{id: su.ID, tenant: su.Tenant, depID: su.DepID, oldBP: su.OldBP, newBP: su.NewBP,
			oldInputs: su.OldInputs, newInputs: su.NewInputs, state: su.State, execID: su.ExecID, createdAt: at(su.CreatedAt),
			createdBy: su.CreatedBy, seq: su.Seq, params: su.Params}
	}
	for i := range st.Tombstones {
		st.Tombstones[i].CreatedAt = at(st.Tombstones[i].CreatedAt)
		st.Tombstones[i].DeletedAt = at(st.Tombstones[i].DeletedAt)
	}
	s.deployments, s.executions, s.updates, s.tombstones = deployments, executions, updates, st.Tombstones
	secrets := map[secretKey]*secret{}
	for _, ss := range st.Secrets {
		secrets[secretKey{ss.Tenant, ss.Key}] = &secret{tenant: ss.Tenant, key: ss.Key, value: ss.Value, visibility: ss.Visibility,
			hidden: ss.Hidden, createdBy: ss.CreatedBy, createdAt: at(ss.CreatedAt), updatedAt: at(ss.UpdatedAt), seq: ss.Seq}
	}
	s.secrets = secrets
	s.seq = max(s.seq, st.Seq)
	// New ids must not repeat those of the run that saved the state: the generator
	// continues from the saved sequence.
	seed := max(s.cfg.Seed, 1)
	s.rng = rand.New(rand.NewPCG(seed, uint64(st.Seq)))
	if data, err := s.snapshotLocked(time.Time{}); err == nil {
		s.savedState = data
	}
	s.log.Info("simulator state restored", "state_file", s.cfg.StateFile, "deployments", len(deployments), "executions", len(executions))
	return nil
}
