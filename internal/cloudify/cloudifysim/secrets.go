package cloudifysim

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Roles of Config.Roles.
const (
	// RoleAdmin is the manager's sys_admin: it sees every resource of every
	// tenant and every hidden secret value. Users not in Config.Roles have it.
	RoleAdmin = "sys_admin"
	// RoleUser is a plain user of every tenant: it does not see other users'
	// private resources nor their hidden secret values.
	RoleUser = "user"
)

// Secret visibilities.
const (
	visPrivate = "private"
	visTenant  = "tenant"
	visGlobal  = "global"
)

// secret is a stored secret. Values are strings, as the manager stores them.
type secret struct {
	tenant, key string
	value       string
	visibility  string
	hidden      bool
	createdBy   string
	createdAt   time.Time
	updatedAt   time.Time
	seq         int64
}

// secretKey identifies a secret within its tenant.
type secretKey struct{ tenant, key string }

// isAdmin reports whether user has the sys_admin role.
func (s *Simulator) isAdmin(user string) bool {
	r, ok := s.cfg.Roles[user]
	return !ok || r == RoleAdmin
}

// lookupSecret finds the secret key as the tenant sees it: its own, or a
// global one of another tenant. The caller checks private visibility.
func (s *Simulator) lookupSecret(tenant, key string) *secret {
	if sec := s.secrets[secretKey{tenant, key}]; sec != nil {
		return sec
	}
	for _, sec := range s.sortedSecrets() {
		if sec.key == key && sec.visibility == visGlobal {
			return sec
		}
	}
	return nil
}

// visibleSecret is lookupSecret for a user: a private secret of another
// user is not found unless the user is an admin.
func (s *Simulator) visibleSecret(tenant, user, key string) *secret {
	sec := s.lookupSecret(tenant, key)
	if sec == nil || !s.secretVisibleTo(sec, user) {
		return nil
	}
	return sec
}

// secretVisibleTo applies private visibility.
func (s *Simulator) secretVisibleTo(sec *secret, user string) bool {
	return sec.visibility != visPrivate || sec.createdBy == user || s.isAdmin(user)
}

// valuePermitted reports whether user may read and change a hidden value:
// its creator or an admin.
func (s *Simulator) valuePermitted(sec *secret, user string) bool {
	return !sec.hidden || sec.createdBy == user || s.isAdmin(user)
}

// sortedSecrets lists every secret in creation order.
func (s *Simulator) sortedSecrets() []*secret {
	out := make([]*secret, 0, len(s.secrets))
	for _, sec := range s.secrets {
		out = append(out, sec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// putSecret stores a new secret.
func (s *Simulator) putSecret(tenant, key, value, visibility string, hidden bool, user string, now time.Time) *secret {
	s.seq++
	sec := &secret{tenant: tenant, key: key, value: value, visibility: visibility, hidden: hidden,
		createdBy: user, createdAt: now, updatedAt: now, seq: s.seq}
	s.secrets[secretKey{tenant, key}] = sec
	return sec
}

// secretFields is the secret field set of the simulated release.
func (s *Simulator) secretFields() []string {
	f := []string{"key", "value", "created_at", "updated_at", "tenant_name", "created_by", "visibility",
		"private_resource", "resource_availability"}
	if s.ver.atLeast(4, 4, 0) {
		f = append(f, "is_hidden_value")
	}
	if s.ver.atLeast(7, 0, 0) {
		f = append(f, "schema", "provider_name", "provider_options")
	}
	return f
}

// renderSecret returns the secret resource as user sees it: a hidden value
// the user may not read is the empty string.
func (s *Simulator) renderSecret(sec *secret, user string) map[string]any {
	value := sec.value
	if !s.valuePermitted(sec, user) {
		value = ""
	}
	return map[string]any{
		"key": sec.key, "id": sec.key, "value": value,
		"created_at": fmtTime(sec.createdAt), "updated_at": fmtTime(sec.updatedAt),
		"tenant_name": sec.tenant, "created_by": sec.createdBy, "visibility": sec.visibility,
		"private_resource": sec.visibility == visPrivate, "resource_availability": sec.visibility,
		"is_hidden_value": sec.hidden, "schema": nil, "provider_name": nil, "provider_options": nil,
	}
}

// secretBody reads the optional fields of a PUT or PATCH body.
type secretBody struct {
	value         *string
	visibility    *string
	hidden        *bool
	updateIfExist bool
}

// parseSecretBody checks the types of the body's fields.
func parseSecretBody(body map[string]any) (secretBody, *response) {
	var sb secretBody
	if v, ok := body["value"]; ok && v != nil {
		str, ok := v.(string)
		if !ok {
			return sb, typeError("value", "str", v)
		}
		sb.value = &str
	}
	if v, ok := body["visibility"]; ok && v != nil {
		str, ok := v.(string)
		if !ok || (str != visPrivate && str != visTenant && str != visGlobal) {
			return sb, apiErr("bad_parameters_error", "Invalid visibility: `%s`. Valid visibility's values are: ['private', 'tenant', 'global']", pyStr(v))
		}
		sb.visibility = &str
	}
	if v, ok := body["is_hidden_value"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return sb, typeError("is_hidden_value", "bool", v)
		}
		sb.hidden = &b
	}
	if v, ok := body["update_if_exists"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return sb, typeError("update_if_exists", "bool", v)
		}
		sb.updateIfExist = b
	}
	return sb, nil
}

// forbiddenHidden is the answer to a change of a hidden value by a user who
// may not see it.
func forbiddenHidden(user, key string) *response {
	return apiErr("forbidden_error", "User `%s` is not permitted to modify the hidden value secret `%s`", user, key)
}

// handleListSecrets serves GET /secrets: every secret the user sees, without
// values.
func (s *Simulator) handleListSecrets(rq *request) *response {
	var items []map[string]any
	for _, sec := range s.sortedSecrets() {
		if (sec.tenant == rq.tenant || sec.visibility == visGlobal) && s.secretVisibleTo(sec, rq.user) {
			items = append(items, s.renderSecret(sec, rq.user))
		}
	}
	return s.listResponse(rq, items, listSpec{name: "Secret", fields: withoutField(s.secretFields(), "value")})
}

// handleGetSecret serves GET /secrets/{key}.
func (s *Simulator) handleGetSecret(rq *request) *response {
	key := rq.params["key"]
	sec := s.visibleSecret(rq.tenant, rq.user, key)
	if sec == nil {
		return notFound("Secret", key)
	}
	fields := s.secretFields()
	if v := rq.query()["_skip_value"]; len(v) > 0 {
		skip, errResp := parseQueryBool("_skip_value", v[0])
		if errResp != nil {
			return errResp
		}
		if skip {
			fields = withoutField(fields, "value")
		}
	}
	return singleResponse(rq, s.renderSecret(sec, rq.user), fields)
}

// handlePutSecret serves PUT /secrets/{key}: create, or with
// update_if_exists replace the value (and the given visibility and
// is_hidden_value) of an existing secret.
func (s *Simulator) handlePutSecret(rq *request) *response {
	key := rq.params["key"]
	if errResp := s.validateSecretKey(key); errResp != nil {
		return errResp
	}
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	sb, errResp := parseSecretBody(body)
	if errResp != nil {
		return errResp
	}
	if sb.value == nil {
		return apiErr("bad_parameters_error", "Missing value in json request body")
	}
	if existing := s.lookupSecret(rq.tenant, key); existing != nil {
		if !sb.updateIfExist || !s.secretVisibleTo(existing, rq.user) {
			return apiErr("conflict_error", "<Secret id=`%s` tenant=`%s`> already exists on <Tenant name=`%s`> or with global visibility",
				key, existing.tenant, rq.tenant)
		}
		if !s.valuePermitted(existing, rq.user) {
			return forbiddenHidden(rq.user, key)
		}
		s.changeSecret(existing, sb, rq.now)
		return jsonResp(200, project(s.renderSecret(existing, rq.user), s.secretFields()))
	}
	vis := visTenant
	if sb.visibility != nil {
		vis = *sb.visibility
	}
	hidden := sb.hidden != nil && *sb.hidden && s.ver.atLeast(4, 4, 0)
	sec := s.putSecret(rq.tenant, key, *sb.value, vis, hidden, rq.user, rq.now)
	s.log.Debug("secret created", "key", key, "tenant", rq.tenant, "visibility", vis, "is_hidden_value", hidden)
	return jsonResp(200, project(s.renderSecret(sec, rq.user), s.secretFields()))
}

// validateSecretKey applies the manager's id character rules to a key
// (without the letter-first rule of deployment ids).
func (s *Simulator) validateSecretKey(key string) *response {
	re := idCharsRe
	if s.ver.atLeast(5, 1, 0) {
		re = idCharsPy3
	}
	if len(key) > 256 || !re.MatchString(key) {
		return apiErr("bad_parameters_error",
			"The `key` argument contains illegal characters. Only letters, digits and the characters \"-\", \".\" and \"_\" are allowed")
	}
	return nil
}

// withoutField returns fields without name.
func withoutField(fields []string, name string) []string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f != name {
			out = append(out, f)
		}
	}
	return out
}

// changeSecret applies the given fields.
func (s *Simulator) changeSecret(sec *secret, sb secretBody, now time.Time) {
	if sb.value != nil {
		sec.value = *sb.value
	}
	if sb.visibility != nil {
		sec.visibility = *sb.visibility
	}
	if sb.hidden != nil && s.ver.atLeast(4, 4, 0) {
		sec.hidden = *sb.hidden
	}
	sec.updatedAt = now
}

// handlePatchSecret serves PATCH /secrets/{key}.
func (s *Simulator) handlePatchSecret(rq *request) *response {
	key := rq.params["key"]
	body, errResp := decodeBody(rq)
	if errResp != nil {
		return errResp
	}
	sb, errResp := parseSecretBody(body)
	if errResp != nil {
		return errResp
	}
	sec := s.visibleSecret(rq.tenant, rq.user, key)
	if sec == nil {
		return notFound("Secret", key)
	}
	if !s.valuePermitted(sec, rq.user) {
		return forbiddenHidden(rq.user, key)
	}
	s.changeSecret(sec, sb, rq.now)
	return jsonResp(200, project(s.renderSecret(sec, rq.user), s.secretFields()))
}

// handleDeleteSecret serves DELETE /secrets/{key}: 204.
func (s *Simulator) handleDeleteSecret(rq *request) *response {
	key := rq.params["key"]
	sec := s.visibleSecret(rq.tenant, rq.user, key)
	if sec == nil {
		return notFound("Secret", key)
	}
	if !s.valuePermitted(sec, rq.user) {
		return forbiddenHidden(rq.user, key)
	}
	delete(s.secrets, secretKey{sec.tenant, sec.key})
	s.log.Debug("secret deleted", "key", key, "tenant", sec.tenant)
	return &response{status: 204}
}

// secretValue returns the value get_secret sees in tenant: the string, or
// the JSON it holds when it is a JSON object or list.
func (s *Simulator) secretValue(tenant, key string) (any, bool) {
	sec := s.lookupSecret(tenant, key)
	if sec == nil {
		return nil, false
	}
	if t := strings.TrimSpace(sec.value); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var v any
		if decodeJSON([]byte(t), &v) == nil {
			return v, true
		}
	}
	return sec.value, true
}

// SetSecret stores (or replaces) a secret with global visibility, owned by
// admin in the first tenant, so that get_secret in every tenant reads it. A
// string value is stored as is; any other value as its JSON encoding.
func (s *Simulator) SetSecret(key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	str, ok := value.(string)
	if !ok {
		b, _ := json.Marshal(value)
		str = string(b)
	}
	tenant := s.firstTenant()
	now := s.clock.Now().UTC()
	if sec := s.secrets[secretKey{tenant, key}]; sec != nil {
		sec.value, sec.updatedAt = str, now
		return
	}
	s.putSecret(tenant, key, str, visGlobal, false, "admin", now)
}

// firstTenant returns the tenants' first name in order.
func (s *Simulator) firstTenant() string {
	first := ""
	for t := range s.tenants {
		if first == "" || t < first {
			first = t
		}
	}
	return first
}

// SecretInfo is a snapshot of one secret.
type SecretInfo struct {
	Tenant, Key, Value, Visibility, CreatedBy string
	IsHiddenValue                             bool
	CreatedAt, UpdatedAt                      time.Time
}

// Secrets returns every secret of every tenant, values included, in creation
// order.
func (s *Simulator) Secrets() []SecretInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now().UTC())
	var out []SecretInfo
	for _, sec := range s.sortedSecrets() {
		out = append(out, SecretInfo{Tenant: sec.tenant, Key: sec.key, Value: sec.value, Visibility: sec.visibility,
			CreatedBy: sec.createdBy, IsHiddenValue: sec.hidden, CreatedAt: sec.createdAt, UpdatedAt: sec.updatedAt})
	}
	return out
}
