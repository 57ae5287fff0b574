package osb_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/cfybroker/cfybroker/internal/osb"
)

// TestRequestIdentityBounded: X-Broker-API-Request-Identity is echoed and logged only
// when it is 1 to 128 printable ASCII characters; any other (a megabyte, a control
// character, non-ASCII) is replaced by a generated one, also before authentication.
func TestRequestIdentityBounded(t *testing.T) {
	ok128 := strings.Repeat("a", 128)
	huge := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name, id, want string
		opts           []reqOpt
	}{
		{"128 characters", ok128, ok128, nil},
		{"printable with spaces", "req 1 (retry) ~", "req 1 (retry) ~", nil},
		{"129 characters", ok128 + "b", generatedID, nil},
		{"one megabyte, before auth", huge, generatedID, []reqOpt{withoutHeader("Authorization")}},
		{"control character", "req\x01id", generatedID, nil},
		{"tab", "req\tid", generatedID, nil},
		{"non-ASCII", "réq", generatedID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := osb.NewHandler(successBroker(), testConfig(&log))
			w := do(t, h, http.MethodGet, "/v2/catalog", "", append([]reqOpt{withHeader("X-Broker-API-Request-Identity", tc.id)}, tc.opts...)...)
			if got := w.Header().Get("X-Broker-API-Request-Identity"); got != tc.want {
				t.Errorf("echoed identity = %.40q (%d bytes), want %.40q", got, len(got), tc.want)
			}
			if tc.want == generatedID && len(tc.id) > 8 && strings.Contains(log.String(), tc.id[:len(tc.id)-1]) {
				t.Errorf("the log holds the refused identity (%d bytes of log)", log.Len())
			}
			if !strings.Contains(log.String(), tc.want) {
				t.Errorf("the log does not hold the identity used, %.40q", tc.want)
			}
		})
	}
}
