package cloudifysim

import (
	"sort"
	"strings"
	"time"
)

// token is an issued authentication token.
type token struct {
	id, secret  string
	value       string
	username    string
	description any
	expiration  time.Time // zero: never (6.4+), or legacy expiry
	lastUsed    time.Time
	legacy      bool // a pre-6.4 opaque token
	createdAt   time.Time
}

// legacyTokenLifetime is the pre-6.4 default token lifetime.
const legacyTokenLifetime = 10 * time.Hour

// tokenAlphabet is used for token ids and secrets.
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// handleOK serves GET /ok (no authentication).
func (s *Simulator) handleOK(rq *request) *response {
	return jsonResp(200, "OK")
}

// handleVersion serves GET /version and GET /api/version.
func (s *Simulator) handleVersion(rq *request) *response {
	return jsonResp(200, map[string]any{
		"edition":        "premium",
		"version":        s.cfg.Version,
		"build":          "cloudifysim",
		"date":           "",
		"commit":         "",
		"distribution":   "rhel",
		"distro_release": "Ootpa",
	})
}

// handleStatus serves GET /status.
func (s *Simulator) handleStatus(rq *request) *response {
	svc := func(name string) map[string]any {
		return map[string]any{"status": "Active", "is_remote": false, "extra_info": map[string]any{}, "display_name": name}
	}
	return jsonResp(200, map[string]any{
		"status": "running",
		"services": map[string]any{
			"Cloudify Console":             svc("Cloudify Console"),
			"Manager Rest-Service":         svc("Manager Rest-Service"),
			"Management Worker":            svc("Management Worker"),
			"PostgreSQL":                   svc("PostgreSQL"),
			"RabbitMQ":                     svc("RabbitMQ"),
			"Webserver":                    svc("Webserver"),
			"AMQP-Postgres":                svc("AMQP-Postgres"),
			"Cloudify Execution Scheduler": svc("Cloudify Execution Scheduler"),
		},
	})
}

// issueLegacyToken creates a pre-6.4 opaque token.
func (s *Simulator) issueLegacyToken(user string, now time.Time) map[string]any {
	t := &token{id: s.randString(10, tokenAlphabet), username: user, legacy: true, createdAt: now,
		expiration: now.Add(legacyTokenLifetime)}
	t.value = "WyIwIiwi" + s.randString(40, tokenAlphabet)
	s.tokens[t.id] = t
	s.log.Debug("token issued", "username", user, "token_id", t.id, "legacy", true)
	out := map[string]any{"value": t.value, "role": "admin"}
	if s.ver.atLeast(4, 5, 0) {
		out["username"] = user
	}
	return out
}

// renderToken renders a 6.4+ token; the secret only when asked.
func renderToken(t *token, withSecret bool) map[string]any {
	value := "ctok-" + t.id + "-********"
	if withSecret {
		value = t.value
	}
	return map[string]any{
		"id": t.id, "value": value, "username": t.username, "role": "sys_admin",
		"description": t.description, "expiration_date": fmtTime(t.expiration), "last_used": fmtTime(t.lastUsed),
	}
}

// handleGetTokens serves GET /tokens: a new token before 6.4, a list after.
func (s *Simulator) handleGetTokens(rq *request) *response {
	if !s.ver.atLeast(6, 4, 0) {
		return jsonResp(200, s.issueLegacyToken(rq.user, rq.now))
	}
	var items []map[string]any
	for _, t := range s.tokens {
		if !t.legacy && t.username == rq.user {
			items = append(items, renderToken(t, false))
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i]["id"].(string) < items[j]["id"].(string) })
	spec := listSpec{name: "Token", fields: []string{"id", "value", "username", "role", "description", "expiration_date", "last_used"}}
	return s.listResponse(rq, items, spec)
}

// handlePostToken serves POST /tokens.
func (s *Simulator) handlePostToken(rq *request) *response {
	if !s.ver.atLeast(6, 4, 0) {
		return jsonResp(200, s.issueLegacyToken(rq.user, rq.now))
	}
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	t := &token{id: s.randString(10, tokenAlphabet), secret: s.randString(32, tokenAlphabet), username: rq.user, createdAt: rq.now}
	if v, ok := body["description"]; ok && v != nil {
		str, ok := v.(string)
		if !ok {
			return typeError("description", "str", v)
		}
		t.description = str
	}
	if v, ok := body["expiration_date"]; ok && v != nil {
		str, _ := v.(string)
		exp, err := parseTimestamp(str)
		if err != nil {
			if d, derr := parseRelative(str); derr == nil {
				exp, err = rq.now.Add(d), nil
			}
		}
		if err != nil {
			return apiErr("bad_parameters_error", "Invalid expiration date: %s", pyStr(v))
		}
		t.expiration = exp.UTC()
	}
	t.value = "ctok-" + t.id + "-" + t.secret
	s.tokens[t.id] = t
	s.log.Debug("token issued", "username", rq.user, "token_id", t.id)
	return jsonResp(201, renderToken(t, true))
}

// parseRelative reads the CLI's relative expirations such as "+10h" or "30m".
func parseRelative(s string) (time.Duration, error) {
	s = strings.TrimPrefix(s, "+")
	if strings.HasSuffix(s, "d") {
		d, err := time.ParseDuration(strings.TrimSuffix(s, "d") + "h")
		return d * 24, err
	}
	return time.ParseDuration(s)
}

// handleGetToken serves GET /tokens/{id} (6.4+).
func (s *Simulator) handleGetToken(rq *request) *response {
	t := s.tokens[rq.params["id"]]
	if t == nil || t.legacy || t.username != rq.user {
		return notFound("Token", rq.params["id"])
	}
	return jsonResp(200, renderToken(t, false))
}

// handleDeleteToken serves DELETE /tokens/{id} (6.4+).
func (s *Simulator) handleDeleteToken(rq *request) *response {
	t := s.tokens[rq.params["id"]]
	if t == nil || t.legacy || t.username != rq.user {
		return notFound("Token", rq.params["id"])
	}
	delete(s.tokens, t.id)
	s.log.Debug("token deleted", "token_id", t.id)
	return &response{status: 204}
}

// checkToken authenticates an Authentication-Token header value.
func (s *Simulator) checkToken(value string, now time.Time) (string, *response) {
	if s.ver.atLeast(6, 4, 0) {
		rest, ok := strings.CutPrefix(value, "ctok-")
		id, secret, ok2 := strings.Cut(rest, "-")
		if !ok || !ok2 || id == "" || secret == "" {
			return "", apiErr("unauthorized_error", "User unauthorized: Invalid token structure")
		}
		t := s.tokens[id]
		if t == nil || t.legacy || t.secret != secret {
			return "", apiErr("unauthorized_error", "User unauthorized: Authentication failed for token")
		}
		if !t.expiration.IsZero() && !now.Before(t.expiration) {
			return "", apiErr("unauthorized_error", "User unauthorized: Token is expired")
		}
		if _, ok := s.users[t.username]; !ok {
			return "", apiErr("unauthorized_error", "User unauthorized: Authentication failed for token")
		}
		t.lastUsed = now
		return t.username, nil
	}
	for _, t := range s.tokens {
		if t.legacy && t.value == value {
			if !now.Before(t.expiration) {
				return "", apiErr("unauthorized_error", "User unauthorized: Token is expired")
			}
			return t.username, nil
		}
	}
	return "", apiErr("unauthorized_error", "User unauthorized: Authentication failed for token")
}
