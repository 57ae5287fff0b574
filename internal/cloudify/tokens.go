package cloudify

import (
	"context"
	"net/http"
	"time"
)

// Token is an authentication token. Before 6.4 only Value and Role (and,
// from 4.5, Username) are set; from 6.4 the manager also returns ID,
// Description, ExpirationDate and LastUsed, and Value is "ctok-<id>-<secret>".
// Send Value with WithToken.
type Token struct {
	// ID (6.4+) is the token id.
	ID string `json:"id,omitempty"`
	// Value is the secret to send as Authentication-Token.
	Value string `json:"value"`
	// Username (4.5+) and Role describe the token's user.
	Username string `json:"username,omitempty"`
	Role     string `json:"role,omitempty"`
	// Description, ExpirationDate and LastUsed are 6.4+ fields.
	Description    string `json:"description,omitempty"`
	ExpirationDate Time   `json:"expiration_date"`
	LastUsed       Time   `json:"last_used"`
}

// String hides the token value, so that logging a Token leaks no secret.
func (t Token) String() string {
	return "cloudify.Token{ID:" + t.ID + " Username:" + t.Username + " Role:" + t.Role + " Value:<redacted>}"
}

// tokenBody is the body of POST /tokens (6.4+).
type tokenBody struct {
	Description    string `json:"description,omitempty"`
	ExpirationDate string `json:"expiration_date,omitempty"`
}

// NewToken creates a token for the authenticated user. Before 6.4 it uses
// GET /api/v3.1/tokens, which takes no parameters (description and expires
// are ignored; the token lives for the manager's configured lifetime, 10 h by
// default). From 6.4, and when the version is unknown, it uses POST
// /api/v3.1/tokens with {"description", "expiration_date"} (each omitted when
// empty or zero); the secret value appears only in this answer.
//
// Errors: *APIError for a non-2xx answer (IsUnauthorized for bad
// credentials), a wrapped transport error otherwise. The version lookup may
// also fail with a transport error.
func (c *Client) NewToken(ctx context.Context, description string, expires time.Time) (Token, error) {
	const op = "NewToken"
	v, known, err := c.managerVersion(ctx)
	if err != nil {
		return Token{}, err
	}
	var t Token
	r := request{op: op, path: "/tokens", out: &t}
	if known && !v.AtLeast(6, 4, 0) {
		r.method = http.MethodGet
	} else {
		b := tokenBody{Description: description}
		if !expires.IsZero() {
			b.ExpirationDate = expires.UTC().Format(TimeLayout)
		}
		r.method, r.body = http.MethodPost, b
	}
	if _, err := c.do(ctx, r); err != nil {
		return Token{}, err
	}
	return t, nil
}
