package osb

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// invalid returns a 400 error with a description for the platform.
func invalid(format string, args ...any) error {
	return broker.Errorf(broker.EInvalid, format, args...)
}

// query is a request's parsed query string.
type query url.Values

// parseQuery parses the raw query strictly: r.URL.Query drops what it cannot parse.
func parseQuery(r *http.Request) (query, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("malformed query string: %v", err)
	}
	return query(q), nil
}

// get returns the first value of key, or "".
func (q query) get(key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseAsyncQuery parses the query of a route that takes accepts_incomplete.
func parseAsyncQuery(r *http.Request) (query, bool, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, false, err
	}
	async, err := q.acceptsIncomplete()
	return q, async, err
}

// asyncStatus is 202 for an operation that goes on asynchronously, else 200.
func asyncStatus(async bool) int {
	if async {
		return http.StatusAccepted
	}
	return http.StatusOK
}

// acceptsIncomplete reads accepts_incomplete: absent is false; present, it must be
// exactly "true" or "false".
func (q query) acceptsIncomplete() (bool, error) {
	v, ok := q["accepts_incomplete"]
	if !ok {
		return false, nil
	}
	switch v[0] {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(`query parameter accepts_incomplete must be "true" or "false", not %q`, truncate(v[0], 32))
}

// require checks that the query parameters are present and not empty (OSB requires
// service_id and plan_id on deprovision and unbind).
func (q query) require(keys ...string) error {
	var missing []string
	for _, k := range keys {
		if q.get(k) == "" {
			missing = append(missing, k)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return invalid("query parameter %s is required", missing[0])
	}
	return invalid("query parameters %s are required", strings.Join(missing, " and "))
}

// decodeBody decodes the request body, which must be one JSON object, into a T.
// It refuses non-JSON content types, wrong field types (naming the field), and
// anything after the object; unknown fields are ignored. Over MaxBodyBytes it returns
// an error wrapping *http.MaxBytesError.
func decodeBody[T any](h *handler, x *exchange) (*T, error) {
	if ct := x.r.Header.Get(headerContentType); ct != "" && !isJSONMediaType(ct) {
		return nil, invalid("Content-Type %q is not JSON; send application/json", truncate(ct, 64))
	}
	if x.r.ContentLength > h.maxBody {
		return nil, fmt.Errorf("osb: request body: %w", &http.MaxBytesError{Limit: h.maxBody})
	}
	if x.r.Body == nil || x.r.Body == http.NoBody {
		return nil, invalid("request body is required: a JSON object")
	}
	// A pointer, so that a top-level null leaves it nil.
	var dst *T
	dec := json.NewDecoder(http.MaxBytesReader(x.w, x.r.Body, h.maxBody))
	if err := dec.Decode(&dst); err != nil {
		return nil, bodyError(err)
	}
	if dst == nil {
		return nil, invalid("request body must be a JSON object, not null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("osb: request body: %w", err)
		}
		return nil, invalid("request body has data after the JSON object")
	}
	return dst, nil
}

// isJSONMediaType accepts application/json and any +json type, with any parameters.
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// bodyError turns a json.Decoder error into a 400 naming the field where it can, or
// keeps a *http.MaxBytesError, answered with 400 naming the limit.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("osb: request body: %w", err)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return invalid("request body must be a JSON object, not %s", typeErr.Value)
		}
		return invalid("field %s must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return invalid("request body is not valid JSON: %s (at byte %d)", syntaxErr.Error(), syntaxErr.Offset)
	}
	if errors.Is(err, io.EOF) {
		return invalid("request body is required: a JSON object")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("request body is not valid JSON: unexpected end of input")
	}
	return invalid("request body could not be read")
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "of type " + t.String()
}

// objectField returns raw when it is a JSON object, nil when it is absent or null,
// and a 400 naming the field otherwise. raw has been checked to be valid JSON by the
// decoder.
func objectField(name string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, invalid("field %s must be an object", name)
	}
	return raw, nil
}

// maintenanceInfoJSON is OSB's maintenance_info in responses.
type maintenanceInfoJSON struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// maintenanceInfoRequest is OSB's maintenance_info in requests: pointers, so that a
// member that is absent (or null) is told from one that is empty.
type maintenanceInfoRequest struct {
	Version     *string `json:"version"`
	Description *string `json:"description"`
}

// toBroker converts a request's maintenance_info; field names the JSON path for
// errors. An object without version and description ({}, which osb-checker and some
// platforms send when they have none) is treated as absent. Otherwise OSB requires
// version; requireVersion false (previous_values, which only informs) takes what there is.
func (m *maintenanceInfoRequest) toBroker(field string, requireVersion bool) (*broker.MaintenanceInfo, error) {
	if m == nil || m.Version == nil && m.Description == nil {
		return nil, nil
	}
	var mi broker.MaintenanceInfo
	if m.Version != nil {
		mi.Version = *m.Version
	}
	if m.Description != nil {
		mi.Description = *m.Description
	}
	if requireVersion && mi.Version == "" {
		if m.Version != nil {
			return nil, invalid("field %s.version must not be empty", field)
		}
		return nil, invalid("field %s.version is required", field)
	}
	return &mi, nil
}

func maintenanceInfoFrom(m *broker.MaintenanceInfo) *maintenanceInfoJSON {
	if m == nil {
		return nil
	}
	return &maintenanceInfoJSON{Version: m.Version, Description: m.Description}
}

// checkContext validates context: absent, null or an object. When the request carries
// an originating identity and context names a platform, they must agree (OSB: the
// header's platform MUST equal context.platform).
func checkContext(raw json.RawMessage, id broker.Identity) (json.RawMessage, error) {
	ctx, err := objectField("context", raw)
	if err != nil || ctx == nil || id.Platform == "" {
		return ctx, err
	}
	var c struct {
		Platform *string `json:"platform"`
	}
	if err := json.Unmarshal(ctx, &c); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, invalid("field context.platform must be a string, not %s", typeErr.Value)
		}
		return nil, invalid("field context is not valid JSON")
	}
	if c.Platform != nil && *c.Platform != id.Platform {
		return nil, invalid("X-Broker-API-Originating-Identity platform %q does not match context.platform %q",
			truncate(id.Platform, 64), truncate(*c.Platform, 64))
	}
	return ctx, nil
}

// identityFormat is what a malformed X-Broker-API-Originating-Identity is told to be.
const identityFormat = `X-Broker-API-Originating-Identity must be "<platform> <base64-encoded JSON object>"`

// parseIdentity parses X-Broker-API-Originating-Identity ("" when absent). The user is
// the "username" of kubernetes and the "user_id" of cloudfoundry; other platforms keep
// only the decoded Value.
func parseIdentity(v string) (broker.Identity, error) {
	if v == "" {
		return broker.Identity{}, nil
	}
	platform, encoded, ok := strings.Cut(v, " ")
	encoded = strings.TrimSpace(encoded)
	if !ok || platform == "" || encoded == "" {
		return broker.Identity{}, invalid("%s", identityFormat)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// Some platforms drop the padding.
		if raw, err = base64.RawStdEncoding.DecodeString(encoded); err != nil {
			return broker.Identity{}, invalid("%s: the value is not valid base64", identityFormat)
		}
	}
	var value map[string]any
	if err := json.Unmarshal(raw, &value); err != nil || value == nil {
		return broker.Identity{}, invalid("%s: the value is not a JSON object", identityFormat)
	}
	id := broker.Identity{Platform: platform, Value: value}
	var key string
	switch platform {
	case "kubernetes":
		key = "username"
	case "cloudfoundry":
		key = "user_id"
	}
	if u, ok := value[key]; ok && key != "" {
		s, ok := u.(string)
		if !ok {
			return broker.Identity{}, invalid("X-Broker-API-Originating-Identity: %s %s must be a string", platform, key)
		}
		id.User = s
	}
	return id, nil
}

// truncate shortens s, which is echoed in an error description, to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
