package osb

import (
	"encoding/base64"
	"testing"
)

// FuzzParseIdentity: any X-Broker-API-Originating-Identity value gives an identity or
// a broker.Error, never a panic; a parsed identity always names its platform.
func FuzzParseIdentity(f *testing.F) {
	f.Add("kubernetes " + base64.StdEncoding.EncodeToString([]byte(`{"username":"alice","uid":"1","groups":["a"],"extra":{"k":["v"]}}`)))
	f.Add("cloudfoundry " + base64.StdEncoding.EncodeToString([]byte(`{"user_id":"683ea748-3092-4ff4-b656-39cacc4d5360"}`)))
	f.Add("kubernetes not-base64")
	f.Add("kubernetes " + base64.StdEncoding.EncodeToString([]byte(`[1,2]`)))
	f.Add("")
	f.Add("   ")
	f.Fuzz(func(t *testing.T, v string) {
		id, err := parseIdentity(v)
		if err == nil && v != "" && id.Platform == "" {
			t.Fatalf("parseIdentity(%q) = %+v with no platform", v, id)
		}
	})
}
