package cloudify

import (
	"context"
	"encoding/json"
	"net/http"
)

// Resource visibilities, as sent in CreateSecretRequest.Visibility and
// UpdateSecretRequest.Visibility.
const (
	// VisibilityPrivate: only the creator (and admins) see the resource.
	VisibilityPrivate = "private"
	// VisibilityTenant: every user of the tenant sees it.
	VisibilityTenant = "tenant"
	// VisibilityGlobal: every tenant sees it.
	VisibilityGlobal = "global"
)

// Secret is a secret resource (PUT, GET and PATCH /secrets/{key}, GET
// /secrets). Every field is optional: lists carry no Value, 4.4 adds
// IsHiddenValue, and a hidden value reads as "" for users other than its
// creator and admins.
type Secret struct {
	// Key is the secret's name.
	Key string `json:"key"`
	// Value is the secret's value; empty in lists, with _skip_value, and
	// for a hidden value the caller may not read.
	Value string `json:"value"`
	// Visibility is "private", "tenant" or "global".
	Visibility string `json:"visibility"`
	// IsHiddenValue (4.4+) hides the value from users other than its
	// creator and admins.
	IsHiddenValue bool `json:"is_hidden_value"`
	// TenantName and CreatedBy name the owner.
	TenantName string `json:"tenant_name"`
	CreatedBy  string `json:"created_by"`
	// CreatedAt and UpdatedAt are the manager's timestamps.
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
}

// String hides the value, so that logging a Secret leaks no credential.
func (s Secret) String() string {
	return "cloudify.Secret{Key:" + s.Key + " Visibility:" + s.Visibility + " Value:<redacted>}"
}

// UnmarshalJSON decodes a secret; a value that is not a JSON string (7.x
// secrets with a schema hold typed values) is kept as its JSON text.
func (s *Secret) UnmarshalJSON(b []byte) error {
	type plain Secret
	var w struct {
		plain
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Secret(w.plain)
	s.Value = ""
	switch {
	case len(w.Value) == 0 || string(w.Value) == "null":
	case w.Value[0] == '"':
		if err := json.Unmarshal(w.Value, &s.Value); err != nil {
			return err
		}
	default:
		s.Value = string(w.Value)
	}
	return nil
}

// CreateSecretRequest is the body of PUT /secrets/{key}.
type CreateSecretRequest struct {
	// Value is the secret's value (required by the manager; "" is sent).
	Value string
	// UpdateIfExists replaces the value of an existing secret instead of
	// failing with 409 conflict_error.
	UpdateIfExists bool
	// Visibility is "private", "tenant" or "global"; "" sends none (the
	// manager then uses "tenant").
	Visibility string
	// IsHiddenValue (4.4+) hides the value from other non-admin users.
	IsHiddenValue bool
}

// createSecretBody is the wire form of CreateSecretRequest.
type createSecretBody struct {
	Value          string `json:"value"`
	UpdateIfExists bool   `json:"update_if_exists"`
	Visibility     string `json:"visibility,omitempty"`
	IsHiddenValue  bool   `json:"is_hidden_value"`
}

// CreateSecret creates the secret key with PUT /api/v3.1/secrets/{key} and
// returns it (200).
//
// Errors: *APIError for a non-2xx answer: IsConflict (409 conflict_error)
// when the key exists and UpdateIfExists is false, 400 bad_parameters_error
// for a bad key or visibility, 403 forbidden_error when UpdateIfExists would
// change a hidden value the caller may not change; a wrapped transport error
// otherwise.
func (c *Client) CreateSecret(ctx context.Context, key string, req CreateSecretRequest) (Secret, error) {
	const op = "CreateSecret"
	if err := needID(op, "secret key", key); err != nil {
		return Secret{}, err
	}
	var s Secret
	if _, err := c.do(ctx, request{op: op, method: http.MethodPut, path: escapePath("secrets", key), body: createSecretBody(req), out: &s}); err != nil {
		return Secret{}, err
	}
	return s, nil
}

// GetSecret returns the secret key, value included (empty when hidden from
// the caller), from GET /api/v3.1/secrets/{key}. Errors: *APIError for a
// non-2xx answer (IsNotFound for 404 not_found_error, also for another
// user's private secret), a wrapped transport error otherwise.
func (c *Client) GetSecret(ctx context.Context, key string) (Secret, error) {
	const op = "GetSecret"
	if err := needID(op, "secret key", key); err != nil {
		return Secret{}, err
	}
	var s Secret
	if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: escapePath("secrets", key), out: &s}); err != nil {
		return Secret{}, err
	}
	return s, nil
}

// UpdateSecretRequest is the body of PATCH /secrets/{key}: nil fields are
// left unchanged.
type UpdateSecretRequest struct {
	Value         *string `json:"value,omitempty"`
	Visibility    *string `json:"visibility,omitempty"`
	IsHiddenValue *bool   `json:"is_hidden_value,omitempty"`
}

// UpdateSecret changes the given fields of the secret key with PATCH
// /api/v3.1/secrets/{key} and returns it. Errors: *APIError for a non-2xx
// answer (IsNotFound; 403 forbidden_error for a hidden value the caller may
// not change; 400 bad_parameters_error), a wrapped transport error otherwise.
func (c *Client) UpdateSecret(ctx context.Context, key string, req UpdateSecretRequest) (Secret, error) {
	const op = "UpdateSecret"
	if err := needID(op, "secret key", key); err != nil {
		return Secret{}, err
	}
	var s Secret
	if _, err := c.do(ctx, request{op: op, method: http.MethodPatch, path: escapePath("secrets", key), body: req, out: &s}); err != nil {
		return Secret{}, err
	}
	return s, nil
}

// DeleteSecret deletes the secret key with DELETE /api/v3.1/secrets/{key}
// (204). Errors: *APIError for a non-2xx answer (IsNotFound when it is
// already gone; 403 forbidden_error for a hidden value the caller may not
// change), a wrapped transport error otherwise.
func (c *Client) DeleteSecret(ctx context.Context, key string) error {
	const op = "DeleteSecret"
	if err := needID(op, "secret key", key); err != nil {
		return err
	}
	_, err := c.do(ctx, request{op: op, method: http.MethodDelete, path: escapePath("secrets", key)})
	return err
}

// ListSecrets returns the secrets the caller sees, without values, from GET
// /api/v3.1/secrets, reading every page (see ListOptions). Errors: *APIError
// for a non-2xx answer, a wrapped transport error otherwise; no partial
// result is returned.
func (c *Client) ListSecrets(ctx context.Context, opts ListOptions) ([]Secret, error) {
	return list[Secret](ctx, c, "ListSecrets", http.MethodGet, "/secrets", opts, nil)
}
