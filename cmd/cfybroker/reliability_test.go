package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/testenv"
)

// TestConcurrentIdenticalProvisions: 100 identical provisions of one instance at once
// give one deployment and 202 with one operation for all; a conflicting one gets 409.
func TestConcurrentIdenticalProvisions(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("mariadb")
	req := osbc.ProvisionRequest{InstanceID: "race-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": "Passw0rd-ok"}}
	const n = 100
	var wg sync.WaitGroup
	ops := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := req
			resp, err := e.client.ProvisionInstance(&r)
			errs[i] = err
			if err == nil && resp.Async && resp.OperationKey != nil {
				ops[i] = string(*resp.OperationKey)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ops[i] == "" || ops[i] != ops[0] {
			t.Fatalf("provision %d: op %q, err %v; want 202 with operation %q", i, ops[i], errs[i], ops[0])
		}
	}
	conflicting := req
	conflicting.Parameters = map[string]any{"admin_password": "Other-passw0rd"}
	if _, err := e.client.ProvisionInstance(&conflicting); statusOf(err) != http.StatusConflict {
		t.Fatalf("conflicting provision: %v, want 409", err)
	}
	if _, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "race-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan}); err != nil {
		t.Fatalf("deprovision while provisioning: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, err := e.client.PollLastOperation(&osbc.LastOperationRequest{InstanceID: "race-1"})
		if osbc.IsGoneError(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	created := 0
	for _, d := range e.sim.Deployments() {
		if d.ID == "osb-race-1" {
			created++
			if d.Exists {
				t.Fatalf("deployment left behind: %+v", d)
			}
		}
	}
	if created != 1 {
		t.Fatalf("%d deployments were created for one instance, want 1", created)
	}
}

// TestNoSecretsInLogs runs a whole lifecycle with debug logs captured and searches
// them, and the OSB error bodies, for every secret used.
func TestNoSecretsInLogs(t *testing.T) {
	var buf testenv.SyncBuffer
	e := newE2E(t, "7.0.4")
	e.stop()
	e.cfg.ExtraCredentials = "rotated:Rotated-secret-2"
	e.logTo = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start()
	svc, plan := e.plan("mariadb")
	const paramSecret = "Param-Secret-Value-77"
	prov, err := e.client.ProvisionInstance(&osbc.ProvisionRequest{InstanceID: "sec-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan,
		OrganizationGUID: "o", SpaceGUID: "s", Parameters: map[string]any{"admin_password": paramSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.poll("sec-1", prov.OperationKey)
	mustSucceed(t, resp, err)
	// The binding's own database user, made by the bind workflow and read from its
	// Cloudify secret: its password must stay out of the logs too.
	bind := e.bindWait("sec-1", "b", svc, plan)
	if bind.Credentials["password"] == nil {
		t.Fatalf("binding credentials %v have no password", bind.Credentials)
	}
	// A wrong password and a bad request must not echo secrets either; nor may a value
	// that fails its schema, whatever the parameter's name (a blueprint input may be
	// secret under any name): the answer names the field and the rule.
	const (
		patternSecret = "Secret-DbName-Value-91"
		rangeSecret   = "98765432"
	)
	bodies := ""
	for _, r := range []struct{ user, pass, body, want string }{
		{testUser, "wrong-" + testPass, "", ""},
		{testUser, testPass, `{"service_id":"` + svc + `","plan_id":"` + plan + `","organization_guid":"o","space_guid":"s","parameters":{"admin_password":"` + paramSecret + `","node_count":"x"}}`, "node_count"},
		{testUser, testPass, `{"service_id":"` + svc + `","plan_id":"` + plan + `","organization_guid":"o","space_guid":"s","parameters":{"admin_password":"Passw0rd-ok","db_name":"` + patternSecret + `","storage_gb":` + rangeSecret + `}}`, "db_name: must match the pattern"},
	} {
		req, _ := http.NewRequest("PUT", e.url+"/v2/service_instances/sec-2?accepts_incomplete=true", strings.NewReader(r.body))
		req.Header.Set("X-Broker-API-Version", "2.17")
		req.SetBasicAuth(r.user, r.pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		res.Body.Close()
		if !strings.Contains(b.String(), r.want) {
			t.Errorf("error body %s does not name %q", b.String(), r.want)
		}
		bodies += b.String()
	}
	e.unbindWait("sec-1", "b", svc, plan)
	dep, err := e.client.DeprovisionInstance(&osbc.DeprovisionRequest{InstanceID: "sec-1", AcceptsIncomplete: true, ServiceID: svc, PlanID: plan})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = e.poll("sec-1", dep.OperationKey)
	e.stop()

	logs := buf.String()
	if !strings.Contains(logs, "sec-1") || !strings.Contains(logs, "operation ended") {
		t.Fatalf("the captured logs do not cover the lifecycle:\n%.2000s", logs)
	}
	secrets := map[string]string{
		"broker password":         testPass,
		"rotated broker password": "Rotated-secret-2",
		"cloudify password":       e.cfg.CloudifyPassword,
		"parameter secret":        paramSecret,
		"value failing a pattern": patternSecret,
		"value out of range":      rangeSecret,
	}
	for k, v := range bind.Credentials {
		if s, ok := v.(string); ok && len(s) >= 6 && (k == "password" || strings.Contains(k, "secret")) {
			secrets["binding "+k] = s
		}
	}
	for name, secret := range secrets {
		if secret == "" {
			t.Fatalf("no value for %s", name)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", name)
		}
		if strings.Contains(bodies, secret) {
			t.Errorf("an error body contains the %s", name)
		}
	}
	// The state on disk must not hold the parameter secret in clear text either.
	raw, err := readFileBytes(e.cfg.DataDir + "/cfybroker.db")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(paramSecret)) {
		t.Error("the store holds the parameter secret in clear text")
	}
}

// TestBadInputRejectedBeforeAnythingIsWritten sends ids and parameters that could break
// Cloudify or the store; each gets 400 with a description, and nothing is written.
func TestBadInputRejectedBeforeAnythingIsWritten(t *testing.T) {
	e := newE2E(t, "7.0.4")
	svc, plan := e.plan("mariadb")
	body := func(params string) string {
		return `{"service_id":"` + svc + `","plan_id":"` + plan + `","organization_guid":"o","space_guid":"s","parameters":` + params + `}`
	}
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	huge := `{"admin_password":"Passw0rd-ok","blob":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, tc := range []struct{ name, path, body string }{
		{"path characters", "/v2/service_instances/a%2Fb?accepts_incomplete=true", body(`{"admin_password":"Passw0rd-ok"}`)},
		{"dot-dot", "/v2/service_instances/a..%2Fx?accepts_incomplete=true", body(`{"admin_password":"Passw0rd-ok"}`)},
		{"very long id", "/v2/service_instances/" + strings.Repeat("i", 300) + "?accepts_incomplete=true", body(`{"admin_password":"Passw0rd-ok"}`)},
		{"unicode id", "/v2/service_instances/%C3%BCn%C3%AFcode?accepts_incomplete=true", body(`{"admin_password":"Passw0rd-ok"}`)},
		{"deep JSON", "/v2/service_instances/deep?accepts_incomplete=true", body(deep)},
		{"huge parameters", "/v2/service_instances/huge?accepts_incomplete=true", body(huge)},
		{"parameters not an object", "/v2/service_instances/arr?accepts_incomplete=true", body(`[1,2]`)},
		{"unknown parameter", "/v2/service_instances/unk?accepts_incomplete=true", body(`{"admin_password":"Passw0rd-ok","nope":1}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, e.url+tc.path, strings.NewReader(tc.body))
			req.Header.Set("X-Broker-API-Version", "2.17")
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(testUser, testPass)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b struct {
				Description string `json:"description"`
			}
			_ = json.NewDecoder(res.Body).Decode(&b)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || b.Description == "" {
				t.Fatalf("status %d, description %q; want 400 with a description", res.StatusCode, b.Description)
			}
			t.Logf("400: %s", b.Description)
		})
	}
	if n := len(e.sim.Deployments()); n != 0 {
		t.Fatalf("bad requests created %d deployments", n)
	}
	inst, _, err := e.srv.store.ListInstances(context.Background(), "", 10)
	if err != nil || len(inst) != 0 {
		t.Fatalf("bad requests left %d instances in the store (%v)", len(inst), err)
	}
}
