package awslocal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
)

// TestFrontDoor sends requests through the front door to a function that echoes
// what API Gateway would have sent it, and checks the event and the response.
func TestFrontDoor(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	fn := func(_ context.Context, event []byte) ([]byte, error) {
		if err := json.Unmarshal(event, &got); err != nil {
			return nil, err
		}
		if got.RawPath == "/fail" {
			return nil, errors.New("Runtime.ExitError")
		}
		resp := events.APIGatewayV2HTTPResponse{
			StatusCode: http.StatusAccepted, Headers: map[string]string{"Content-Type": "application/json"},
			MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}}, Cookies: []string{"c=1"},
			Body: `{"ok":true}`,
		}
		return json.Marshal(resp)
	}
	srv := httptest.NewServer(FrontDoor(fn, t.Logf))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/service_instances/i%2F1?accepts_incomplete=true&x=1&x=2", strings.NewReader(`{"a":1}`))
	req.Header.Set("X-Broker-API-Version", "2.17")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("Cookie", "k1=v1; k2=v2")
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(body) != `{"ok":true}` || resp.Header.Get("Content-Type") != "application/json" ||
		!cmp.Equal(resp.Header.Values("X-Many"), []string{"a", "b"}) || resp.Header.Get("Set-Cookie") != "c=1" {
		t.Errorf("response %d %s %v", resp.StatusCode, body, resp.Header)
	}
	want := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": "/v2/service_instances/i%2F1",
		"rawQueryString": "accepts_incomplete=true&x=1&x=2", "body": `{"a":1}`, "method": http.MethodPut,
		"path": "/v2/service_instances/i/1", "x": "1,2", "multi": "one,two", "api-version": "2.17",
		"cookies": "k1=v1 k2=v2", "authorization": "Basic dTpw", "sourceIp": "127.0.0.1",
	}
	gotFields := map[string]any{
		"version": got.Version, "routeKey": got.RouteKey, "rawPath": got.RawPath, "rawQueryString": got.RawQueryString,
		"body": got.Body, "method": got.RequestContext.HTTP.Method, "path": got.RequestContext.HTTP.Path,
		"x": got.QueryStringParameters["x"], "multi": got.Headers["x-multi"], "api-version": got.Headers["x-broker-api-version"],
		"cookies": strings.Join(got.Cookies, " "), "authorization": got.Headers["authorization"],
		"sourceIp": got.RequestContext.HTTP.SourceIP,
	}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	if got.IsBase64Encoded || got.RequestContext.RequestID == "" || got.RequestContext.TimeEpoch == 0 {
		t.Errorf("event context %+v", got.RequestContext)
	}

	// A body that is not UTF-8 goes base64-encoded.
	resp, err = http.Post(srv.URL+"/bin", "application/octet-stream", strings.NewReader("\xff\xfe"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !got.IsBase64Encoded || got.Body != "//4=" {
		t.Errorf("binary body: base64 %v, body %q", got.IsBase64Encoded, got.Body)
	}

	// A failed invocation is API Gateway's 500.
	resp, err = http.Get(srv.URL + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || string(body) != `{"message":"Internal Server Error"}` {
		t.Errorf("failed invocation: %d %s", resp.StatusCode, body)
	}
}

// TestSecretsManager reads a secret through the AWS SDK from the stand-in.
func TestSecretsManager(t *testing.T) {
	srv := httptest.NewServer(SecretsManager(map[string]string{"arn:s": `{"k":"v"}`}))
	defer srv.Close()
	c := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	out, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:s")})
	if err != nil || aws.ToString(out.SecretString) != `{"k":"v"}` {
		t.Fatalf("GetSecretValue = %v, %v", out, err)
	}
	if _, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:other")}); err == nil ||
		!strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("unknown secret: err = %v", err)
	}
}
