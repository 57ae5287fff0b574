package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/devtools/awslocal"
	"github.com/cfybroker/cfybroker/internal/testenv"
)

// TestRunAWS runs what `make run-aws` runs and drives it as a person would, with the
// URL and credentials it prints: the catalog, a provision polled to its end, a bind,
// a deprovision; then stops it and checks that it deleted its table. It needs the
// stand-ins of `make local-aws`: without them it skips, or fails when CI is set.
func TestRunAWS(t *testing.T) {
	if testing.Short() {
		t.Skip("make run-aws end to end: not in -short mode")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	if _, err := findStandIns(); err != nil {
		testenv.SkipOrFail(t, "%v; start them with `make local-aws`", err)
	}
	port, err := awslocal.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testenv.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{
			listen: fmt.Sprintf("127.0.0.1:%d", port), username: "broker", password: "run-aws-test-pw",
			simSpeed: 50, catalogEvery: time.Hour, logLevel: "info", workDir: t.TempDir(),
		}, &out)
	}()

	banner := regexp.MustCompile(`serving the OSB API at (http://\S+)\n(?s:.*)username: (\S+)\n\s+password: (\S+)\n`)
	var url, user, pass string
	for deadline := time.Now().Add(5 * time.Minute); url == ""; {
		if m := banner.FindStringSubmatch(out.String()); m != nil {
			url, user, pass = m[1], m[2], m[3]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run-aws ended before serving: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run-aws printed no URL:\n%s", out.String())
		}
	}
	if user != "broker" || pass != "run-aws-test-pw" {
		t.Errorf("printed credentials %s:%s", user, pass)
	}

	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		req.Header.Set("X-Broker-API-Version", "2.17")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		return resp.StatusCode, v
	}
	poll := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			code, v := call(http.MethodGet, "/v2/service_instances/r1/last_operation", "")
			if code == http.StatusGone && want == "gone" {
				return
			}
			if v["state"] == "in progress" {
				continue
			}
			if v["state"] != want {
				t.Fatalf("last_operation: %d %v, want %s\n%s", code, v, want, out.String())
			}
			return
		}
		t.Fatalf("still in progress after 2 minutes")
	}

	code, cat := call(http.MethodGet, "/v2/catalog", "")
	var svc, plan string
	services, _ := cat["services"].([]any)
	for _, s := range services {
		m := s.(map[string]any)
		if m["name"] == "redis-cache" {
			svc = m["id"].(string)
			plan = m["plans"].([]any)[0].(map[string]any)["id"].(string)
		}
	}
	if code != http.StatusOK || svc == "" {
		t.Fatalf("catalog: %d, %d services, no redis-cache", code, len(services))
	}
	if code, _ := call(http.MethodGet, "/v2/catalog", ""); code != http.StatusOK {
		t.Errorf("second catalog call: %d", code)
	}
	ids := fmt.Sprintf(`"service_id":%q,"plan_id":%q`, svc, plan)
	if code, v := call(http.MethodPut, "/v2/service_instances/r1?accepts_incomplete=true", `{`+ids+`,"organization_guid":"o","space_guid":"s"}`); code != http.StatusAccepted {
		t.Fatalf("provision: %d %v", code, v)
	}
	poll("succeeded")
	if code, v := call(http.MethodPut, "/v2/service_instances/r1/service_bindings/b1", `{`+ids+`}`); code != http.StatusCreated || v["credentials"] == nil {
		t.Errorf("bind: %d %v", code, v)
	}
	if code, v := call(http.MethodDelete, "/v2/service_instances/r1?accepts_incomplete=true&service_id="+svc+"&plan_id="+plan, ""); code != http.StatusAccepted {
		t.Fatalf("deprovision: %d %v", code, v)
	}
	poll("gone")
	if code, _ := call(http.MethodGet, "/v2/catalog", ""); code != http.StatusOK {
		t.Errorf("catalog after the lifecycle: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/v2/catalog", nil)
	req.Header.Set("X-Broker-API-Version", "2.17")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("catalog without credentials: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("catalog without credentials: %d, want 401", resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run-aws: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run-aws did not stop")
	}
	if !strings.Contains(out.String(), "deleted table cfybroker-run-aws-") {
		t.Errorf("run-aws did not delete its table:\n%s", out.String())
	}
	if strings.Contains(out.String(), `"password":"run-aws-test-pw"`) {
		t.Error("the broker's password is in the functions' logs")
	}
}
