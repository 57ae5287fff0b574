package broker

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"5d7c0c4e-0b1f-4a55-9b1e-2f7f3c2e9a10", true},
		{"a.b_c~d", true},
		{"", false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{"ünïcode", false},
		{strings.Repeat("x", MaxIDLength), true},
		{strings.Repeat("x", MaxIDLength+1), false},
	} {
		err := ValidateID("instance_id", tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Errorf("ValidateID(%q) code = %q", tc.id, ErrorCode(err))
		}
	}
}

func TestDeploymentID(t *testing.T) {
	if got := DeploymentID("5d7c0c4e"); got != "osb-5d7c0c4e" {
		t.Errorf("DeploymentID = %q", got)
	}
	weird := DeploymentID("a~b")
	if !strings.HasPrefix(weird, "osb-h-") || weird != DeploymentID("a~b") || weird == DeploymentID("a~c") {
		t.Errorf("hashed ids: %q", weird)
	}
	long := DeploymentID(strings.Repeat("a", 255))
	if len(long) > 60 {
		t.Errorf("a long instance id gives a %d-char deployment id", len(long))
	}
}

func TestFingerprintIgnoresKeyOrder(t *testing.T) {
	a := fingerprint("p", json.RawMessage(`{"a":1,"b":{"x":[1,2]}}`))
	b := fingerprint("p", json.RawMessage(`{ "b": {"x":[1,2]}, "a": 1 }`))
	c := fingerprint("p", json.RawMessage(`{"a":2,"b":{"x":[1,2]}}`))
	if a != b || a == c {
		t.Fatalf("fingerprints: %s %s %s", a, b, c)
	}
	if fingerprint("p", json.RawMessage(nil)) != fingerprint("p", nil) {
		t.Fatal("absent parameters differ from nil")
	}
}

func TestValidateParameters(t *testing.T) {
	schema := json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","additionalProperties":false,
		"properties":{"node_count":{"type":"integer","minimum":1,"maximum":9},"name":{"type":"string","pattern":"^(?:[a-z]+)"}},
		"required":["name"]}`)
	var c schemaCache
	for _, tc := range []struct {
		params string
		want   string // substring of the error, "" = valid
	}{
		{`{"name":"abc"}`, ""},
		{`{"name":"abc1"}`, ""},
		{`{"name":"abc","node_count":12}`, "node_count"},
		{`{"node_count":3}`, "name"},
		{`{"name":"abc","extra":1}`, "extra"},
		{`{"name":"1abc"}`, "name"},
		{`[]`, "parameters"},
	} {
		err := c.validateParameters("parameters", schema, json.RawMessage(tc.params))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.params, err)
			}
			continue
		}
		if err == nil || ErrorCode(err) != EInvalid || !strings.Contains(ErrorMessage(err), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.params, err, tc.want)
		}
	}
	if err := c.validateParameters("parameters", json.RawMessage(`{"$ref":"http://example.com/x.json"}`), json.RawMessage(`{}`)); err == nil {
		t.Error("a schema with an external reference was used")
	}
}

func TestDecodeParametersDepth(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxParameterDepth+1) + "1" + strings.Repeat("}", MaxParameterDepth+1)
	if _, err := decodeParameters("parameters", json.RawMessage(deep)); ErrorCode(err) != EInvalid {
		t.Fatalf("deep parameters: %v", err)
	}
	if m, err := decodeParameters("parameters", json.RawMessage(`{"s":"{{{{[[["}`)); err != nil || m["s"] != "{{{{[[[" {
		t.Fatalf("brackets in strings: %v %v", m, err)
	}
	if m, err := decodeParameters("parameters", json.RawMessage(`null`)); err != nil || m != nil {
		t.Fatalf("null: %v %v", m, err)
	}
}

func TestMapCredentials(t *testing.T) {
	caps := map[string]any{"host": "10.0.0.1", "port": 3306.0, "password": "pw"}
	outs := map[string]any{"endpoint": "10.0.0.1:3306", "host": "ignored"}
	for _, tc := range []struct {
		name   string
		fields []CredentialField
		caps   map[string]any
		want   map[string]any
	}{
		{"all capabilities", nil, caps, caps},
		{"outputs when no capabilities", nil, nil, outs},
		{"mapped and renamed", []CredentialField{{Key: "hostname", Name: "host"}, {Key: "uri", Source: "output", Name: "endpoint"}, {Key: "password", Secret: true}, {Key: "missing"}},
			caps, map[string]any{"hostname": "10.0.0.1", "uri": "10.0.0.1:3306", "password": "pw"}},
		{"output source only", []CredentialField{{Key: "host", Source: "output"}}, caps, map[string]any{"host": "ignored"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MapCredentials(tc.fields, tc.caps, outs)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestDeadlineBounded: an operation's deadline is the plan's maximum_polling_duration
// or the default, never past MaxOperationDeadline, whatever the stored catalog says.
func TestDeadlineBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &UseCases{cfg: Config{DefaultDeadline: 2 * time.Hour, Now: func() time.Time { return t0 }}}
	for _, tc := range []struct {
		mpd  int
		want time.Duration
	}{
		{0, 2 * time.Hour},
		{600, 10 * time.Minute},
		{int(MaxOperationDeadline / time.Second), MaxOperationDeadline},
		{10 * 365 * 24 * 3600, MaxOperationDeadline},
	} {
		if got := s.deadline(Plan{MaximumPollingDuration: tc.mpd}).Sub(t0); got != tc.want {
			t.Errorf("maximum_polling_duration %d: deadline in %s, want %s", tc.mpd, got, tc.want)
		}
	}
	for d, ok := range map[time.Duration]bool{time.Minute: true, MaxOperationDeadline: true, MaxOperationDeadline + time.Second: false, 0: false, -time.Hour: false} {
		if err := CheckDeadline(d); (err == nil) != ok {
			t.Errorf("CheckDeadline(%s) = %v", d, err)
		}
	}
}

// TestValidationNamesRuleNotValue: a parameter that fails its schema is described by
// its field and the schema's rule, never by its value, whatever the field's name.
func TestValidationNamesRuleNotValue(t *testing.T) {
	schema := json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
		"properties":{"node_count":{"type":"integer","minimum":1,"maximum":9},"name":{"type":"string","pattern":"^(?:[a-z]+)","maxLength":12},
		"size":{"enum":["s","m"]},"rate":{"type":"number","multipleOf":0.5}}}`)
	var c schemaCache
	for _, tc := range []struct {
		params, value string
		want          []string
	}{
		{`{"node_count":987654}`, "987654", []string{"node_count: must be at most 9"}},
		{`{"node_count":-77777}`, "77777", []string{"node_count: must be at least 1"}},
		{`{"name":"Secret-Value-1"}`, "Secret-Value-1", []string{`name: must match the pattern "^(?:[a-z]+)"`, "name: must have at most 12 characters"}},
		{`{"size":"Hidden-Size-2"}`, "Hidden-Size-2", []string{`size: must be one of ["s","m"]`}},
		{`{"rate":0.3333}`, "0.3333", []string{"rate: must be a multiple of 1/2"}},
		{`{"name":12345678}`, "12345678", []string{"name: must be of type string"}},
	} {
		err := c.validateParameters("parameters", schema, json.RawMessage(tc.params))
		msg := ErrorMessage(err)
		if strings.Contains(msg, tc.value) {
			t.Errorf("%s: message %q holds the value", tc.params, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not say %q", tc.params, msg, w)
			}
		}
	}
}

// TestRuleTexts: each schema rule a parameter can break is named from the schema's
// side, with the field it applies to.
func TestRuleTexts(t *testing.T) {
	schema := json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["zone"],
		"properties":{
			"zone":{"type":"string"},
			"tier":{"const":"gold"},
			"email":{"type":"string","format":"email"},
			"short":{"type":"string","minLength":3},
			"tags":{"type":"array","minItems":1,"maxItems":2,"uniqueItems":true},
			"ratio":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},
			"labels":{"type":"object","minProperties":1,"maxProperties":1},
			"mode":{"not":{"const":"debug"}}}}`)
	var c schemaCache
	for _, tc := range []struct{ params, want string }{
		{`{}`, "(parameters): missing required parameter zone"},
		{`{"zone":"a","tier":"silver"}`, "tier: must be the value the plan fixes"},
		{`{"zone":"a","email":"not-an-address"}`, "email: must be a valid email"},
		{`{"zone":"a","short":"ab"}`, "short: must have at least 3 characters"},
		{`{"zone":"a","tags":[]}`, "tags: must have at least 1 items"},
		{`{"zone":"a","tags":["x","y","z"]}`, "tags: must have at most 2 items"},
		{`{"zone":"a","tags":["x","x"]}`, "tags: items must be unique"},
		{`{"zone":"a","ratio":0}`, "ratio: must be greater than 0"},
		{`{"zone":"a","ratio":1}`, "ratio: must be less than 1"},
		{`{"zone":"a","labels":{}}`, "labels: must have at least 1 properties"},
		{`{"zone":"a","labels":{"a":"1","b":"2"}}`, "labels: must have at most 1 properties"},
		{`{"zone":"a","mode":"debug"}`, "mode: fails the schema"},
	} {
		err := c.validateParameters("parameters", schema, json.RawMessage(tc.params))
		if ErrorCode(err) != EInvalid || !strings.Contains(ErrorMessage(err), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.params, err, tc.want)
		}
	}
}
