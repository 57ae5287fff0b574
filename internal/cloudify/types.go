package cloudify

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// VersionInfo is the answer of GET /api/v3.1/version.
type VersionInfo struct {
	// Edition is "premium" or "community".
	Edition string `json:"edition"`
	// Version is the release, for example "4.3" or "7.0.4".
	Version string `json:"version"`
	// Build, Date and Commit identify the build; often empty.
	Build  string `json:"build"`
	Date   string `json:"date"`
	Commit string `json:"commit"`
	// Distribution and DistroRelease describe the host OS.
	Distribution  string `json:"distribution"`
	DistroRelease string `json:"distro_release"`
}

// UnmarshalJSON decodes the version body, accepting strings, numbers,
// booleans and null for every field (some releases send a numeric build).
func (v *VersionInfo) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*v = VersionInfo{
		Edition:       jsonText(m["edition"]),
		Version:       jsonText(m["version"]),
		Build:         jsonText(m["build"]),
		Date:          jsonText(m["date"]),
		Commit:        jsonText(m["commit"]),
		Distribution:  jsonText(m["distribution"]),
		DistroRelease: jsonText(m["distro_release"]),
	}
	return nil
}

// AtLeast reports whether the manager version is major.minor or newer. It
// reports false when Version cannot be parsed.
func (v VersionInfo) AtLeast(major, minor int) bool {
	s, ok := ParseManagerVersion(v.Version)
	return ok && s.AtLeast(major, minor, 0)
}

// ManagerVersion is the numeric prefix of a manager release, such as 7.0.4.
type ManagerVersion struct{ Major, Minor, Patch int }

// ParseManagerVersion parses "7", "6.4", "7.0.4", "v7.0.4", "4.5.5-ga", "5.0.5.1" or
// "6.4.0.dev1": up to three dot-separated numbers, each ending at its first non-digit
// (what follows is ignored). It reports false without at least a major number, or for
// a number too large for an int.
func ParseManagerVersion(s string) (ManagerVersion, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	var nums [3]int
	parts := strings.SplitN(s, ".", 4)
	got := 0
	for i := 0; i < len(parts) && i < 3; i++ {
		p := parts[i]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return ManagerVersion{}, false
		}
		nums[i] = n
		got++
		if end != len(p) { // "0-ga", "0rc1": stop after the number
			break
		}
	}
	if got == 0 {
		return ManagerVersion{}, false
	}
	return ManagerVersion{nums[0], nums[1], nums[2]}, true
}

// AtLeast reports whether v is major.minor.patch or newer.
func (v ManagerVersion) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// String returns "major.minor.patch".
func (v ManagerVersion) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}

// ManagerStatus is the answer of GET /api/v3.1/status.
type ManagerStatus struct {
	// Status is "running" when the manager is healthy, otherwise for
	// example "degraded" or "fail".
	Status string `json:"status"`
	// Services is the per-service detail, kept raw because its shape
	// differs between releases (a list in 4.x, an object in 6.x+).
	Services json.RawMessage `json:"services,omitempty"`
}

// Label is a key/value label of a deployment or blueprint (5.1.1+). On
// resources the manager returns {key, value, created_at, created_by}; when
// labels are sent, only Key and Value are used.
type Label struct {
	// Key is the label key; the manager lower-cases it.
	Key string `json:"key"`
	// Value is one value of the key.
	Value string `json:"value"`
	// CreatedAt and CreatedBy are set by the manager on resources.
	CreatedAt Time   `json:"created_at"`
	CreatedBy string `json:"created_by,omitempty"`
}

// labelsWire converts labels to the request form: a list of one-key objects,
// [{"key": "value"}, ...]. Several values of one key give several objects.
func labelsWire(labels []Label) []map[string]string {
	out := make([]map[string]string, 0, len(labels))
	for _, l := range labels {
		out = append(out, map[string]string{l.Key: l.Value})
	}
	return out
}

// ListOptions controls list calls. Every list method fetches pages with
// _offset/_size until offset+len(items) reaches metadata.pagination.total,
// an empty page arrives, or Limit items have been read.
type ListOptions struct {
	// Include is the projection, sent as one comma-joined _include.
	Include []string
	// Sort lists fields to sort by, "-field" for descending; one _sort each.
	Sort []string
	// Filters are equality filters sent as repeated query keys; several
	// values of one key mean OR. Reserved parameters such as _search or
	// _all_tenants may be passed here too.
	Filters map[string][]string
	// PageSize is the _size of each request; 0 means DefaultPageSize.
	PageSize int
	// Limit stops after this many items; 0 means every page.
	Limit int
}

// query returns the query parameters of o without paging.
func (o ListOptions) query() map[string][]string {
	q := make(map[string][]string)
	keys := make([]string, 0, len(o.Filters))
	for k := range o.Filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q[k] = append(q[k], o.Filters[k]...)
	}
	if len(o.Include) > 0 {
		q["_include"] = []string{strings.Join(o.Include, ",")}
	}
	if len(o.Sort) > 0 {
		q["_sort"] = append([]string(nil), o.Sort...)
	}
	return q
}

// Filter rule types and operators for SearchDeployments.
const (
	// FilterTypeLabel matches labels.
	FilterTypeLabel = "label"
	// FilterTypeAttribute matches resource attributes (blueprint_id,
	// created_by, site_name, ...).
	FilterTypeAttribute = "attribute"

	// FilterAnyOf matches when the value is one of Values.
	FilterAnyOf = "any_of"
	// FilterNotAnyOf matches when the value is none of Values.
	FilterNotAnyOf = "not_any_of"
	// FilterContains matches when the value contains one of Values.
	FilterContains = "contains"
	// FilterNotContains matches when the value contains none of Values.
	FilterNotContains = "not_contains"
	// FilterStartsWith matches when the value starts with one of Values.
	FilterStartsWith = "starts_with"
	// FilterEndsWith matches when the value ends with one of Values.
	FilterEndsWith = "ends_with"
	// FilterIsNull matches when the label or attribute is not set.
	FilterIsNull = "is_null"
	// FilterIsNotNull matches when the label or attribute is set.
	FilterIsNotNull = "is_not_null"
)

// FilterRule is one rule of POST /searches/{resource}:
// {"key", "values", "operator", "type"}. Type is FilterTypeLabel or
// FilterTypeAttribute.
type FilterRule struct {
	// Key is the label key or attribute name.
	Key string `json:"key"`
	// Values are the operands; sent as [] when empty.
	Values []string `json:"values"`
	// Operator is one of the Filter* operator constants.
	Operator string `json:"operator"`
	// Type is FilterTypeLabel or FilterTypeAttribute.
	Type string `json:"type"`
}

// MarshalJSON sends Values as [] rather than null when empty.
func (r FilterRule) MarshalJSON() ([]byte, error) {
	type wire FilterRule
	w := wire(r)
	if w.Values == nil {
		w.Values = []string{}
	}
	return json.Marshal(w)
}

// listPage is the list envelope of every list endpoint.
type listPage[T any] struct {
	Items    []T `json:"items"`
	Metadata struct {
		Pagination struct {
			Total  int `json:"total"`
			Size   int `json:"size"`
			Offset int `json:"offset"`
		} `json:"pagination"`
	} `json:"metadata"`
}
