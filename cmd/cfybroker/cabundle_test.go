package main

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	osbc "sigs.k8s.io/go-open-service-broker-client/v2"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
)

// TestServeCloudifyCABundle serves the broker in front of a manager on https whose
// certificate only a private CA vouches for: with --cloudify-ca-bundle the catalog
// is the manager's blueprints; without it the catalog cannot be built; a bundle
// file that does not exist is refused at start.
func TestServeCloudifyCABundle(t *testing.T) {
	sim := cloudifysim.New(cloudifysim.Config{Users: map[string]string{"admin": "cfy-pw"}, LoadSamples: true, Clock: newSpeedClock(10)})
	ts := httptest.NewTLSServer(sim)
	t.Cleanup(ts.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(ca string) serveConfig {
		return serveConfig{
			Listen: "127.0.0.1:0", Username: testUser, Password: testPass,
			CloudifyURL: ts.URL, CloudifyTenant: "default_tenant", CloudifyUsername: "admin", CloudifyPassword: "cfy-pw",
			DataDir: t.TempDir(), DefaultDeadline: time.Minute, Concurrency: 2, PollMin: 100 * time.Millisecond,
			CloudifyCABundle: ca,
		}
	}
	services := func(ca string) (int, error) {
		srv, err := startServer(context.Background(), config(ca), testLogger(t))
		if err != nil {
			t.Fatalf("start broker: %v", err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
		cfg := osbc.DefaultClientConfiguration()
		cfg.URL = "http://" + srv.Addr()
		cfg.AuthConfig = &osbc.AuthConfig{BasicAuthConfig: &osbc.BasicAuthConfig{Username: testUser, Password: testPass}}
		c, err := osbc.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := c.GetCatalog()
		if err != nil {
			return 0, err
		}
		return len(cat.Services), nil
	}
	if n, err := services(bundle); err != nil || n == 0 {
		t.Errorf("with the CA bundle: %d services, %v; want the manager's blueprints", n, err)
	}
	if n, err := services(""); err == nil && n > 0 {
		t.Errorf("without the CA bundle: %d services; want no catalog from a manager it cannot trust", n)
	}
	if _, err := startServer(context.Background(), config(filepath.Join(t.TempDir(), "missing.pem")), testLogger(t)); err == nil ||
		!strings.Contains(err.Error(), "CA bundle") {
		t.Errorf("a missing bundle file: err = %v", err)
	}
}
