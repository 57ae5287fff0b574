package catalog

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestServiceName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mariadb", "mariadb"},
		{"MariaDB_Cluster", "mariadb-cluster"},
		{"my.bp_v1.2", "my.bp-v1.2"},
		{"a__b--c  d", "a-b-c-d"},
		{"_-.lead-and-trail.-_", "lead-and-trail"},
		{"ünïcode blueprint", "n-code-blueprint"},
		{"___", "blueprint"},
		{"", "blueprint"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{strings.Repeat("a", 62) + "_b", strings.Repeat("a", 62)},
	}
	for _, tt := range tests {
		if got := ServiceName(tt.in); got != tt.want {
			t.Errorf("ServiceName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeManagerURL(t *testing.T) {
	for _, in := range []string{
		"https://mgr.example.com", "https://MGR.example.com/", "HTTPS://mgr.example.com:443",
		"https://mgr.example.com/api/v3.1", "https://mgr.example.com/api/v3.1/", "https://mgr.example.com/api/v3",
		" https://user@mgr.example.com/?x=1#f ",
	} {
		if got := NormalizeManagerURL(in); got != "https://mgr.example.com" {
			t.Errorf("NormalizeManagerURL(%q) = %q", in, got)
		}
	}
	for in, want := range map[string]string{
		"http://mgr:80":           "http://mgr",
		"http://mgr:8080/":        "http://mgr:8080",
		"https://mgr/prefix/api/": "https://mgr/prefix/api",
		"mgr.example.com/":        "mgr.example.com",
	} {
		if got := NormalizeManagerURL(in); got != want {
			t.Errorf("NormalizeManagerURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	const mgr = "https://mgr"
	// Golden values: these ids are published to platforms and must never change.
	if got, want := ServiceID(mgr, "default_tenant", "mariadb"), "d48ccf5b-0a32-558a-9630-cf544742ef0b"; got != want {
		t.Errorf("ServiceID = %s, want %s", got, want)
	}
	if got, want := PlanID(mgr, "default_tenant", "mariadb", "default"), "5b310fef-64f7-50ed-96a9-0c7eb30f0178"; got != want {
		t.Errorf("PlanID = %s, want %s", got, want)
	}

	id := ServiceID(mgr, "", "mariadb")
	if u, err := uuid.Parse(id); err != nil || u.Version() != 5 {
		t.Errorf("ServiceID = %q (%v), want a UUIDv5", id, err)
	}
	same := []string{
		ServiceID("https://MGR/api/v3.1/", "default_tenant", "mariadb"),
		ServiceID(mgr, DefaultTenant, "mariadb"),
	}
	for _, s := range same {
		if s != id {
			t.Errorf("ServiceID spelling changes the id: %s != %s", s, id)
		}
	}
	distinct := map[string]string{
		"base":         id,
		"other tenant": ServiceID(mgr, "t2", "mariadb"),
		"other bp":     ServiceID(mgr, "", "mariadb2"),
		"other mgr":    ServiceID("https://mgr2", "", "mariadb"),
		"plan":         PlanID(mgr, "", "mariadb", "default"),
		"other plan":   PlanID(mgr, "", "mariadb", "small"),
		"other svc":    PlanID(mgr, "", "mysql", "default"),
		// The parts are JSON-encoded, so shifting text between them changes the id.
		"shifted": PlanID(mgr, "", "mariadb\",\"x", "default"),
	}
	seen := map[string]string{}
	for name, v := range distinct {
		if other, ok := seen[v]; ok {
			t.Errorf("%s and %s have the same id %s", name, other, v)
		}
		seen[v] = name
	}
}
