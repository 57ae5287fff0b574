package osb

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// TestAppendLastOperation: the hand-written encoding is byte for byte json.Marshal's.
func TestAppendLastOperation(t *testing.T) {
	yes, no := true, false
	descriptions := []string{
		"", "installed", `quote " backslash \ slash /`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f",
		"ctl \x00\x01\x1f\x7f", "ünïcödé → 日本", "sep \u2028 \u2029", "bad \xff\xfe utf8 \xe2\x82", "emoji 🎉",
	}
	for _, d := range descriptions {
		for _, resp := range []lastOperationResponse{
			{State: broker.StateInProgress, Description: d},
			{State: broker.StateFailed, Description: d, InstanceUsable: &yes, UpdateRepeatable: &yes},
			{State: broker.StateFailed, Description: d, InstanceUsable: &no},
		} {
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendLastOperation(nil, resp); string(got) != string(want) {
				t.Errorf("appendLastOperation(%+v)\n got %s\nwant %s", resp, got, want)
			}
		}
	}
}

// TestLastOperationQuery: the fast reading of the query agrees with parseQuery, errors
// included.
func TestLastOperationQuery(t *testing.T) {
	for _, raw := range []string{
		"", "service_id=s&plan_id=p&operation=op-1", "operation=a&operation=b", "operation=", "operation",
		"x=1&&service_id=s", "=v&plan_id=p", "operation=a%2Fb", "operation=a+b", "operation=%zz", "a=1;b=2",
		"service_id=s1&service_id=s2&plan_id=p1",
	} {
		r := httptest.NewRequest("GET", "/v2/service_instances/i/last_operation?"+raw, nil)
		s, p, o, err := lastOperationQuery(r)
		q, werr := parseQuery(r)
		if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
			t.Errorf("%q: error %v, parseQuery's %v", raw, err, werr)
			continue
		}
		if err == nil && (s != q.get("service_id") || p != q.get("plan_id") || o != q.get("operation")) {
			t.Errorf("%q: got %q %q %q, parseQuery's %q %q %q", raw, s, p, o, q.get("service_id"), q.get("plan_id"), q.get("operation"))
		}
	}
}

// TestRetryAfterHeader: the shared values say what retryAfterSeconds says.
func TestRetryAfterHeader(t *testing.T) {
	for _, d := range []time.Duration{1, time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second,
		60 * time.Second, 120 * time.Second, 121 * time.Second, time.Hour} {
		if got, want := retryAfterHeader(d), retryAfterSeconds(d); len(got) != 1 || got[0] != want {
			t.Errorf("retryAfterHeader(%v) = %q, want [%q]", d, got, want)
		}
	}
}
