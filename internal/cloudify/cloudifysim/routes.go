package cloudifysim

import (
	"sort"
	"strings"
)

// route is one REST endpoint.
type route struct {
	method  string
	pattern string // relative to /api/v3.1, with {name} segments
	segs    []string
	auth    bool                 // needs authentication
	tenant  bool                 // tenant-scoped: needs a valid Tenant header
	body    bool                 // reads a JSON body: Content-Type must be application/json
	avail   func(v version) bool // nil: every release
	h       func(*Simulator, *request) *response
}

// since returns an availability predicate for releases >= major.minor.patch.
func since(major, minor, patch int) func(version) bool {
	return func(v version) bool { return v.atLeast(major, minor, patch) }
}

// routes is the endpoint table.
var routes = buildRoutes()

func buildRoutes() []*route {
	rs := []*route{
		{method: "GET", pattern: "/ok", h: (*Simulator).handleOK},
		{method: "GET", pattern: "/version", auth: true, h: (*Simulator).handleVersion},
		{method: "GET", pattern: "/status", auth: true, h: (*Simulator).handleStatus},

		{method: "GET", pattern: "/tokens", auth: true, h: (*Simulator).handleGetTokens},
		{method: "POST", pattern: "/tokens", auth: true, body: true, h: (*Simulator).handlePostToken},
		{method: "GET", pattern: "/tokens/{id}", auth: true, avail: since(6, 4, 0), h: (*Simulator).handleGetToken},
		{method: "DELETE", pattern: "/tokens/{id}", auth: true, avail: since(6, 4, 0), h: (*Simulator).handleDeleteToken},

		{method: "GET", pattern: "/blueprints", auth: true, tenant: true, h: (*Simulator).handleListBlueprints},
		{method: "GET", pattern: "/blueprints/{id}", auth: true, tenant: true, h: (*Simulator).handleGetBlueprint},
		{method: "POST", pattern: "/searches/blueprints", auth: true, tenant: true, body: true, avail: since(6, 0, 0), h: (*Simulator).handleSearchBlueprints},

		{method: "GET", pattern: "/deployments", auth: true, tenant: true, h: (*Simulator).handleListDeployments},
		{method: "GET", pattern: "/deployments/{id}", auth: true, tenant: true, h: (*Simulator).handleGetDeployment},
		{method: "PUT", pattern: "/deployments/{id}", auth: true, tenant: true, body: true, h: (*Simulator).handleCreateDeployment},
		{method: "PATCH", pattern: "/deployments/{id}", auth: true, tenant: true, body: true, avail: since(5, 1, 1), h: (*Simulator).handlePatchDeployment},
		{method: "DELETE", pattern: "/deployments/{id}", auth: true, tenant: true, h: (*Simulator).handleDeleteDeployment},
		{method: "GET", pattern: "/deployments/{id}/outputs", auth: true, tenant: true, h: (*Simulator).handleOutputs},
		{method: "GET", pattern: "/deployments/{id}/capabilities", auth: true, tenant: true, avail: since(4, 5, 5), h: (*Simulator).handleCapabilities},
		{method: "POST", pattern: "/searches/deployments", auth: true, tenant: true, body: true, avail: since(6, 0, 0), h: (*Simulator).handleSearchDeployments},

		{method: "GET", pattern: "/executions", auth: true, tenant: true, h: (*Simulator).handleListExecutions},
		{method: "POST", pattern: "/executions", auth: true, tenant: true, body: true, h: (*Simulator).handleStartExecution},
		{method: "GET", pattern: "/executions/{id}", auth: true, tenant: true, h: (*Simulator).handleGetExecution},
		{method: "POST", pattern: "/executions/{id}", auth: true, tenant: true, body: true, h: (*Simulator).handleExecutionAction},

		{method: "GET", pattern: "/secrets", auth: true, tenant: true, h: (*Simulator).handleListSecrets},
		{method: "GET", pattern: "/secrets/{key}", auth: true, tenant: true, h: (*Simulator).handleGetSecret},
		{method: "PUT", pattern: "/secrets/{key}", auth: true, tenant: true, body: true, h: (*Simulator).handlePutSecret},
		{method: "PATCH", pattern: "/secrets/{key}", auth: true, tenant: true, body: true, h: (*Simulator).handlePatchSecret},
		{method: "DELETE", pattern: "/secrets/{key}", auth: true, tenant: true, h: (*Simulator).handleDeleteSecret},

		{method: "GET", pattern: "/node-instances", auth: true, tenant: true, h: (*Simulator).handleListNodeInstances},

		{method: "GET", pattern: "/deployment-updates", auth: true, tenant: true, avail: since(4, 4, 0), h: (*Simulator).handleListUpdates},
		{method: "GET", pattern: "/deployment-updates/{id}", auth: true, tenant: true, avail: since(4, 4, 0), h: (*Simulator).handleGetUpdate},
		{method: "PUT", pattern: "/deployment-updates/{id}/update/initiate", auth: true, tenant: true, body: true,
			avail: func(v version) bool { return v.atLeast(4, 4, 0) && !v.atLeast(7, 0, 0) }, h: (*Simulator).handleInitiateUpdate},
		{method: "POST", pattern: "/deployment-updates/{id}/update/initiate", auth: true, tenant: true,
			avail: since(4, 4, 0), h: (*Simulator).handleInitiateUpdatePost},
	}
	for _, r := range rs {
		r.segs = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
	}
	return rs
}

// matchSegs matches a path against a pattern's segments.
func matchSegs(segs, path []string) (map[string]string, bool) {
	if len(segs) != len(path) {
		return nil, false
	}
	var params map[string]string
	for i, sg := range segs {
		if strings.HasPrefix(sg, "{") {
			if path[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.Trim(sg, "{}")] = path[i]
			continue
		}
		if sg != path[i] {
			return nil, false
		}
	}
	return params, true
}

// match finds the route for method and path. When the path is known but not
// for this method, it returns the allowed methods instead.
func (s *Simulator) match(method, rel string) (*route, map[string]string, []string) {
	path := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	var allowed []string
	for _, r := range routes {
		if r.avail != nil && !r.avail(s.ver) {
			continue
		}
		params, ok := matchSegs(r.segs, path)
		if !ok {
			continue
		}
		if r.method == method {
			return r, params, nil
		}
		allowed = append(allowed, r.method)
	}
	sort.Strings(allowed)
	return nil, nil, allowed
}

// decodeBody decodes a JSON object body. An empty body is an empty object.
func decodeBody(rq *request) (map[string]any, *response) {
	if len(strings.TrimSpace(string(rq.body))) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := decodeJSON(rq.body, &v); err != nil {
		return nil, apiErr("bad_parameters_error", "Failed to decode JSON object: %s", err.Error())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, apiErr("bad_parameters_error", "Request body must be a JSON object")
	}
	return m, nil
}
