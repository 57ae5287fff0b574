package cloudifysim

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// defaultPageSize is the manager's default_page_size.
const defaultPageSize = 1000

// listSpec describes a listable resource.
type listSpec struct {
	name       string   // model name for messages, e.g. "Deployment"
	fields     []string // resource fields of the simulated release
	search     bool     // _search is a substring match on id
	searchName bool     // _search_name is a substring match on display_name
}

// listParams are the parsed reserved query parameters.
type listParams struct {
	include []string
	sort    []sortKey
	size    int
	offset  int
	all     bool
	search  string
	sName   string
	filters map[string][]string
	keys    []string // filter keys in request order
}

// sortKey is one _sort entry.
type sortKey struct {
	field string
	desc  bool
}

// parseQueryBool reads a query-string boolean (true/false, any case).
func parseQueryBool(name, v string) (bool, *response) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, apiErr("bad_parameters_error", "%s must be a boolean (true or false), got %s", name, v)
}

// includeFields parses _include (comma separated, possibly repeated) and
// checks the names against fields.
func includeFields(q map[string][]string, fields []string) ([]string, *response) {
	var inc []string
	for _, v := range q["_include"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				inc = append(inc, f)
			}
		}
	}
	if len(inc) == 0 {
		return nil, nil
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
	}
	var bad []string
	for _, f := range inc {
		if !known[f] {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return nil, apiErr("no_such_include_field_error", "Illegal include fields: [%s] - available fields: [%s]",
			strings.Join(bad, ", "), strings.Join(fields, ", "))
	}
	return inc, nil
}

// parseListParams reads and validates the reserved parameters and filters.
func (s *Simulator) parseListParams(q map[string][]string, spec listSpec) (*listParams, *response) {
	lp := &listParams{size: defaultPageSize, filters: map[string][]string{}}
	var errResp *response
	if lp.include, errResp = includeFields(q, spec.fields); errResp != nil {
		return nil, errResp
	}
	known := map[string]bool{}
	for _, f := range spec.fields {
		known[f] = true
	}
	for _, v := range q["_sort"] {
		field := strings.TrimLeft(v, "-+")
		if !known[field] {
			return nil, apiErr("bad_parameters_error", "Invalid sort field: `%s`. Can only sort by one of: %s", field, pyRepr(spec.fields))
		}
		lp.sort = append(lp.sort, sortKey{field: field, desc: strings.HasPrefix(v, "-")})
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"_size", &lp.size}, {"_offset", &lp.offset}} {
		vals, ok := q[p.name]
		if !ok || len(vals) == 0 || vals[0] == "" {
			continue
		}
		n, err := strconv.Atoi(vals[0])
		if err != nil || n < 0 {
			return nil, s.paginationError(p.name, vals[0], err != nil)
		}
		*p.dst = n
	}
	if v := q["_get_all_results"]; len(v) > 0 {
		b, errResp := parseQueryBool("_get_all_results", v[0])
		if errResp != nil {
			return nil, errResp
		}
		lp.all = b
	}
	if v := q["_search"]; len(v) > 0 && spec.search {
		lp.search = v[0]
	}
	if v := q["_search_name"]; len(v) > 0 && spec.searchName {
		lp.sName = v[0]
	}
	var unknown []string
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "_") {
			continue
		}
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		lp.filters[k] = q[k]
		lp.keys = append(lp.keys, k)
	}
	if len(unknown) > 0 {
		return nil, apiErr("bad_parameters_error", "Filter keys '%s' do not exist. Allowed filters are: %s",
			pyRepr(unknown), pyRepr(spec.fields))
	}
	return lp, nil
}

// paginationError is the release's answer to a bad _size or _offset.
func (s *Simulator) paginationError(name, val string, notInt bool) *response {
	switch {
	case s.ver.atLeast(7, 0, 0):
		reason := "ensure this value is greater than or equal to 0"
		if notInt {
			reason = "value is not a valid integer"
		}
		return apiErrNoTraceback("bad_parameters_error",
			fmt.Sprintf("1 validation error for ListQuery\n%s\n  %s (type=%s)", name, reason,
				map[bool]string{true: "type_error.integer", false: "value_error.number.not_ge; limit_value=0"}[notInt]))
	case s.ver.atLeast(6, 0, 0) || notInt:
		return apiErr("bad_parameters_error", "%s must be a non-negative integer, got %s", name, val)
	default:
		return apiErr("illegal_action_error", "Invalid pagination %s: %s must be a non-negative number", name, val)
	}
}

// filterValue renders a field value for equality filters.
func filterValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64, int, int64:
		return fmt.Sprint(x), true
	}
	return "", false
}

// compareAny orders JSON values: null first, then numbers, strings, bools.
func compareAny(a, b any) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	if c, ok := compare(a, b); ok {
		return c
	}
	ab, aok := a.(bool)
	bb, bok := b.(bool)
	if aok && bok {
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		}
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// applyList filters, sorts, pages and projects rendered items.
func applyList(items []map[string]any, lp *listParams, spec listSpec) ([]map[string]any, int) {
	return applyListLazy(items, nil, lp, spec)
}

// applyListLazy is applyList where items hold the fields needed to filter and
// sort, and full (when not nil) renders the whole resource of the returned
// page only.
func applyListLazy(items []map[string]any, full func(i int) map[string]any, lp *listParams, spec listSpec) ([]map[string]any, int) {
	var kept []int
	for i, it := range items {
		ok := true
		for _, k := range lp.keys {
			val, has := filterValue(it[k])
			match := false
			if has {
				for _, want := range lp.filters[k] {
					if val == want {
						match = true
						break
					}
				}
			}
			if !match {
				ok = false
				break
			}
		}
		if ok && lp.search != "" {
			id, _ := it["id"].(string)
			ok = strings.Contains(id, lp.search)
		}
		if ok && lp.sName != "" {
			dn, _ := it["display_name"].(string)
			ok = strings.Contains(dn, lp.sName)
		}
		if ok {
			kept = append(kept, i)
		}
	}
	keys := lp.sort
	if len(keys) == 0 {
		def := "id"
		for _, f := range spec.fields {
			if f == "created_at" {
				def = "created_at"
			}
		}
		keys = []sortKey{{field: def}, {field: "id"}}
	} else {
		// Rows come from maps: break ties on id so equal keys list in a stable order.
		keys = append(append([]sortKey{}, keys...), sortKey{field: "id"})
	}
	sort.SliceStable(kept, func(a, b int) bool {
		x, y := items[kept[a]], items[kept[b]]
		for _, k := range keys {
			c := compareAny(x[k.field], y[k.field])
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	total := len(kept)
	if !lp.all {
		lo := min(lp.offset, total)
		hi := min(lo+lp.size, total)
		kept = kept[lo:hi]
	}
	fields := spec.fields
	if len(lp.include) > 0 {
		fields = lp.include
		if !slices.Contains(fields, "workflows") {
			full = nil // the light rendering has every other field
		}
	}
	out := make([]map[string]any, len(kept))
	for i, idx := range kept {
		it := items[idx]
		if full != nil {
			it = full(idx)
		}
		out[i] = project(it, fields)
	}
	return out, total
}

// project keeps only fields of m.
func project(m map[string]any, fields []string) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f] = m[f]
	}
	return out
}

// listEnvelope builds {items, metadata{pagination, filtered}}.
func (s *Simulator) listEnvelope(items []map[string]any, total int, lp *listParams, filtered any) map[string]any {
	size, offset := lp.size, lp.offset
	if lp.all {
		size, offset = total, 0
	}
	if items == nil {
		items = []map[string]any{}
	}
	meta := map[string]any{"pagination": map[string]any{"total": total, "size": size, "offset": offset}}
	if s.ver.atLeast(5, 2, 0) {
		meta["filtered"] = filtered
	}
	return map[string]any{"items": items, "metadata": meta}
}

// listResponse runs the whole list pipeline for rendered items.
func (s *Simulator) listResponse(rq *request, items []map[string]any, spec listSpec) *response {
	lp, errResp := s.parseListParams(rq.query(), spec)
	if errResp != nil {
		return errResp
	}
	page, total := applyList(items, lp, spec)
	return jsonResp(200, s.listEnvelope(page, total, lp, nil))
}

// singleResponse renders one resource honouring _include.
func singleResponse(rq *request, item map[string]any, fields []string) *response {
	inc, errResp := includeFields(rq.query(), fields)
	if errResp != nil {
		return errResp
	}
	if len(inc) > 0 {
		fields = inc
	}
	return jsonResp(200, project(item, fields))
}
