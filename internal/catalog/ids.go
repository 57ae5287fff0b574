package catalog

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// Namespace is the UUIDv5 namespace of the ids this package generates. It is fixed forever:
// changing it would change every service and plan id, which platforms treat as new
// offerings.
var Namespace = uuid.MustParse("c3049b0c-bd4f-412c-9f25-04c1bf585009")

// DefaultTenant is the tenant assumed when none is configured, as the Cloudify client does.
const DefaultTenant = "default_tenant"

// ServiceID returns the generated OSB service id of a blueprint:
// UUIDv5(Namespace, ["service", manager, tenant, blueprint id]), the name being the JSON
// array of those strings. manager is normalized with NormalizeManagerURL and an empty tenant
// is DefaultTenant, so the id is the same for every spelling of the same manager.
func ServiceID(managerURL, tenant, blueprintID string) string {
	return uuidFor("service", NormalizeManagerURL(managerURL), tenantOrDefault(tenant), blueprintID)
}

// PlanID returns the generated OSB plan id: UUIDv5(Namespace, ["plan", manager, tenant,
// service key, plan name]). The service key is the blueprint id the service is built from
// (its key in the overlay). Renaming a plan changes its id unless the overlay pins it.
func PlanID(managerURL, tenant, serviceKey, planName string) string {
	return uuidFor("plan", NormalizeManagerURL(managerURL), tenantOrDefault(tenant), serviceKey, planName)
}

func uuidFor(parts ...string) string {
	name, _ := json.Marshal(parts) // a []string always marshals
	return uuid.NewSHA1(Namespace, name).String()
}

func tenantOrDefault(t string) string {
	if t == "" {
		return DefaultTenant
	}
	return t
}

// NormalizeManagerURL returns the canonical form of a manager URL used in ids: scheme and
// host lower-cased, the scheme's default port dropped, and a trailing "/", "/api/v3.1" or
// "/api/v3" removed. "https://MGR:443/api/v3.1/" and "https://mgr" both give "https://mgr".
func NormalizeManagerURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(s), "/")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	u.Host = host
	p := strings.TrimRight(u.Path, "/")
	for _, suffix := range []string{"/api/v3.1", "/api/v3"} {
		p = strings.TrimSuffix(p, suffix)
	}
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = ""
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// MaxNameLength is the longest service name ServiceName generates (a DNS label's length,
// which Kubernetes object names derived from it can hold).
const MaxNameLength = 63

// ServiceName derives a CLI-friendly service name from a blueprint id: lower-cased, "_" and
// every character outside [a-z0-9.-] replaced by "-", runs of "-" collapsed, "-" and "."
// trimmed from both ends, at most MaxNameLength characters. An id with nothing left gives
// "blueprint".
func ServiceName(blueprintID string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(blueprintID) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.':
			b.WriteRune(r)
			dash = false
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return trimName(b.String(), MaxNameLength)
}

// trimName cuts s to max bytes (s is ASCII) and trims "-" and "." from both ends.
func trimName(s string, max int) string {
	s = strings.Trim(s, "-.")
	if len(s) > max {
		s = strings.Trim(s[:max], "-.")
	}
	if s == "" {
		return "blueprint"
	}
	return s
}
