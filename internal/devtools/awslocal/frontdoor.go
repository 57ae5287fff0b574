// Package awslocal runs the broker's AWS shape on a laptop, on the local stand-ins of
// `make local-aws`: the function bootstraps under Amazon's Lambda runtime interface
// emulator (Emulator), an HTTP front door that plays API Gateway's HTTP API in front
// of the api function (FrontDoor), the real state machine definition on the local
// Step Functions engine (StartStepFunctions, over .ci/sfn-local.mjs) and a Secrets
// Manager stand-in (SecretsManager). DynamoDB Local is started by .ci/local-aws.sh.
//
// It is a developer tool: `make run-aws` (internal/devtools/cmd/run-aws) and the AWS
// end-to-end tests use it; no shipped binary links it.
package awslocal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// InvokeFunc sends one event to a function and returns its answer; an error is a
// failed invocation (a function error, a crashed runtime, an unreachable emulator).
type InvokeFunc func(ctx context.Context, event []byte) ([]byte, error)

// maxBody is the largest request body the front door accepts: API Gateway's payload
// limit.
const maxBody = 10 << 20

// FrontDoor returns a handler that plays API Gateway's HTTP API with a Lambda proxy
// integration (payload format 2.0, route $default): each request becomes an
// events.APIGatewayV2HTTPRequest (header names lowercased, repeated headers joined
// with commas, cookies in their own field, a body that is not UTF-8 base64-encoded),
// invoke runs the function, and its events.APIGatewayV2HTTPResponse becomes the
// response. A failed invocation answers 500 {"message":"Internal Server Error"}, as
// API Gateway does; logf (may be nil) says why.
func FrontDoor(invoke InvokeFunc, logf func(format string, args ...any)) http.Handler {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, `{"message":"Request Entity Too Large"}`)
			return
		}
		payload, err := json.Marshal(Event(r, body, time.Now()))
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
			return
		}
		out, err := invoke(r.Context(), payload)
		if err != nil {
			logf("front door: %s %s: invocation failed: %v", r.Method, r.URL.Path, err)
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
			return
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
			logf("front door: %s %s: the function's answer is not a payload 2.0 response", r.Method, r.URL.Path)
			writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		for k, vs := range resp.MultiValueHeaders {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		for _, c := range resp.Cookies {
			w.Header().Add("Set-Cookie", c)
		}
		b := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if b, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
				return
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
	})
}

// Event returns the payload 2.0 event API Gateway's HTTP API would send for r, with
// body, received at now.
func Event(r *http.Request, body []byte, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, v := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			for _, c := range v {
				for _, part := range strings.Split(c, ";") {
					if part = strings.TrimSpace(part); part != "" {
						cookies = append(cookies, part)
					}
				}
			}
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, v := range q {
			query[k] = strings.Join(v, ",")
		}
	}
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "000000000000", APIID: "local", DomainName: r.Host, DomainPrefix: "local",
			RequestID: uuid.NewString(), RouteKey: "$default", Stage: "$default",
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP, UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// SecretsManager returns a handler that serves Secrets Manager's GetSecretValue (AWS
// JSON 1.1) from values, by secret id; any other call or id answers
// ResourceNotFoundException. Point the functions at it with
// AWS_ENDPOINT_URL_SECRETS_MANAGER.
func SecretsManager(values map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := values[in.SecretId]
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v, "VersionId": "v1",
			"CreatedDate": float64(time.Now().Unix()),
		})
	})
}
