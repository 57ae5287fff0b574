package main

// The bindings of the fault campaign (TestChaos): the lifecycles bind and unbind
// while the faults run, mariadb's bindings through its osb_bind and osb_unbind
// workflows (asynchronously, a database user and a secret each), the other services'
// at once with shared credentials. Some lifecycles make a bind fail, an unbind fail,
// unbind while the bind hangs, or deprovision with their bindings left. The checks
// then count the secrets and database users no bound binding owns, and the bindings
// the platform was told it had that cannot be fetched or whose credentials are not
// the manager's.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim/simchaos"
)

// Lifecycle kinds about bindings (mariadb: bindings with credentials of their own).
const (
	// kindBindFails: osb_bind fails on the manager; the bind ends failed and leaves
	// nothing; the same binding id binds once the manager works again.
	kindBindFails lcKind = "bind-fails"
	// kindUnbindFails: osb_unbind fails; the binding keeps its credentials, and the
	// unbind asked again revokes them.
	kindUnbindFails lcKind = "unbind-fails"
	// kindUnbindDuringBind: osb_bind hangs and the platform unbinds: the unbind halts
	// the bind, and nothing is left.
	kindUnbindDuringBind lcKind = "unbind-while-binding"
	// kindDeprovisionBound: deprovision with the bindings never unbound.
	kindDeprovisionBound lcKind = "deprovision-with-bindings"
)

// bindingKinds run on mariadb only.
var bindingKinds = map[lcKind]bool{kindBindFails: true, kindUnbindFails: true, kindUnbindDuringBind: true, kindDeprovisionBound: true}

// Binding states, as the platform was told them.
const (
	bindingBound    = "bound"         // bind succeeded: fetchable with its credentials until unbound
	bindingUnbound  = "unbound"       // unbind answered 200 or ended 410
	bindingFailed   = "failed"        // bind ended failed: nothing may be left of it
	bindingWithInst = "deprovisioned" // the instance went with the binding bound
)

// bindingRec is one binding a lifecycle made and what the platform was told of it.
type bindingRec struct {
	id    string
	own   bool           // credentials of its own, from the bind workflow
	state string         // one of the binding states; "" while unknown
	creds map[string]any // what the fetch after the bind gave
	lost  bool           // counted lost already
}

// bindingTally counts the campaign's bindings.
type bindingTally struct {
	boundOwn, boundShared, unbound, failedAsExpected, lost atomic.Int64
	// leftUsers and leftSecrets count what an unbind or a failed bind left on the
	// manager, seen right after it.
	leftUsers, leftSecrets atomic.Int64
}

// ownErrorText is the traceback a failing osb_bind ends with; the bind's last_operation
// must carry its last line.
const (
	bindFailureReason   = "ProgrammingError: (1396) Operation CREATE USER failed"
	unbindFailureReason = "OperationalError: (2013) Lost connection during DROP USER"
)

func workflowTraceback(reason string) string {
	return "Traceback (most recent call last):\n  File \"scripts/workflow.py\", line 42, in <module>\n" + reason
}

// addBindingOp records an operation on one of the lifecycle's bindings.
func (lc *chaosLC) addBindingOp(kind, bindingID string, key *osbc.OperationKey) {
	if key == nil {
		return
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.ops = append(lc.ops, opRecord{kind: kind, key: *key, bindingID: bindingID})
}

func (lc *chaosLC) addBinding(rec *bindingRec) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.bindings = append(lc.bindings, rec)
}

func (lc *chaosLC) setBindingState(rec *bindingRec, state string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	rec.state = state
}

// pollBinding follows a binding's last_operation until it leaves "in progress" (or,
// for an unbind, answers 410).
func (c *chaos) pollBinding(ctx context.Context, lc *chaosLC, bindingID string, key *osbc.OperationKey) (pollResult, error) {
	return c.pollUntilDone(ctx, lc, "binding_last_operation", func() (*osbc.LastOperationResponse, error) {
		return c.e.client.PollBindingLastOperation(&osbc.BindingLastOperationRequest{InstanceID: lc.id, BindingID: bindingID, OperationKey: key})
	})
}

// bind makes binding id and follows it to its end; the record says how it ended. A
// bind that succeeded is fetched at once, and its credentials checked against the
// manager's user for it.
func (c *chaos) bind(ctx context.Context, lc *chaosLC, id string) *bindingRec {
	rec := &bindingRec{id: id, own: lc.svc.ownCreds}
	lc.addBinding(rec)
	req := &osbc.BindRequest{InstanceID: lc.id, BindingID: id, ServiceID: lc.serviceID, PlanID: lc.planID, AcceptsIncomplete: true}
	var resp *osbc.BindResponse
	if err := c.call(ctx, lc, "bind", func() (err error) { resp, err = c.e.client.Bind(req); return err }); err != nil {
		lc.Problem("bind %s: %v", id, err)
		return rec
	}
	if !rec.own {
		if resp.Async || resp.Credentials[lc.svc.credKey] == nil {
			lc.Problem("bind %s of shared credentials answered %+v, want 201 with %s", id, resp, lc.svc.credKey)
			return rec
		}
		lc.setBindingState(rec, bindingBound)
		c.bindings.boundShared.Add(1)
		c.fetchBinding(ctx, lc, rec, "after the bind")
		return rec
	}
	if !resp.Async || resp.OperationKey == nil || len(resp.Credentials) != 0 {
		lc.Problem("bind %s answered %+v, want 202 with an operation", id, resp)
		return rec
	}
	lc.addBindingOp("bind", id, resp.OperationKey)
	if lc.repeat {
		var again *osbc.BindResponse
		err := c.call(ctx, lc, "bind", func() (err error) { again, err = c.e.client.Bind(req); return err })
		c.repeats.Add(1)
		switch {
		case err == nil && again.Async && again.OperationKey != nil && *again.OperationKey == *resp.OperationKey:
		case err == nil && !again.Async && again.Credentials["username"] != nil: // bound already
		case statusOf(err) == http.StatusConflict: // failed already
		default:
			lc.Problem("repeated bind %s answered %+v, %v; want 202 with operation %s", id, again, err, *resp.OperationKey)
		}
	}
	res, err := c.pollBinding(ctx, lc, id, resp.OperationKey)
	switch {
	case err != nil:
		lc.Problem("bind %s: %v", id, err)
		return rec
	case res.gone:
		lc.Problem("last_operation of bind %s answered 410", id)
		return rec
	case res.state == osbc.StateSucceeded:
		lc.Logf("bind %s succeeded: %s", id, res.desc)
		lc.setBindingState(rec, bindingBound)
		c.bindings.boundOwn.Add(1)
		c.fetchBinding(ctx, lc, rec, "after the bind")
		return rec
	}
	lc.Logf("bind %s ended %s: %s", id, res.state, res.desc)
	lc.setBindingState(rec, bindingFailed)
	switch {
	case lc.kind == kindBindFails && strings.Contains(res.desc, bindFailureReason):
		lc.Expect("bind failed on the manager")
		c.bindings.failedAsExpected.Add(1)
	case lc.kind == kindUnbindDuringBind && strings.Contains(res.desc, "halted"):
		lc.Expect("bind halted by an unbind")
		c.bindings.failedAsExpected.Add(1)
	case simchaos.TimedOut(res.desc):
		lc.NoteTimedOut("bind: " + res.desc)
	default:
		lc.Problem("bind %s failed: %s", id, res.desc)
	}
	// The platform's orphan mitigation: unbind what failed. A bind whose workflow failed
	// has left nothing (410); one that failed after its workflow made the user (timed
	// out) left its binding failed, and the unbind drops the user.
	c.unbindFailed(ctx, lc, rec)
	c.checkNothingLeft(ctx, lc, rec, "a failed bind and its unbind")
	return rec
}

// unbindFailed unbinds a binding whose bind failed: 410 when nothing was left, else an
// unbind followed to 410.
func (c *chaos) unbindFailed(ctx context.Context, lc *chaosLC, rec *bindingRec) {
	var resp *osbc.UnbindResponse
	err := c.call(ctx, lc, "unbind", func() (err error) {
		resp, err = c.e.client.Unbind(&osbc.UnbindRequest{InstanceID: lc.id, BindingID: rec.id, ServiceID: lc.serviceID, PlanID: lc.planID, AcceptsIncomplete: true})
		return err
	})
	switch {
	case err != nil:
		lc.Problem("unbind of the failed %s: %v", rec.id, err)
	case !resp.Async: // 410: the failed bind left nothing
	case resp.OperationKey == nil:
		lc.Problem("unbind of the failed %s answered 202 without an operation", rec.id)
	default:
		lc.Logf("the failed bind %s left its binding: unbinding it", rec.id)
		c.orphanMitigations.Add(1)
		lc.addBindingOp("unbind", rec.id, resp.OperationKey)
		if res, err := c.pollBinding(ctx, lc, rec.id, resp.OperationKey); err != nil || !res.gone {
			lc.Problem("unbind of the failed %s ended %+v, %v; want 410", rec.id, res, err)
		}
	}
}

// fetchBinding fetches a bound binding: it must answer with the credentials the
// platform got first, and, for credentials of its own, those of the manager's user for
// the binding, whose secret exists. Anything else is a lost binding.
func (c *chaos) fetchBinding(ctx context.Context, lc *chaosLC, rec *bindingRec, when string) bool {
	var got *osbc.GetBindingResponse
	err := c.call(ctx, lc, "fetch_binding", func() (err error) {
		got, err = c.e.client.GetBinding(&osbc.GetBindingRequest{InstanceID: lc.id, BindingID: rec.id})
		return err
	})
	lost := func(format string, args ...any) bool {
		if !rec.lost {
			rec.lost = true
			c.bindings.lost.Add(1)
		}
		lc.Problem("lost binding %s %s: %s", rec.id, when, fmt.Sprintf(format, args...))
		return false
	}
	if err != nil {
		return lost("fetch: %v", err)
	}
	if got.Credentials[lc.svc.credKey] == nil {
		return lost("credentials %v lack %s", got.Credentials, lc.svc.credKey)
	}
	if rec.creds == nil {
		rec.creds = got.Credentials
	} else if fmt.Sprint(got.Credentials) != fmt.Sprint(rec.creds) {
		return lost("credentials changed from %v to %v", rec.creds, got.Credentials)
	}
	if !rec.own {
		return true
	}
	u, ok := userOf(c.e.sim, lc.depID, rec.id)
	switch {
	case !ok:
		return lost("the manager has no user for it")
	case got.Credentials["username"] != u.Username || got.Credentials["password"] != u.Password:
		return lost("credentials for %v, the manager's user is %s", got.Credentials["username"], u.Username)
	case !hasSecret(c.e.sim, broker.BindingSecretKey(lc.depID, rec.id)):
		return lost("its secret is gone from the manager")
	}
	return true
}

// checkNothingLeft records a problem when the manager still has a user or a secret of a
// binding that is unbound or failed, or the broker still answers for it.
func (c *chaos) checkNothingLeft(ctx context.Context, lc *chaosLC, rec *bindingRec, what string) {
	if !rec.own {
		return
	}
	if _, ok := userOf(c.e.sim, lc.depID, rec.id); ok {
		c.bindings.leftUsers.Add(1)
		lc.Problem("%s left the database user of %s", what, rec.id)
	}
	if key := broker.BindingSecretKey(lc.depID, rec.id); hasSecret(c.e.sim, key) {
		c.bindings.leftSecrets.Add(1)
		lc.Problem("%s left the secret %s", what, key)
	}
	code, err := c.raw(ctx, lc, "fetch_binding", http.MethodGet, "/v2/service_instances/"+lc.id+"/service_bindings/"+rec.id)
	if err != nil || code != http.StatusNotFound {
		lc.Problem("%s: fetch %s answered %d, %v; want 404", what, rec.id, code, err)
	}
}

// unbind unbinds a binding; one of its own is followed to 410 through its
// last_operation (an unbind that fails is asked again, up to three times).
func (c *chaos) unbind(ctx context.Context, lc *chaosLC, rec *bindingRec) {
	path := "/v2/service_instances/" + lc.id + "/service_bindings/" + rec.id + "?service_id=" + lc.serviceID + "&plan_id=" + lc.planID
	if !rec.own {
		status, err := c.raw(ctx, lc, "unbind", http.MethodDelete, path)
		if err != nil || status != http.StatusOK {
			lc.Problem("unbind %s answered %d, %v; want 200 (the binding was lost?)", rec.id, status, err)
			return
		}
		lc.setBindingState(rec, bindingUnbound)
		c.bindings.unbound.Add(1)
		return
	}
	for attempt := 1; attempt <= 3; attempt++ {
		var resp *osbc.UnbindResponse
		err := c.call(ctx, lc, "unbind", func() (err error) {
			resp, err = c.e.client.Unbind(&osbc.UnbindRequest{InstanceID: lc.id, BindingID: rec.id, ServiceID: lc.serviceID, PlanID: lc.planID, AcceptsIncomplete: true})
			return err
		})
		if err != nil {
			lc.Problem("unbind %s: %v", rec.id, err)
			return
		}
		if !resp.Async || resp.OperationKey == nil {
			lc.Problem("unbind %s answered %+v, want 202 with an operation (the binding was lost?)", rec.id, resp)
			return
		}
		lc.addBindingOp("unbind", rec.id, resp.OperationKey)
		res, err := c.pollBinding(ctx, lc, rec.id, resp.OperationKey)
		switch {
		case err != nil:
			lc.Problem("unbind %s: %v", rec.id, err)
			return
		case res.gone:
			lc.Logf("unbound %s (410)", rec.id)
			lc.setBindingState(rec, bindingUnbound)
			c.bindings.unbound.Add(1)
			c.checkNothingLeft(ctx, lc, rec, "the unbind")
			return
		case res.state == osbc.StateSucceeded:
			lc.Problem("last_operation of a finished unbind of %s answered succeeded, want 410", rec.id)
			return
		}
		lc.Logf("unbind %s ended %s: %s", rec.id, res.state, res.desc)
		if lc.kind == kindUpdateHangs && simchaos.TimedOut(res.desc) {
			// The hung update holds the deployment: no workflow can run on it until the
			// deprovision halts the update, and removes the binding with the instance.
			lc.Expect("unbind timed out behind the hung update")
			c.bindings.failedAsExpected.Add(1)
			c.fetchBinding(ctx, lc, rec, "after an unbind that timed out")
			return
		}
		switch {
		case lc.kind == kindUnbindFails && attempt == 1 && strings.Contains(res.desc, unbindFailureReason):
			lc.Expect("unbind failed on the manager")
			c.bindings.failedAsExpected.Add(1)
			c.e.sim.ReleaseWorkflow(lc.depID, "osb_unbind")
		case simchaos.TimedOut(res.desc):
			lc.NoteTimedOut("unbind: " + res.desc)
		default:
			lc.Problem("unbind %s failed: %s", rec.id, res.desc)
		}
		// A failed unbind leaves the binding bound, with its credentials.
		if rec.state == bindingBound {
			c.fetchBinding(ctx, lc, rec, "after a failed unbind")
		}
	}
	lc.Problem("%s still bound after 3 unbinds", rec.id)
}

// useBindings binds (one binding, or two of their own on some lifecycles), fetches,
// maybe updates, and, unless the lifecycle keeps its instance or deprovisions with its
// bindings, unbinds; false when the lifecycle cannot go on.
func (c *chaos) useBindings(ctx context.Context, lc *chaosLC) bool {
	n := 1
	if lc.svc.ownCreds && lc.twoBindings {
		n = 2
	}
	var recs []*bindingRec
	for i := range n {
		id := lc.id + "-b"
		if i > 0 {
			id = fmt.Sprintf("%s-b%d", lc.id, i+1)
		}
		rec := c.bind(ctx, lc, id)
		if rec.state == "" {
			return false
		}
		if rec.state == bindingBound {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 2 && (recs[0].creds["username"] == recs[1].creds["username"] || recs[0].creds["password"] == recs[1].creds["password"]) {
		lc.Problem("two bindings of the instance share credentials: %v", recs[0].creds["username"])
	}
	if lc.update {
		c.updateInstance(ctx, lc)
		for _, rec := range recs {
			c.fetchBinding(ctx, lc, rec, "after the update")
		}
	}
	if lc.kind == kindKeep || lc.kind == kindDeprovisionBound {
		return true
	}
	for _, rec := range recs {
		c.fetchBinding(ctx, lc, rec, "before its unbind")
		c.unbind(ctx, lc, rec)
	}
	return true
}

// runBindingKind runs the binding part of the lifecycles of bindingKinds, after the
// provision.
func (c *chaos) runBindingKind(ctx context.Context, lc *chaosLC) bool {
	sim := c.e.sim
	switch lc.kind {
	case kindBindFails:
		sim.FailWorkflow(lc.depID, "osb_bind", workflowTraceback(bindFailureReason))
		rec := c.bind(ctx, lc, lc.id+"-bf")
		sim.ReleaseWorkflow(lc.depID, "osb_bind")
		if rec.state == bindingBound {
			lc.Problem("bind %s succeeded although osb_bind fails", rec.id)
		}
		// The same binding id binds once the manager works again.
		if again := c.bind(ctx, lc, lc.id+"-bf"); again.state == bindingBound {
			c.unbind(ctx, lc, again)
		}
		return true
	case kindUnbindFails:
		rec := c.bind(ctx, lc, lc.id+"-b")
		if rec.state != bindingBound {
			return rec.state != ""
		}
		sim.FailWorkflow(lc.depID, "osb_unbind", workflowTraceback(unbindFailureReason))
		defer sim.ReleaseWorkflow(lc.depID, "osb_unbind")
		c.unbind(ctx, lc, rec)
		return true
	case kindUnbindDuringBind:
		sim.HangWorkflow(lc.depID, "osb_bind", "started")
		defer sim.ReleaseWorkflow(lc.depID, "osb_bind")
		rec := &bindingRec{id: lc.id + "-bh", own: true}
		lc.addBinding(rec)
		req := &osbc.BindRequest{InstanceID: lc.id, BindingID: rec.id, ServiceID: lc.serviceID, PlanID: lc.planID, AcceptsIncomplete: true}
		var resp *osbc.BindResponse
		if err := c.call(ctx, lc, "bind", func() (err error) { resp, err = c.e.client.Bind(req); return err }); err != nil || !resp.Async || resp.OperationKey == nil {
			lc.Problem("bind %s answered %+v, %v; want 202", rec.id, resp, err)
			return false
		}
		lc.addBindingOp("bind", rec.id, resp.OperationKey)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(lc.rng.IntN(800)) * time.Millisecond):
		}
		c.unbind(ctx, lc, rec)
		res, err := c.pollBinding(ctx, lc, rec.id, resp.OperationKey)
		switch {
		case err != nil:
			lc.Problem("bind %s after its unbind: %v", rec.id, err)
		case res.state == osbc.StateFailed && strings.Contains(res.desc, "halted"):
			lc.Expect("bind halted by an unbind")
			c.bindings.failedAsExpected.Add(1)
		default:
			lc.Problem("bind %s ended %s (%s) after an unbind while it hung, want failed: halted", rec.id, res.state, res.desc)
		}
		return true
	case kindDeprovisionBound:
		return c.useBindings(ctx, lc)
	}
	return true
}

// afterDeprovision checks, once the instance is gone, that none of its bindings'
// secrets is left, and marks the bindings still bound as gone with it.
func (c *chaos) afterDeprovision(lc *chaosLC) {
	prefix := broker.BindingSecretKey(lc.depID, "")
	for _, s := range c.e.sim.Secrets() {
		if strings.HasPrefix(s.Key, prefix) {
			c.bindings.leftSecrets.Add(1)
			lc.Problem("the deprovision left the secret %s", s.Key)
		}
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, rec := range lc.bindings {
		if rec.state == bindingBound {
			rec.state = bindingWithInst
		}
	}
}

// bindingFigures are what the checks found about bindings.
type bindingFigures struct {
	secretsChecked, usersChecked int
	orphanSecrets, orphanUsers   int
	staleBindings, secretsAtEnd  int
	boundAtCheck                 int
}

// checkBindings compares every binding secret and database user on the manager with
// the bindings the store records as bound, and every binding the platform holds as
// bound with what the broker answers and the manager has.
func (c *chaos) checkBindings(ctx context.Context, lcs []*chaosLC, f *chaosFigures) {
	problem := f.Problem
	// The store's bindings, by secret key and by deployment and binding id.
	bySecret := map[string]broker.Binding{}
	byUser := map[[2]string]broker.Binding{}
	err := simchaos.Pages(ctx, c.e.srv.store.ListInstances, func(inst broker.Instance) {
		list, err := c.e.srv.store.ListBindings(ctx, inst.ID)
		if err != nil {
			problem("list bindings of %s: %v", inst.ID, err)
			return
		}
		for _, b := range list {
			if inst.State == broker.InstanceGone || !b.Ready() || b.Busy() {
				f.bind.staleBindings++
				problem("store: binding %s/%s is %q (operation %s %s) on a %s instance", inst.ID, b.ID, b.State, b.OperationType, b.OperationState, inst.State)
				continue
			}
			if b.SecretKey != "" {
				bySecret[b.SecretKey] = b
				byUser[[2]string{inst.DeploymentID, b.ID}] = b
			}
		}
	})
	if err != nil {
		problem("list instances: %v", err)
	}
	for _, s := range c.e.sim.Secrets() {
		if !strings.HasPrefix(s.Key, "osb-") {
			continue
		}
		f.bind.secretsChecked++
		if _, ok := bySecret[s.Key]; !ok {
			f.bind.orphanSecrets++
			problem("orphan secret: %s belongs to no bound binding", s.Key)
		}
	}
	for _, d := range c.e.sim.Deployments() {
		if !d.Exists {
			continue
		}
		for _, u := range d.BindingUsers {
			f.bind.usersChecked++
			b, ok := byUser[[2]string{d.ID, u.Binding}]
			if !ok || b.SecretKey != u.SecretKey {
				f.bind.orphanUsers++
				problem("orphan database user: %s of binding %s on %s belongs to no bound binding", u.Username, u.Binding, d.ID)
			}
		}
	}
	// Every binding the platform holds as bound (the kept instances') still answers
	// with the credentials it got, which are the manager's.
	for _, lc := range lcs {
		if lc.final != "live" {
			continue
		}
		for _, rec := range lc.bindings {
			if rec.state != bindingBound {
				continue
			}
			f.bind.boundAtCheck++
			c.fetchBinding(ctx, lc, rec, "at the checks")
		}
	}
}

// checkBindingsGone counts, after the cleanup, the binding secrets and records left.
func (c *chaos) checkBindingsGone(ctx context.Context, f *chaosFigures) {
	for _, s := range c.e.sim.Secrets() {
		if strings.HasPrefix(s.Key, "osb-") {
			f.bind.secretsAtEnd++
			f.Problem("orphan secret after the cleanup: %s", s.Key)
		}
	}
	err := simchaos.Pages(ctx, c.e.srv.store.ListInstances, func(inst broker.Instance) {
		list, err := c.e.srv.store.ListBindings(ctx, inst.ID)
		if err != nil {
			f.Problem("list bindings of %s: %v", inst.ID, err)
			return
		}
		for _, b := range list {
			f.bind.staleBindings++
			f.Problem("store: binding %s/%s (%s) outlived the cleanup", inst.ID, b.ID, b.State)
		}
	})
	if err != nil {
		f.Problem("list instances: %v", err)
	}
}

// lastBindingOperation asks a binding's last_operation of an operation without the
// client library.
func (c *chaos) lastBindingOperation(ctx context.Context, instanceID, bindingID, operation string) (code int, state, desc string, err error) {
	return c.pollPath(ctx, "/v2/service_instances/"+instanceID+"/service_bindings/"+bindingID+"/last_operation?operation="+url.QueryEscape(operation))
}

// userOf is the manager's database user of a binding.
func userOf(sim *cloudifysim.Simulator, deploymentID, bindingID string) (cloudifysim.BindingUser, bool) {
	d, ok := sim.Deployment(deploymentID)
	if !ok {
		return cloudifysim.BindingUser{}, false
	}
	for _, u := range d.BindingUsers {
		if u.Binding == bindingID {
			return u, true
		}
	}
	return cloudifysim.BindingUser{}, false
}

// hasSecret reports whether the manager has the secret.
func hasSecret(sim *cloudifysim.Simulator, key string) bool {
	for _, s := range sim.Secrets() {
		if s.Key == key {
			return true
		}
	}
	return false
}
