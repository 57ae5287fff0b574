package cloudifysim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeHTTP measures the handler without the network.
func BenchmarkServeHTTP(b *testing.B) {
	clock := NewManualClock(t0)
	sim := New(Config{Clock: clock, LoadSamples: true})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	ts := &tsim{t: b, sim: sim, clock: clock, srv: srv}
	for i := 0; i < 50; i++ {
		ts.create(fmt.Sprintf("d%02d", i), "redis-cache", nil, false)
	}
	for _, path := range []string{"/api/v3.1/deployments/d01", "/api/v3.1/deployments?_size=5", "/api/v3.1/deployments/d01/capabilities"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.SetBasicAuth("admin", "admin")
			req.Header.Set("Tenant", "default_tenant")
			for b.Loop() {
				w := httptest.NewRecorder()
				sim.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
