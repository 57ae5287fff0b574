package cloudify

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCABundle checks that a manager whose certificate a private CA issued is
// trusted only with that CA's bundle, with the default HTTP client and with an
// injected one (which stays as it was).
func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":"7.0.4","edition":"community"}`))
	}))
	t.Cleanup(srv.Close)
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	ctx := context.Background()

	without, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := without.Version(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the bundle: err = %v, want a certificate error", err)
	}

	with, err := New(srv.URL, WithCABundle(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := with.Version(ctx); err != nil || v.Version != "7.0.4" {
		t.Errorf("with the bundle: Version = %+v, %v; want 7.0.4", v, err)
	}

	injected := &http.Client{Transport: &http.Transport{}}
	c, err := New(srv.URL, WithHTTPClient(injected), WithCABundle(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(ctx); err != nil {
		t.Errorf("injected client with the bundle: %v", err)
	}
	if tr := injected.Transport.(*http.Transport); tr.TLSClientConfig != nil && tr.TLSClientConfig.RootCAs != nil {
		t.Error("the caller's transport was given the roots")
	}
	if _, err := injected.Get(srv.URL); err == nil {
		t.Error("the caller's client trusts the private CA: WithCABundle changed it")
	}
}

func TestCABundleErrors(t *testing.T) {
	if _, err := New("https://mgr", WithCABundle([]byte("not a certificate"))); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad PEM: err = %v, want one saying no PEM certificate", err)
	}
	custom := &http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })}
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mustTestCert(t)})
	if _, err := New("https://mgr", WithHTTPClient(custom), WithCABundle(bundle)); err == nil {
		t.Error("a transport that is not an *http.Transport: no error")
	}
	if _, err := New("https://mgr", WithCABundle(nil)); err != nil {
		t.Errorf("empty bundle: %v, want it ignored", err)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// mustTestCert returns the DER of httptest's certificate.
func mustTestCert(t *testing.T) []byte {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	return srv.Certificate().Raw
}
