package cloudify

import (
	"encoding/json"
	"testing"
)

func TestSecretDecodeValue(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"string", `{"key": "k", "value": "pw"}`, "pw"},
		{"escaped JSON in a string", `{"key": "k", "value": "{\"u\": 1}"}`, `{"u": 1}`},
		{"typed value (7.x schema)", `{"key": "k", "value": {"u": 1}}`, `{"u": 1}`},
		{"number", `{"key": "k", "value": 42}`, "42"},
		{"null", `{"key": "k", "value": null}`, ""},
		{"absent (list item)", `{"key": "k", "visibility": "tenant"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Secret
			if err := json.Unmarshal([]byte(c.body), &s); err != nil {
				t.Fatal(err)
			}
			if s.Key != "k" || s.Value != c.want {
				t.Errorf("decoded %q/%q, want k/%q", s.Key, s.Value, c.want)
			}
		})
	}
	var s Secret
	if err := json.Unmarshal([]byte(`{"key": 3}`), &s); err == nil {
		t.Error("a non-string key decoded without error")
	}
}

func TestSecretRequestsOnTheWire(t *testing.T) {
	b, err := json.Marshal(createSecretBody(CreateSecretRequest{Value: "v", IsHiddenValue: true}))
	if err != nil {
		t.Fatal(err)
	}
	// booleans always sent as JSON booleans; an empty visibility left to the manager
	if want := `{"value":"v","update_if_exists":false,"is_hidden_value":true}`; string(b) != want {
		t.Errorf("create body = %s, want %s", b, want)
	}
	v := "x"
	b, err = json.Marshal(UpdateSecretRequest{Value: &v})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"value":"x"}`; string(b) != want {
		t.Errorf("update body = %s, want %s", b, want)
	}
}
