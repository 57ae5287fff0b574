package serverless_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/serverless"
)

// TestPrivateCA runs the catalog function against a manager on https whose
// certificate only the given CA bundle vouches for: from a Secrets Manager secret,
// from a file in the function's directory, and without one (the sync fails).
func TestPrivateCA(t *testing.T) {
	const arnCA = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/ca-AbCdEf"
	e := newEnv(t)
	sim := cloudifysim.New(cloudifysim.Config{Users: map[string]string{"admin": testCloudifyPw}, LoadSamples: true})
	ts := httptest.NewTLSServer(sim)
	t.Cleanup(ts.Close)
	bundle := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	taskRoot := t.TempDir()
	if err := os.WriteFile(filepath.Join(taskRoot, "cloudify-ca.pem"), []byte(bundle), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAMBDA_TASK_ROOT", taskRoot)

	tests := []struct {
		name           string
		secretARN      string
		file           string
		wantSyncFailed bool
	}{
		{name: "secret", secretARN: arnCA},
		{name: "file in the asset", file: "cloudify-ca.pem"},
		{name: "none", wantSyncFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.CloudifyURL = ts.URL
			cfg.CloudifyCABundleSecretARN, cfg.CloudifyCABundle = tt.secretARN, tt.file
			deps := e.deps
			deps.HTTPClient = nil // the client's own, with the bundle
			secrets := newFakeSecrets()
			secrets.values[arnCA] = bundle
			deps.Secrets = secrets
			h, err := serverless.NewCatalogHandler(context.Background(), cfg, deps)
			if err != nil {
				t.Fatal(err)
			}
			res, err := h(context.Background(), nil)
			if tt.wantSyncFailed {
				if err == nil || res.Services != 0 {
					t.Errorf("without the bundle: %+v, %v; want the sync to fail", res, err)
				}
				return
			}
			if err != nil || res.Services == 0 {
				t.Errorf("catalog over the private CA: %+v, %v", res, err)
			}
		})
	}

	cfg := e.cfg
	cfg.CloudifyCABundleSecretARN = arnCA
	bad := newFakeSecrets()
	bad.values[arnCA] = "not a certificate"
	deps := e.deps
	deps.Secrets = bad
	if _, err := serverless.NewCatalogHandler(context.Background(), cfg, deps); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA secret without PEM: err = %v", err)
	}
	cfg.CloudifyCABundleSecretARN, cfg.CloudifyCABundle = "", "missing.pem"
	if _, err := serverless.NewCatalogHandler(context.Background(), cfg, e.deps); err == nil || !strings.Contains(err.Error(), serverless.EnvCABundle) {
		t.Errorf("a missing CA file: err = %v", err)
	}
}
