package osb

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The last_operation route is what platforms poll: every operation in flight, every
// few seconds, for as long as it runs. Its query is read and its answer written here
// without the general machinery (a url.Values map, reflection), with the same results.

// lastOperationQuery returns service_id, plan_id and operation from the request's
// query. A query that needs unescaping or that url.ParseQuery would refuse goes
// through parseQuery, so that results and errors are exactly parseQuery's.
func lastOperationQuery(r *http.Request) (serviceID, planID, operation string, err error) {
	raw := r.URL.RawQuery
	if strings.ContainsAny(raw, "%+;") {
		q, err := parseQuery(r)
		if err != nil {
			return "", "", "", err
		}
		return q.get("service_id"), q.get("plan_id"), q.get("operation"), nil
	}
	var seenService, seenPlan, seenOp bool
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "service_id" && !seenService:
			serviceID, seenService = v, true
		case k == "plan_id" && !seenPlan:
			planID, seenPlan = v, true
		case k == "operation" && !seenOp:
			operation, seenOp = v, true
		}
	}
	return serviceID, planID, operation, nil
}

// appendLastOperation appends the JSON of resp, byte for byte what json.Marshal
// writes for it.
func appendLastOperation(b []byte, resp lastOperationResponse) []byte {
	b = append(b, `{"state":`...)
	b = appendJSONString(b, string(resp.State))
	if resp.Description != "" {
		b = append(b, `,"description":`...)
		b = appendJSONString(b, resp.Description)
	}
	if resp.InstanceUsable != nil {
		b = append(b, `,"instance_usable":`...)
		b = appendBool(b, *resp.InstanceUsable)
	}
	if resp.UpdateRepeatable != nil {
		b = append(b, `,"update_repeatable":`...)
		b = appendBool(b, *resp.UpdateRepeatable)
	}
	return append(b, '}')
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// retryAfterValues are the Retry-After header values of 0 to 120 seconds, made once:
// net/http only reads header values, so every response can share them.
var retryAfterValues = func() [121][]string {
	var v [121][]string
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

// retryAfterHeader returns the Retry-After header value of d (see retryAfterSeconds).
func retryAfterHeader(d time.Duration) []string {
	s := (d + time.Second - 1) / time.Second
	if s >= 1 && int(s) < len(retryAfterValues) {
		return retryAfterValues[s]
	}
	return []string{retryAfterSeconds(d)}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string escaped as encoding/json escapes it:
// HTML-safe (<, >, & as \u003c, \u003e, \u0026), U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
