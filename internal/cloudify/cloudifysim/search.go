package cloudifysim

import (
	"strings"
)

// filterRule is one entry of filter_rules.
type filterRule struct {
	key      string
	values   []string
	operator string
	typ      string
	raw      map[string]any
}

// labelOperators and attributeOperators are the accepted operators.
var (
	labelOperators     = map[string]bool{"any_of": true, "not_any_of": true, "is_null": true, "is_not_null": true, "is_not": true}
	attributeOperators = map[string]bool{"any_of": true, "not_any_of": true, "contains": true, "not_contains": true,
		"starts_with": true, "ends_with": true, "is_not_empty": true}
)

// invalidRule is the 400 invalid_filter_rule answer.
func invalidRule(rule map[string]any, reason string) *response {
	r := apiErr("invalid_filter_rule", "The filter rule %s is invalid. %s", pyRepr(rule), reason)
	body := r.body.(map[string]any)
	body["err_filter_rule"] = rule
	body["err_reason"] = reason
	return r
}

// parseFilterRules validates filter_rules against the allowed attributes.
func parseFilterRules(v any, allowedAttrs []string) ([]filterRule, *response) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, apiErr("bad_parameters_error", "filter_rules must be a list")
	}
	allowed := map[string]bool{}
	for _, a := range allowedAttrs {
		allowed[a] = true
	}
	var rules []filterRule
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, apiErr("bad_parameters_error", "Each filter rule must be a dictionary")
		}
		fr := filterRule{raw: m}
		fr.key, _ = m["key"].(string)
		fr.operator, _ = m["operator"].(string)
		fr.typ, _ = m["type"].(string)
		if fr.key == "" || fr.operator == "" || fr.typ == "" {
			return nil, invalidRule(m, "The filter rule must contain the keys `key`, `values`, `operator` and `type`.")
		}
		vals, ok := m["values"].([]any)
		if !ok && m["values"] != nil {
			return nil, invalidRule(m, "The filter rule values must be a list of strings.")
		}
		for _, x := range vals {
			s, ok := x.(string)
			if !ok {
				return nil, invalidRule(m, "The filter rule values must be a list of strings.")
			}
			fr.values = append(fr.values, s)
		}
		switch fr.typ {
		case "label":
			if !labelOperators[fr.operator] {
				return nil, invalidRule(m, "The operator for filtering by labels must be one of any_of, not_any_of, is_null, is_not_null, is_not.")
			}
			fr.key = strings.ToLower(fr.key)
		case "attribute":
			if !attributeOperators[fr.operator] {
				return nil, invalidRule(m, "The operator for filtering by attributes must be one of any_of, not_any_of, contains, not_contains, starts_with, ends_with, is_not_empty.")
			}
			if !allowed[fr.key] {
				return nil, invalidRule(m, "Allowed attributes to filter by are "+strings.Join(allowedAttrs, ", ")+".")
			}
		default:
			return nil, invalidRule(m, "Filter rule type must be one of label or attribute.")
		}
		needsValues := fr.operator != "is_null" && fr.operator != "is_not_null" && fr.operator != "is_not_empty"
		if needsValues && len(fr.values) == 0 {
			return nil, invalidRule(m, "The filter rule values list must not be empty.")
		}
		rules = append(rules, fr)
	}
	return rules, nil
}

// matchRules reports whether an item with the given labels and attributes
// satisfies every rule.
func matchRules(rules []filterRule, labels []label, attr func(string) string) bool {
	for _, r := range rules {
		if !matchRule(r, labels, attr) {
			return false
		}
	}
	return true
}

// matchRule evaluates one rule.
func matchRule(r filterRule, labels []label, attr func(string) string) bool {
	in := func(v string) bool {
		for _, w := range r.values {
			if v == w {
				return true
			}
		}
		return false
	}
	if r.typ == "label" {
		hasKey, hasValue := false, false
		for _, l := range labels {
			if l.Key == r.key {
				hasKey = true
				if in(l.Value) {
					hasValue = true
				}
			}
		}
		switch r.operator {
		case "any_of":
			return hasValue
		case "not_any_of":
			return hasKey && !hasValue
		case "is_not":
			return !hasValue
		case "is_null":
			return !hasKey
		case "is_not_null":
			return hasKey
		}
		return false
	}
	v := attr(r.key)
	switch r.operator {
	case "any_of":
		return in(v)
	case "not_any_of":
		return !in(v)
	case "is_not_empty":
		return v != ""
	}
	for _, w := range r.values {
		switch r.operator {
		case "contains":
			if strings.Contains(v, w) {
				return true
			}
		case "not_contains":
			if strings.Contains(v, w) {
				return false
			}
		case "starts_with":
			if strings.HasPrefix(v, w) {
				return true
			}
		case "ends_with":
			if strings.HasSuffix(v, w) {
				return true
			}
		}
	}
	return r.operator == "not_contains"
}

// handleSearchDeployments serves POST /searches/deployments.
func (s *Simulator) handleSearchDeployments(rq *request) *response {
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	rules, errResp := parseFilterRules(body["filter_rules"], []string{"blueprint_id", "created_by", "site_name",
		"schedules", "tenant_name", "display_name", "installation_status"})
	if errResp != nil {
		return errResp
	}
	spec := s.deploymentListSpec()
	lp, errResp := s.parseListParams(rq.query(), spec)
	if errResp != nil {
		return errResp
	}
	var deps []*deployment
	var items []map[string]any
	all := 0
	for k, d := range s.deployments {
		if k.tenant != rq.tenant {
			continue
		}
		all++
		rendered := s.renderDeploymentLight(d, rq.now)
		attr := func(name string) string {
			v, _ := filterValue(rendered[name])
			return v
		}
		if matchRules(rules, d.labels, attr) {
			deps = append(deps, d)
			items = append(items, rendered)
		}
	}
	page, total := applyListLazy(items, func(i int) map[string]any { return s.renderDeployment(deps[i], rq.now) }, lp, spec)
	var filtered any
	if len(rules) > 0 {
		filtered = all - len(items)
	}
	return jsonResp(200, s.listEnvelope(page, total, lp, filtered))
}

// handleSearchBlueprints serves POST /searches/blueprints.
func (s *Simulator) handleSearchBlueprints(rq *request) *response {
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	rules, errResp := parseFilterRules(body["filter_rules"], []string{"id", "state", "tenant_name", "created_by"})
	if errResp != nil {
		return errResp
	}
	spec := listSpec{name: "Blueprint", fields: s.blueprintFields(), search: true}
	lp, errResp := s.parseListParams(rq.query(), spec)
	if errResp != nil {
		return errResp
	}
	var items []map[string]any
	all := 0
	for _, bp := range s.blueprints {
		if !s.blueprintVisible(bp) {
			continue
		}
		all++
		rendered := s.renderBlueprint(bp, rq.tenant)
		var labels []label
		for _, l := range asSlice(rendered["labels"]) {
			lm := asMap(l)
			k, _ := lm["key"].(string)
			v, _ := lm["value"].(string)
			labels = append(labels, label{Key: strings.ToLower(k), Value: v})
		}
		attr := func(name string) string {
			v, _ := filterValue(rendered[name])
			return v
		}
		if matchRules(rules, labels, attr) {
			items = append(items, rendered)
		}
	}
	page, total := applyList(items, lp, spec)
	var filtered any
	if len(rules) > 0 {
		filtered = all - len(items)
	}
	return jsonResp(200, s.listEnvelope(page, total, lp, filtered))
}
