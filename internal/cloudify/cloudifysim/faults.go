package cloudifysim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FaultKind selects what an injected fault does to a request.
type FaultKind int

// Fault kinds.
const (
	// FaultLatency delays the request by Fault.Latency, then serves it.
	FaultLatency FaultKind = iota + 1
	// FaultHTTPError answers 500 internal_server_error JSON with a traceback
	// (or Fault.Status / Fault.Code).
	FaultHTTPError
	// FaultMaintenance answers 503 maintenance_mode_active JSON.
	FaultMaintenance
	// FaultBadGateway answers nginx's non-JSON 502 page (or Fault.Status).
	FaultBadGateway
	// FaultDropConnection closes the connection without any response.
	FaultDropConnection
)

// String names the kind.
func (k FaultKind) String() string {
	switch k {
	case FaultLatency:
		return "latency"
	case FaultHTTPError:
		return "http_error"
	case FaultMaintenance:
		return "maintenance"
	case FaultBadGateway:
		return "bad_gateway"
	case FaultDropConnection:
		return "drop_connection"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultMatch selects the requests a fault applies to. Empty fields match
// everything; set fields must all match.
type FaultMatch struct {
	// PathPrefix matches the request path. A prefix starting with "/api/" is
	// compared with the full path, any other with the path after the API
	// prefix (for example "/deployments" or "/executions").
	PathPrefix string
	// Method matches the HTTP method, e.g. "POST".
	Method string
	// DeploymentID matches requests about that deployment: its URL, its
	// executions, updates and node instances, and POST /executions for it.
	DeploymentID string
	// BlueprintID matches requests about that blueprint, or about deployments
	// of it.
	BlueprintID string
}

// Fault describes an injected HTTP-level failure.
type Fault struct {
	// Kind is what happens.
	Kind FaultKind
	// Match selects the requests.
	Match FaultMatch
	// Count is how many requests the fault hits before it expires; 0 means
	// until removed.
	Count int
	// Probability is the chance that a matching request is hit; 0 means 1.
	Probability float64
	// Latency delays the response (for any kind).
	Latency time.Duration
	// Status overrides the HTTP status of HTTPError, Maintenance and
	// BadGateway.
	Status int
	// Code overrides the error_code of HTTPError.
	Code string
	// Message overrides the message of HTTPError and Maintenance.
	Message string
}

// faultEntry is a registered fault.
type faultEntry struct {
	id        int
	f         Fault
	remaining int
}

// workflowFault makes matching executions fail or hang.
type workflowFault struct {
	target, workflow string
	errText          string
	hang             string // "pending" or "started"; "" for a failure
}

// matches reports whether the rule applies to e.
func (f workflowFault) matches(e *execution) bool {
	return (f.target == "" || f.target == e.depID || f.target == e.bpID) &&
		(f.workflow == "" || f.workflow == e.workflowID)
}

// AddFault registers an HTTP fault and returns its id.
func (s *Simulator) AddFault(f Fault) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFaultID++
	s.faults = append(s.faults, &faultEntry{id: s.nextFaultID, f: f, remaining: f.Count})
	s.log.Debug("fault added", "fault_id", s.nextFaultID, "kind", f.Kind.String(), "path_prefix", f.Match.PathPrefix)
	return s.nextFaultID
}

// RemoveFault removes one HTTP fault; it reports whether it existed.
func (s *Simulator) RemoveFault(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.faults {
		if e.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every HTTP fault and every FailWorkflow/HangWorkflow
// rule. Hung executions resume at the next request or Tick.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.wfFaults = nil
	s.log.Debug("faults cleared")
}

// FailWorkflow makes executions of workflowID ("" for any) on the
// deployment or blueprint target ("" for any) end failed with errorText
// (a traceback whose last line is the summary). It applies to executions that
// end after the call, until ClearFaults or ReleaseWorkflow.
func (s *Simulator) FailWorkflow(target, workflowID, errorText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errorText == "" {
		errorText = defaultWorkflowError(workflowID)
	}
	s.wfFaults = append(s.wfFaults, workflowFault{target: target, workflow: workflowID, errText: errorText})
	s.log.Debug("workflow failure injected", "target", target, "workflow_id", workflowID)
}

// HangWorkflow keeps executions of workflowID ("" for any) on the
// deployment or blueprint target ("" for any) in state: "started" (a workflow
// that never finishes; the default when state is "") or "pending" (a dead
// worker). Cancelling still works. ReleaseWorkflow or ClearFaults lets them go
// on from the moment of release.
func (s *Simulator) HangWorkflow(target, workflowID, state string) {
	if state == "" {
		state = stStarted
	}
	if state != stStarted && state != stPending {
		panic(fmt.Sprintf("cloudifysim: HangWorkflow state must be %q or %q, got %q", stStarted, stPending, state))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wfFaults = append(s.wfFaults, workflowFault{target: target, workflow: workflowID, hang: state})
	s.log.Debug("workflow hang injected", "target", target, "workflow_id", workflowID, "state", state)
}

// ReleaseWorkflow removes the FailWorkflow and HangWorkflow rules given for
// exactly this target and workflow id.
func (s *Simulator) ReleaseWorkflow(target, workflowID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.wfFaults[:0]
	for _, f := range s.wfFaults {
		if f.target != target || f.workflow != workflowID {
			kept = append(kept, f)
		}
	}
	s.wfFaults = kept
}

// requestTargets finds the deployment and blueprint a request is about.
func (s *Simulator) requestTargets(r *http.Request, rel string, body []byte) (dep, bp string) {
	tenant := r.Header.Get("Tenant")
	segs := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	var bodyMap map[string]any
	if len(body) > 0 {
		_ = decodeJSON(body, &bodyMap)
	}
	bodyStr := func(k string) string {
		v, _ := bodyMap[k].(string)
		return v
	}
	switch {
	case len(segs) >= 2 && segs[0] == "deployments":
		dep = segs[1]
		bp = bodyStr("blueprint_id")
	case len(segs) >= 2 && segs[0] == "deployment-updates":
		if u := s.updates[segs[1]]; u != nil {
			dep = u.depID
		} else {
			dep = segs[1]
			bp = bodyStr("blueprint_id")
		}
	case len(segs) == 2 && segs[0] == "executions":
		if e := s.executions[segs[1]]; e != nil {
			dep, bp = e.depID, e.bpID
		}
	case len(segs) == 2 && segs[0] == "blueprints":
		bp = segs[1]
	case len(segs) == 1 && segs[0] == "executions":
		dep = bodyStr("deployment_id")
	}
	if dep == "" {
		dep = r.URL.Query().Get("deployment_id")
	}
	if bp == "" && dep != "" {
		if d := s.deployments[depKey{tenant, dep}]; d != nil {
			bp = d.blueprintID
		}
	}
	return dep, bp
}

// faultMatches checks a fault's selector against a request.
func (s *Simulator) faultMatches(m FaultMatch, r *http.Request, rel string, body []byte) bool {
	if m.Method != "" && !strings.EqualFold(m.Method, r.Method) {
		return false
	}
	if m.PathPrefix != "" {
		p := rel
		if strings.HasPrefix(m.PathPrefix, "/api/") {
			p = r.URL.Path
		}
		if !strings.HasPrefix(p, m.PathPrefix) {
			return false
		}
	}
	if m.DeploymentID != "" || m.BlueprintID != "" {
		dep, bp := s.requestTargets(r, rel, body)
		if m.DeploymentID != "" && m.DeploymentID != dep {
			return false
		}
		if m.BlueprintID != "" && m.BlueprintID != bp {
			return false
		}
	}
	return true
}

// injectFault counts the request, applies matching faults and reports
// whether the request has been answered (or dropped) by one.
func (s *Simulator) injectFault(w http.ResponseWriter, r *http.Request, rel, key string, body []byte) bool {
	s.mu.Lock()
	s.stats.requests[key]++
	s.stats.total++
	var latency time.Duration
	var hit *Fault
	kept := s.faults[:0]
	for _, fe := range s.faults {
		fires := hit == nil && s.faultMatches(fe.f.Match, r, rel, body) &&
			(fe.f.Probability <= 0 || s.rng.Float64() < fe.f.Probability)
		if fires {
			s.stats.faults[fe.f.Kind.String()]++
			s.stats.faultsTotal++
			latency += fe.f.Latency
			if fe.f.Kind != FaultLatency {
				f := fe.f
				hit = &f
			}
			if fe.f.Count > 0 {
				fe.remaining--
				if fe.remaining <= 0 {
					continue // expired
				}
			}
		}
		kept = append(kept, fe)
	}
	s.faults = kept
	s.mu.Unlock()
	if latency > 0 {
		if !sleepCtx(r.Context(), latency) {
			return true
		}
	}
	if hit == nil {
		return false
	}
	s.log.Debug("fault injected", "kind", hit.Kind.String(), "method", r.Method, "path", r.URL.Path)
	switch hit.Kind {
	case FaultHTTPError:
		code := hit.Code
		if code == "" {
			code = "internal_server_error"
		}
		msg := hit.Message
		if msg == "" {
			msg = "Internal error occurred in manager REST server - OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly"
		}
		resp := apiErr(code, "%s", msg)
		if code == "internal_server_error" {
			resp.body.(map[string]any)["server_traceback"] = fakeTraceback("manager_rest/storage/storage_manager.py",
				"psycopg2.OperationalError: server closed the connection unexpectedly")
		}
		if hit.Status != 0 {
			resp.status = hit.Status
		}
		resp.write(w)
	case FaultMaintenance:
		msg := hit.Message
		if msg == "" {
			msg = "Your request was rejected since Cloudify manager is currently in maintenance mode"
		}
		resp := apiErr("maintenance_mode_active", "%s", msg)
		if hit.Status != 0 {
			resp.status = hit.Status
		}
		resp.write(w)
	case FaultBadGateway:
		status := hit.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		text := fmt.Sprintf("%d %s", status, nginxStatusText(status))
		page := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
			"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
		(&response{status: status, raw: []byte(page), contentType: "text/html"}).write(w)
	case FaultDropConnection:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	default:
		return false
	}
	return true
}

// nginxStatusText is nginx's reason phrase.
func nginxStatusText(status int) string {
	switch status {
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Temporarily Unavailable"
	case 504:
		return "Gateway Time-out"
	}
	return http.StatusText(status)
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
