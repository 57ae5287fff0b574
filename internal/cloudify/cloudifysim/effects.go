package cloudifysim

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Effect kinds of a fixture's x-sim.workflow_effects.
const (
	// effectCreateSecret creates a user for the binding and leaves its
	// credentials in a secret.
	effectCreateSecret = "create_secret"
	// effectDeleteUser revokes the binding's user; the secret stays.
	effectDeleteUser = "delete_user"
	// effectDeleteSecret revokes the binding's user and deletes the secret.
	effectDeleteSecret = "delete_secret"
	// effectFail makes the workflow end failed.
	effectFail = "fail"
	// effectHang keeps the workflow pending or started until released.
	effectHang = "hang"
)

// workflowEffect is what a custom workflow does to the simulated deployment
// when it ends terminated (see the package documentation).
type workflowEffect struct {
	Kind string `json:"effect"`
	// SecretParameter names the parameter holding the secret key
	// (default "secret_key").
	SecretParameter string `json:"secret_parameter"`
	// UserParameter names the parameter the user is created for (default
	// "binding_id").
	UserParameter string `json:"user_parameter"`
	// Value is the template of the credentials object, evaluated like an
	// output; username and password are added.
	Value map[string]any `json:"value"`
	// Visibility and IsHiddenValue are those of the created secret
	// (default "tenant", false).
	Visibility    string `json:"visibility"`
	IsHiddenValue bool   `json:"is_hidden_value"`
	// Error is the error text of a fail effect.
	Error string `json:"error"`
	// State is where a hang effect holds the workflow: "pending" or
	// "started" (default).
	State string `json:"state"`
}

// parseEffects checks a fixture's workflow_effects and fills the defaults.
func parseEffects(bpID string, raw map[string]workflowEffect) (map[string]workflowEffect, error) {
	out := map[string]workflowEffect{}
	for wf, ef := range raw {
		switch ef.Kind {
		case effectCreateSecret, effectDeleteUser, effectDeleteSecret, effectFail:
		case effectHang:
			if ef.State == "" {
				ef.State = stStarted
			}
			if ef.State != stPending && ef.State != stStarted {
				return nil, fmt.Errorf("blueprint %s: x-sim.workflow_effects.%s: state must be \"pending\" or \"started\"", bpID, wf)
			}
		default:
			return nil, fmt.Errorf("blueprint %s: x-sim.workflow_effects.%s: unknown effect %q (want create_secret, delete_user, delete_secret, fail or hang)", bpID, wf, ef.Kind)
		}
		if ef.SecretParameter == "" {
			ef.SecretParameter = "secret_key"
		}
		if ef.UserParameter == "" {
			ef.UserParameter = "binding_id"
		}
		switch ef.Visibility {
		case "":
			ef.Visibility = visTenant
		case visPrivate, visTenant, visGlobal:
		default:
			return nil, fmt.Errorf("blueprint %s: x-sim.workflow_effects.%s: bad visibility %q", bpID, wf, ef.Visibility)
		}
		out[wf] = ef
	}
	return out, nil
}

// effectOf returns the effect of e's workflow on its blueprint.
func (s *Simulator) effectOf(e *execution) (workflowEffect, bool) {
	bp := s.blueprints[e.bpID]
	if bp == nil {
		return workflowEffect{}, false
	}
	ef, ok := bp.sim.effects[e.workflowID]
	return ef, ok
}

// bindingUser is a user a create_secret effect made on a deployment (a
// database user per binding, say).
type bindingUser struct {
	username, password string
	secretKey          string
	createdAt          time.Time
}

// stringParam returns a string parameter of e ("" when absent or not a string).
func stringParam(e *execution, name string) string {
	v, _ := e.params[name].(string)
	return v
}

// effectFailure decides, when e is about to end, whether its effect makes it
// fail, and with what error.
func (s *Simulator) effectFailure(e *execution) (bool, string) {
	ef, ok := s.effectOf(e)
	if !ok || e.dryRun {
		return false, ""
	}
	fail := func(msg string) (bool, string) {
		return true, workflowTraceback("cloudify/plugins/workflows.py", e.workflowID, "cloudify.exceptions.NonRecoverableError: "+msg)
	}
	switch ef.Kind {
	case effectFail:
		if ef.Error != "" {
			return true, ef.Error
		}
		return true, defaultWorkflowError(e.workflowID)
	case effectCreateSecret:
		d := s.deployments[depKey{e.tenant, e.depID}]
		if d == nil || !d.ready() || !allStarted(d) {
			return fail("deployment " + e.depID + " is not installed: cannot create a user")
		}
		if stringParam(e, ef.UserParameter) == "" {
			return fail("parameter " + ef.UserParameter + " must be a non-empty string")
		}
		if stringParam(e, ef.SecretParameter) == "" {
			return fail("parameter " + ef.SecretParameter + " must be a non-empty string")
		}
		if err := s.validateSecretKey(stringParam(e, ef.SecretParameter)); err != nil {
			return fail("secret key " + stringParam(e, ef.SecretParameter) + " contains illegal characters")
		}
	case effectDeleteUser, effectDeleteSecret:
		if stringParam(e, ef.UserParameter) == "" {
			return fail("parameter " + ef.UserParameter + " must be a non-empty string")
		}
	}
	return false, ""
}

// allStarted reports whether every node instance of d is started.
func allStarted(d *deployment) bool {
	for _, ni := range d.nodes {
		if ni.state != "started" {
			return false
		}
	}
	return true
}

// applyCustomEffect applies the effect of a custom workflow that ended
// terminated.
func (s *Simulator) applyCustomEffect(d *deployment, e *execution, t time.Time) {
	ef, ok := s.effectOf(e)
	if !ok {
		return
	}
	user := stringParam(e, ef.UserParameter)
	key := stringParam(e, ef.SecretParameter)
	switch ef.Kind {
	case effectCreateSecret:
		if d.users == nil {
			d.users = map[string]*bindingUser{}
		}
		u := d.users[user]
		if u == nil {
			// a repeated run for the same binding keeps its user and password
			u = &bindingUser{username: "osb_" + s.randString(12, "abcdefghijklmnopqrstuvwxyz0123456789"),
				password: s.randString(24, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), createdAt: t}
			d.users[user] = u
		}
		u.secretKey = key
		creds := map[string]any{}
		if ef.Value != nil {
			v, err := (&evaluator{s: s, d: d}).eval(deepCopy(ef.Value))
			if err == nil {
				creds, _ = v.(map[string]any)
			}
		}
		if creds == nil {
			creds = map[string]any{}
		}
		creds["username"], creds["password"] = u.username, u.password
		b, _ := json.Marshal(creds)
		if sec := s.lookupSecret(e.tenant, key); sec != nil {
			sec.value, sec.updatedAt = string(b), t
		} else {
			s.putSecret(e.tenant, key, string(b), ef.Visibility, ef.IsHiddenValue, e.createdBy, t)
		}
		s.log.Debug("binding user created", "deployment_id", d.id, "execution_id", e.id, "secret_key", key)
	case effectDeleteUser, effectDeleteSecret:
		delete(d.users, user)
		if ef.Kind == effectDeleteSecret && key != "" {
			if sec := s.lookupSecret(e.tenant, key); sec != nil {
				delete(s.secrets, secretKey{sec.tenant, sec.key})
			}
		}
		s.log.Debug("binding user removed", "deployment_id", d.id, "execution_id", e.id, "effect", ef.Kind)
	}
}

// BindingUser is a user a create_secret workflow effect made on a deployment.
type BindingUser struct {
	// Binding is the value of the effect's user parameter (the binding id).
	Binding string
	// Username and Password are the generated credentials.
	Username, Password string
	// SecretKey is the secret the credentials were left in.
	SecretKey string
	CreatedAt time.Time
}

// bindingUsers lists d's users by binding.
func bindingUsers(d *deployment) []BindingUser {
	out := make([]BindingUser, 0, len(d.users))
	for b, u := range d.users {
		out = append(out, BindingUser{Binding: b, Username: u.username, Password: u.password, SecretKey: u.secretKey, CreatedAt: u.createdAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Binding < out[j].Binding })
	return out
}
