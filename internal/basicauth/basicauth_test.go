package basicauth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/cfybroker/cfybroker/internal/basicauth"
)

func TestVerifier(t *testing.T) {
	v, err := basicauth.NewVerifier([]basicauth.Credential{{Username: "old", Password: "pw1"}, {Username: "col:on", Password: "pw2"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		user, pass string
		header     string
		want       bool
	}{
		{name: "first pair", user: "old", pass: "pw1", want: true},
		{name: "a user-id with a colon cannot be sent", user: "col:on", pass: "pw2", want: false},
		{name: "wrong password", user: "old", pass: "pw2", want: false},
		{name: "another spelling of the scheme", header: "basic b2xkOnB3MQ==", want: true},
		{name: "no credentials", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.user != "" {
				r.SetBasicAuth(tt.user, tt.pass)
			}
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if got := v.Authorized(r); got != tt.want {
				t.Errorf("Authorized = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewVerifierRefusesAnEmptyField(t *testing.T) {
	for _, c := range []basicauth.Credential{{Username: "u"}, {Password: "p"}} {
		if _, err := basicauth.NewVerifier([]basicauth.Credential{c}); err == nil {
			t.Errorf("NewVerifier(%v) succeeded, want an error", c)
		}
	}
}

func TestCredentialStringHidesThePassword(t *testing.T) {
	if got := (basicauth.Credential{Username: "u", Password: "secret"}).String(); got != "u:<redacted>" {
		t.Errorf("String() = %q", got)
	}
}
