package cloudify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

func TestSimSecretsCRUD(t *testing.T) {
	e := newSimEnv(t, "7.0.4")
	const key = "osb-dep-1-bind-1"
	s, err := e.c.CreateSecret(e.ctx, key, cloudify.CreateSecretRequest{Value: `{"username":"u"}`, IsHiddenValue: true})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if s.Key != key || s.Value != `{"username":"u"}` || !s.IsHiddenValue || s.Visibility != cloudify.VisibilityTenant ||
		s.CreatedBy != simUser || s.TenantName != simTenant || s.CreatedAt.IsZero() {
		t.Fatalf("created secret = %+v", s)
	}
	if strings.Contains(s.String(), "username") {
		t.Errorf("String() leaks the value: %s", s)
	}

	_, err = e.c.CreateSecret(e.ctx, key, cloudify.CreateSecretRequest{Value: "again"})
	if !cloudify.IsConflict(err) {
		t.Fatalf("second CreateSecret: %v, want a conflict", err)
	}
	if _, err := e.c.CreateSecret(e.ctx, key, cloudify.CreateSecretRequest{Value: "again", UpdateIfExists: true}); err != nil {
		t.Fatalf("CreateSecret with UpdateIfExists: %v", err)
	}
	// the PUT replaces what its body says, is_hidden_value included
	if got, err := e.c.GetSecret(e.ctx, key); err != nil || got.Value != "again" || got.IsHiddenValue {
		t.Fatalf("GetSecret = %+v (hidden %v), %v; want value again, not hidden", got, got.IsHiddenValue, err)
	}

	v, vis, hidden := "third", cloudify.VisibilityGlobal, true
	got, err := e.c.UpdateSecret(e.ctx, key, cloudify.UpdateSecretRequest{Value: &v, Visibility: &vis, IsHiddenValue: &hidden})
	if err != nil || got.Value != "third" || got.Visibility != cloudify.VisibilityGlobal || !got.IsHiddenValue {
		t.Fatalf("UpdateSecret = %+v, %v", got, err)
	}

	if _, err := e.c.CreateSecret(e.ctx, "other", cloudify.CreateSecretRequest{Value: "x"}); err != nil {
		t.Fatal(err)
	}
	list, err := e.c.ListSecrets(e.ctx, cloudify.ListOptions{PageSize: 1})
	if err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if len(list) != 2 || list[0].Key != key || list[1].Key != "other" || list[0].Value != "" {
		t.Fatalf("ListSecrets = %+v", list)
	}

	if err := e.c.DeleteSecret(e.ctx, key); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if err := e.c.DeleteSecret(e.ctx, key); !cloudify.IsNotFound(err) {
		t.Fatalf("second DeleteSecret: %v, want not found", err)
	}
	if _, err := e.c.GetSecret(e.ctx, key); !cloudify.IsNotFound(err) {
		t.Fatalf("GetSecret after delete: %v, want not found", err)
	}
	if _, err := e.c.UpdateSecret(e.ctx, key, cloudify.UpdateSecretRequest{Value: &v}); !cloudify.IsNotFound(err) {
		t.Fatalf("UpdateSecret after delete: %v, want not found", err)
	}
}

func TestSimSecretsHiddenAndPrivate(t *testing.T) {
	e := newSimEnv(t, "6.4", func(c *cloudifysim.Config) {
		c.Users = map[string]string{simUser: simPassword, "alice": "a-pw", "bob": "b-pw"}
		c.Roles = map[string]string{"alice": cloudifysim.RoleUser, "bob": cloudifysim.RoleUser}
	})
	alice := e.client(cloudify.WithBasicAuth("alice", "a-pw"))
	bob := e.client(cloudify.WithBasicAuth("bob", "b-pw"))
	if _, err := alice.CreateSecret(e.ctx, "hidden", cloudify.CreateSecretRequest{Value: "pw", IsHiddenValue: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateSecret(e.ctx, "private", cloudify.CreateSecretRequest{Value: "p", Visibility: cloudify.VisibilityPrivate}); err != nil {
		t.Fatal(err)
	}
	if s, err := bob.GetSecret(e.ctx, "hidden"); err != nil || s.Value != "" || !s.IsHiddenValue {
		t.Errorf("bob reads the hidden secret as %+v, %v; want an empty value", s, err)
	}
	if s, err := e.c.GetSecret(e.ctx, "hidden"); err != nil || s.Value != "pw" {
		t.Errorf("admin reads the hidden secret as %+v, %v; want pw", s, err)
	}
	if err := bob.DeleteSecret(e.ctx, "hidden"); !cloudify.IsForbidden(err) {
		t.Errorf("bob deletes the hidden secret: %v, want forbidden", err)
	}
	if _, err := bob.GetSecret(e.ctx, "private"); !cloudify.IsNotFound(err) {
		t.Errorf("bob reads alice's private secret: %v, want not found", err)
	}
	list, err := bob.ListSecrets(e.ctx, cloudify.ListOptions{})
	if err != nil || len(list) != 1 || list[0].Key != "hidden" {
		t.Errorf("bob lists %+v, %v; want only hidden", list, err)
	}
}

// TestSimBindingCredentialsThroughWorkflows runs the per-binding flow the
// broker will drive: osb_bind leaves credentials in a secret, the client
// reads them, osb_unbind drops the user, the client deletes the secret.
func TestSimBindingCredentialsThroughWorkflows(t *testing.T) {
	e := newSimEnv(t, "7.0.4")
	const dep, binding = "osb-db1", "5a7c0e1f"
	key := "osb-" + dep + "-" + binding
	e.installed(dep, cloudifysim.SampleMariaDB, map[string]any{"admin_password": "s3cr3t-pass"})

	_, err := e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: dep, WorkflowID: "osb_bind",
		Parameters: map[string]any{"binding_id": binding}})
	wantCode(t, err, 400, cloudify.CodeIllegalExecutionParameters)
	_, err = e.c.StartExecution(e.ctx, cloudify.StartExecutionRequest{DeploymentID: dep, WorkflowID: "osb_bind",
		Parameters: map[string]any{"binding_id": binding, "secret_key": key, "shoe_size": 44}})
	wantCode(t, err, 400, cloudify.CodeIllegalExecutionParameters)

	x := e.run(cloudify.StartExecutionRequest{DeploymentID: dep, WorkflowID: "osb_bind", Parameters: map[string]any{
		"binding_id": binding, "secret_key": key, "app_guid": "app-1", "privileges": "read_only"}})
	if x.Parameters["predecessor_binding_id"] != nil || x.Parameters["app_guid"] != "app-1" {
		t.Errorf("execution parameters = %v", x.Parameters)
	}
	s, err := e.c.GetSecret(e.ctx, key)
	if err != nil {
		t.Fatalf("GetSecret(%s): %v", key, err)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(s.Value), &creds); err != nil {
		t.Fatalf("secret value is not a JSON object: %v", err)
	}
	caps, err := e.c.DeploymentCapabilities(e.ctx, dep)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := e.sim.Deployment(dep)
	if len(info.BindingUsers) != 1 {
		t.Fatalf("binding users = %+v", info.BindingUsers)
	}
	u := info.BindingUsers[0]
	if creds["host"] != caps["host"] || creds["database"] != "app" || creds["username"] != u.Username ||
		creds["password"] != u.Password || creds["username"] == caps["username"] {
		t.Errorf("credentials %v; capabilities %v; user %+v", creds, caps, u)
	}

	e.run(cloudify.StartExecutionRequest{DeploymentID: dep, WorkflowID: "osb_unbind", Parameters: map[string]any{
		"binding_id": binding, "secret_key": key}})
	if info, _ := e.sim.Deployment(dep); len(info.BindingUsers) != 0 {
		t.Errorf("binding users after unbind = %+v", info.BindingUsers)
	}
	if err := e.c.DeleteSecret(e.ctx, key); err != nil {
		t.Fatalf("DeleteSecret after unbind: %v", err)
	}
	if err := e.c.DeleteSecret(e.ctx, key); !cloudify.IsNotFound(err) {
		t.Errorf("DeleteSecret of a gone secret: %v, want not found", err)
	}
}
