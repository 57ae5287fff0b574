package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cfybroker/cfybroker/internal/admin"
	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// localDynamoDB returns the endpoint of DynamoDB Local ($AWS_ENDPOINT_URL_DYNAMODB,
// default http://127.0.0.1:8000), skipping the test when it is not reachable (failing
// it when CI is set).
func localDynamoDB(t *testing.T) string {
	t.Helper()
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:8000"
	}
	u, err := url.Parse(endpoint)
	if err == nil {
		var conn net.Conn
		if conn, err = net.DialTimeout("tcp", u.Host, 2*time.Second); err == nil {
			conn.Close()
		}
	}
	if err != nil {
		testenv.SkipOrFail(t, "DynamoDB Local is not reachable at %s: %v; start it with `make local-aws`", endpoint, err)
	}
	return endpoint
}

// TestCLITable: the CLI on the DynamoDB table of the AWS shape, with the functions'
// settings from the environment: catalog sync and import, instances, ops abandon and
// reconcile work on the table as on a data directory.
func TestCLITable(t *testing.T) {
	endpoint := localDynamoDB(t)
	sim := cloudifysim.New(cloudifysim.Config{Version: "7.0.4", Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)

	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "cfybroker-cli-" + hex.EncodeToString(b[:])
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
		"AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"), "CLOUDIFY_URL": ts.URL,
		"CLOUDIFY_USERNAME": "admin", "CLOUDIFY_PASSWORD": "cfy-pw", "STATE_MACHINE_ARN": "", "CLOUDIFY_SECRET_ARN": "", "SEAL_KEY_SECRET_ARN": "",
	} {
		t.Setenv(k, v)
	}
	run := func(args ...string) cliRun {
		t.Helper()
		return runCLI(t, append(args, "--table", table)...)
	}

	if r := run("catalog", "sync"); r.code != exitOK || !strings.Contains(r.stdout, "catalog synced: 6 services") {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	if err := os.WriteFile(overlay, []byte("version: 1\nhidden: [failing-install]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("catalog", "import", overlay); r.code != exitOK || !strings.Contains(r.stdout, "- service failing-install") {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := mustDecode[[]serviceRow](t, run("catalog", "list", "-o", "json").stdout)
	if len(rows) != 5 {
		t.Errorf("catalog list = %d services, want 5", len(rows))
	}

	// An instance whose provision runs, and a ready one whose deployment is missing.
	st := dynamostore.New(client, table)
	now := time.Now().UTC()
	op := broker.Operation{ID: "provision-t1", Type: broker.OpProvision, InstanceID: "t-1", State: broker.StateInProgress,
		DeploymentID: "osb-t-1", Phase: "installing", Deadline: now.Add(time.Hour), NextCheck: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now}
	t1 := broker.Instance{ID: "t-1", DeploymentID: "osb-t-1", State: broker.InstanceProvisioning, OperationID: op.ID,
		OperationType: op.Type, OperationState: op.State, CreatedAt: now, UpdatedAt: now}
	t2 := broker.Instance{ID: "t-2", DeploymentID: "osb-t-2", State: broker.InstanceReady, CreatedAt: now, UpdatedAt: now}
	if err := st.Commit(ctx, broker.Tx{Instances: []*broker.Instance{&t1, &t2}, Operations: []*broker.Operation{&op}}); err != nil {
		t.Fatal(err)
	}
	if list := mustDecode[[]admin.InstanceView](t, run("instances", "list", "-o", "json").stdout); len(list) != 2 {
		t.Errorf("instances list = %+v", list)
	}
	abandoned := mustDecode[admin.OperationView](t, run("ops", "abandon", op.ID, "-o", "json").stdout)
	if abandoned.State != broker.StateFailed || abandoned.Description != admin.AbandonedDescription {
		t.Errorf("abandon = %+v", abandoned)
	}
	r := run("reconcile", "-o", "json")
	rep := mustDecode[admin.ReconcileReport](t, r.stdout)
	if r.code != exitFound || len(rep.Findings) != 1 || rep.Findings[0].InstanceID != "t-2" || !rep.Findings[0].Repaired {
		t.Errorf("reconcile: exit %d, %+v", r.code, rep)
	}
	if got, _ := st.GetInstance(ctx, "t-2"); got.State != broker.InstanceFailed {
		t.Errorf("t-2 is %s after reconcile, want failed", got.State)
	}
	// Without STATE_MACHINE_ARN the new operation waits for the state machine's sweep.
	retried := mustDecode[admin.RetryResult](t, run("ops", "retry", op.ID, "-o", "json").stdout)
	if retried.Action != admin.ActionRestarted || !strings.Contains(retried.Message, "sweeps") {
		t.Errorf("retry of the abandoned provision = %+v", retried)
	}
	if got, _ := st.GetInstance(ctx, "t-1"); got.State != broker.InstanceProvisioning || got.OperationID != retried.Operation.ID {
		t.Errorf("t-1 after retry = %s %s", got.State, got.OperationID)
	}
}
