package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/serverless"
)

// TestStackProductionOptions checks the stack with every production option set
// (the other tests check it without them): the functions in a VPC with their own
// security group, the DynamoDB gateway endpoint and every interface endpoint; a
// Cloudify manager on http (allowed) behind a private CA, from a secret and a file;
// a custom domain with mutual TLS and no execute-api endpoint; other throttling,
// no reserved concurrency, no tracing, no termination protection, and the warn log
// level.
func TestStackProductionOptions(t *testing.T) {
	ctx := fullContext(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := testCAPEM(t)
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		CtxStackName:                 "Broker-Prod",
		CtxCloudifyURL:               "http://10.1.2.3:8080",
		CtxAllowInsecureCloudify:     "true",
		CtxCABundleSecretARN:         fakeCASecret,
		CtxCABundleFile:              caFile,
		CtxVPCID:                     "vpc-0123456789abcdef0",
		CtxSubnetIDs:                 "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
		CtxRouteTableIDs:             "rtb-0ddddddddddddddd4",
		CtxInterfaceEndpoints:        "all",
		CtxDomainName:                "broker.example.com",
		CtxCertificateARN:            fakeCertificate,
		CtxMTLSTruststoreURI:         "s3://truststores/cfybroker.pem",
		CtxMTLSTruststoreVersion:     "v3",
		CtxDisableExecuteAPIEndpoint: "true",
		CtxPollRateLimit:             "80",
		CtxPollBurstLimit:            160.0,
		CtxChangeRateLimit:           "5",
		CtxChangeBurstLimit:          "10",
		CtxAPIReservedConcurrency:    "0",
		CtxStepMaxConcurrency:        0.0,
		CtxTracing:                   "false",
		CtxTerminationProtection:     false,
		CtxLogLevel:                  "warn",
	} {
		ctx[k] = v
	}
	st, tmpl, doc := synth(t, ctx)
	res := rawResources(t, tmpl)
	fns := map[string]string{FunctionAPI: id(st, st.API), FunctionStep: id(st, st.Step), FunctionCatalog: id(st, st.Catalog)}

	t.Run("network", func(t *testing.T) {
		checkVPC(t, st, tmpl, doc, vpcWant{
			subnets:   []any{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"},
			routes:    []any{"rtb-0ddddddddddddddd4"},
			endpoints: interfaceEndpointNames,
		})
		// Its own security group: outbound HTTPS, and the manager's port.
		sg := res[id(st, st.SecurityGroup)]
		var ports []float64
		for _, e := range sg["SecurityGroupEgress"].([]any) {
			ports = append(ports, e.(map[string]any)["FromPort"].(float64))
		}
		if diff := cmp.Diff([]float64{443, 8080}, ports); diff != "" {
			t.Errorf("the functions' security group egress ports (-want +got):\n%s", diff)
		}
		if _, ok := sg["SecurityGroupIngress"]; ok {
			t.Errorf("the functions' security group takes inbound traffic: %v", sg["SecurityGroupIngress"])
		}
		if diff := cmp.Diff(getAtt(id(st, st.SecurityGroup), "GroupId"), doc.Outputs[OutputSecurityGroup].Value); diff != "" {
			t.Errorf("%s output (-want +got):\n%s", OutputSecurityGroup, diff)
		}
	})

	t.Run("private CA", func(t *testing.T) {
		roles := doc.grantsByRole(t)
		for name, fn := range fns {
			env := doc.Resources[fn].Properties.Environment.Variables
			if env[serverless.EnvCABundleSecretARN] != fakeCASecret || env[serverless.EnvCABundle] != caBundleAssetName {
				t.Errorf("%s: CA environment %v, %v", name, env[serverless.EnvCABundleSecretARN], env[serverless.EnvCABundle])
			}
			if !slices.Contains(roles[roleOf(t, doc, fn)], grant("secretsmanager:GetSecretValue", fakeCASecret)) {
				t.Errorf("%s may not read the CA bundle's secret", name)
			}
			got, err := os.ReadFile(filepath.Join(st.assets[name], caBundleAssetName))
			if err != nil || !bytes.Equal(got, ca) {
				t.Errorf("%s's asset lacks the CA bundle (%v)", name, err)
			}
			if _, err := os.Stat(filepath.Join(st.assets[name], "bootstrap")); err != nil {
				t.Errorf("%s's asset lacks its bootstrap: %v", name, err)
			}
		}
	})

	t.Run("domain", func(t *testing.T) {
		mustAssert(t, "domain name", func() {
			tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), &map[string]any{
				"DomainName": "broker.example.com",
				"DomainNameConfigurations": []any{map[string]any{
					"CertificateArn": fakeCertificate, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2",
				}},
				"MutualTlsAuthentication": map[string]any{"TruststoreUri": "s3://truststores/cfybroker.pem", "TruststoreVersion": "v3"},
			})
		})
		mustAssert(t, "api mapping", func() {
			tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::ApiMapping"), &map[string]any{
				"ApiId": ref(id(st, st.HTTPAPI)), "DomainName": ref(id(st, st.DomainName)), "Stage": "$default",
			})
		})
		if got := doc.Outputs[OutputBrokerURL].Value; got != "https://broker.example.com" {
			t.Errorf("BrokerUrl = %v, want the custom domain", got)
		}
		if diff := cmp.Diff(getAtt(id(st, st.DomainName), "RegionalDomainName"), doc.Outputs[OutputDomainTarget].Value); diff != "" {
			t.Errorf("DomainTarget (-want +got):\n%s", diff)
		}
		if got := res[id(st, st.HTTPAPI)]["DisableExecuteApiEndpoint"]; got != true {
			t.Errorf("DisableExecuteApiEndpoint = %v, want true", got)
		}
		mustAssert(t, "no execute-api bypass warning", func() {
			assertions.Annotations_FromStack(st.Stack).HasNoWarning(jsii.String("*"),
				assertions.Match_StringLikeRegexp(jsii.String(CtxDisableExecuteAPIEndpoint)))
		})
	})

	t.Run("throttling, capacity, tracing, protection, log level", func(t *testing.T) {
		checkRouteSettings(t, res[id(st, st.Stage)], 80, 160, 5, 10)
		for name, fn := range fns {
			p := res[fn]
			if v, ok := p["ReservedConcurrentExecutions"]; ok {
				t.Errorf("%s: reserved concurrency %v, want none", name, v)
			}
			if tc, ok := p["TracingConfig"].(map[string]any); ok && tc["Mode"] == "Active" {
				t.Errorf("%s is traced", name)
			}
			checkLogLevel(t, name, p, "INFO", "warn")
		}
		if tc, ok := res[id(st, st.StateMachine)]["TracingConfiguration"].(map[string]any); ok && tc["Enabled"] == true {
			t.Error("the state machine is traced")
		}
		if *st.TerminationProtection() {
			t.Error("termination protection is on")
		}
	})

	t.Run("names carry the stack's name", func(t *testing.T) {
		checkNames(t, res, "Broker-Prod")
		checkAlarms(t, st, doc, res, "cfybroker/Broker-Prod")
	})
}

// checkDefaults checks the stack made without the production options: outside any
// VPC, no custom domain (BrokerUrl is the execute-api URL), throttling, reserved
// concurrency, tracing, state machine logging and termination protection at their
// defaults, the info log level, and every name carrying the stack's.
func checkDefaults(t *testing.T, st *BrokerStack, tmpl assertions.Template, doc *template) {
	t.Helper()
	res := rawResources(t, tmpl)
	fns := map[string]string{FunctionAPI: id(st, st.API), FunctionStep: id(st, st.Step), FunctionCatalog: id(st, st.Catalog)}
	reserved := map[string]any{FunctionAPI: float64(DefaultAPIReservedConcurrency), FunctionStep: float64(DefaultStepMaxConcurrency), FunctionCatalog: nil}
	for name, fn := range fns {
		p := res[fn]
		if v, ok := p["VpcConfig"]; ok {
			t.Errorf("%s has a VpcConfig without a VPC: %v", name, v)
		}
		if got := p["ReservedConcurrentExecutions"]; got != reserved[name] {
			t.Errorf("%s: reserved concurrency %v, want %v", name, got, reserved[name])
		}
		if diff := cmp.Diff(map[string]any{"Mode": "Active"}, p["TracingConfig"]); diff != "" {
			t.Errorf("%s tracing (-want +got):\n%s", name, diff)
		}
		checkLogLevel(t, name, p, "INFO", "info")
		if v := doc.Resources[fn].Properties.Environment.Variables; v[serverless.EnvCABundle] != nil || v[serverless.EnvCABundleSecretARN] != nil {
			t.Errorf("%s has a CA bundle setting without one configured", name)
		}
	}
	sm := res[id(st, st.StateMachine)]
	if diff := cmp.Diff(map[string]any{"Enabled": true}, sm["TracingConfiguration"]); diff != "" {
		t.Errorf("state machine tracing (-want +got):\n%s", diff)
	}
	logging, _ := sm["LoggingConfiguration"].(map[string]any)
	if logging["Level"] != "ERROR" || logging["IncludeExecutionData"] != false {
		t.Errorf("state machine logging %v, want ERROR without execution data", logging)
	}
	if diff := cmp.Diff(getAtt(id(st, st.HTTPAPI), "ApiEndpoint"), doc.Outputs[OutputBrokerURL].Value); diff != "" {
		t.Errorf("BrokerUrl without a domain (-want +got):\n%s", diff)
	}
	if _, ok := doc.Outputs[OutputDomainTarget]; ok {
		t.Error("a DomainTarget output without a domain")
	}
	if got := res[id(st, st.HTTPAPI)]["DisableExecuteApiEndpoint"]; got != false {
		t.Errorf("DisableExecuteApiEndpoint = %v, want false", got)
	}
	checkRouteSettings(t, res[id(st, st.Stage)], DefaultPollRateLimit, DefaultPollBurstLimit, DefaultChangeRateLimit, DefaultChangeBurstLimit)
	if !*st.TerminationProtection() {
		t.Error("termination protection is off by default")
	}
	checkNames(t, res, st.Config.StackName)
}

// checkLogLevel checks a function's Lambda application log level and LOG_LEVEL.
func checkLogLevel(t *testing.T, name string, p map[string]any, lambda, logLevel string) {
	t.Helper()
	lc, _ := p["LoggingConfig"].(map[string]any)
	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if lc["ApplicationLogLevel"] != lambda || vars[serverless.EnvLogLevel] != logLevel {
		t.Errorf("%s: Lambda's application log level %v, LOG_LEVEL %v; want %s and %s (metrics carry no level)",
			name, lc["ApplicationLogLevel"], vars[serverless.EnvLogLevel], lambda, logLevel)
	}
}

// checkRouteSettings checks the stage's throttling of the poll and change routes.
func checkRouteSettings(t *testing.T, stage map[string]any, pollRate, pollBurst, changeRate, changeBurst float64) {
	t.Helper()
	want := map[string]any{}
	for _, k := range pollRoutes {
		want[k] = map[string]any{"ThrottlingRateLimit": pollRate, "ThrottlingBurstLimit": pollBurst}
	}
	for _, k := range changeRoutes {
		want[k] = map[string]any{"ThrottlingRateLimit": changeRate, "ThrottlingBurstLimit": changeBurst}
	}
	if diff := cmp.Diff(want, stage["RouteSettings"]); diff != "" {
		t.Errorf("route settings (-want +got):\n%s", diff)
	}
}

// vpcWant is what checkVPC expects.
type vpcWant struct {
	// sgs are the functions' security groups; nil: the stack's own.
	sgs []any
	// subnets are the functions' subnets; nil: the one subnet TestStackWithParameters gives.
	subnets []any
	// routes are the DynamoDB gateway endpoint's route tables; nil: no endpoint.
	routes []any
	// endpoints are the interface endpoints' services.
	endpoints []string
}

// checkVPC checks the functions' placement in a VPC, their grants on network
// interfaces, and the endpoints.
func checkVPC(t *testing.T, st *BrokerStack, tmpl assertions.Template, doc *template, want vpcWant) {
	t.Helper()
	res := rawResources(t, tmpl)
	sgs := want.sgs
	if sgs == nil {
		if st.SecurityGroup == nil {
			t.Fatal("no security group of the stack's")
		}
		sgs = []any{getAtt(id(st, st.SecurityGroup), "GroupId")}
	} else if st.SecurityGroup != nil {
		t.Error("a security group of the stack's although the context names some")
	}
	subnets := want.subnets
	if subnets == nil {
		subnets = []any{"subnet-0aaaaaaaaaaaaaaa1"}
	}
	roles := doc.grantsByRole(t)
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var full struct {
		Resources map[string]struct{ DependsOn []string }
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]string{FunctionAPI: id(st, st.API), FunctionStep: id(st, st.Step), FunctionCatalog: id(st, st.Catalog)} {
		if diff := cmp.Diff(map[string]any{"SubnetIds": subnets, "SecurityGroupIds": sgs}, res[fn]["VpcConfig"]); diff != "" {
			t.Errorf("%s VpcConfig (-want +got):\n%s", name, diff)
		}
		role := roleOf(t, doc, fn)
		for _, g := range []string{
			grant("ec2:CreateNetworkInterface", map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:subnet/" + subnets[0].(string)}),
			grant("ec2:DeleteNetworkInterface", map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*"}),
			grant("ec2:DescribeNetworkInterfaces", "*"),
		} {
			if !slices.Contains(roles[role], g) {
				t.Errorf("%s lacks %s", name, g)
			}
		}
		// Lambda checks the role when it creates the function: the grants first.
		deps := full.Resources[fn].DependsOn
		if !slices.ContainsFunc(deps, func(d string) bool { return strings.HasPrefix(d, constructID(name)+"RoleDefaultPolicy") }) {
			t.Errorf("%s does not depend on its role's policy: %v", name, deps)
		}
	}
	var gateway, iface []map[string]any
	for _, r := range res {
		if r["__type"] != "AWS::EC2::VPCEndpoint" {
			continue
		}
		if r["VpcEndpointType"] == "Gateway" {
			gateway = append(gateway, r)
		} else {
			iface = append(iface, r)
		}
	}
	switch {
	case want.routes == nil && len(gateway) > 0:
		t.Errorf("a DynamoDB gateway endpoint although dynamoDbEndpoint=false: %v", gateway)
	case want.routes != nil && len(gateway) != 1:
		t.Errorf("%d gateway endpoints, want 1 (DynamoDB)", len(gateway))
	case want.routes != nil:
		if diff := cmp.Diff(map[string]any{"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"}, gateway[0]["ServiceName"]); diff != "" {
			t.Errorf("gateway endpoint service (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want.routes, gateway[0]["RouteTableIds"]); diff != "" {
			t.Errorf("gateway endpoint route tables (-want +got):\n%s", diff)
		}
	}
	var services []string
	for _, e := range iface {
		sub := e["ServiceName"].(map[string]any)["Fn::Sub"].(string)
		services = append(services, sub[strings.LastIndexByte(sub, '.')+1:])
		if e["PrivateDnsEnabled"] != true || !cmp.Equal(subnets, e["SubnetIds"]) {
			t.Errorf("interface endpoint %s: private DNS %v, subnets %v", sub, e["PrivateDnsEnabled"], e["SubnetIds"])
		}
	}
	slices.Sort(services)
	wantServices := slices.Sorted(slices.Values(want.endpoints))
	if diff := cmp.Diff(wantServices, services); diff != "" {
		t.Errorf("interface endpoints (-want +got):\n%s", diff)
	}
}

// checkAlarms checks the alarms: exactly those of Alarms, each a broker fault with a
// runbook line in the README; none on a failure the user caused (those are on the
// dashboard).
func checkAlarms(t *testing.T, st *BrokerStack, doc *template, all map[string]map[string]any, ns string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]any{}
	raw := map[string]map[string]any{}
	for name, r := range doc.Resources {
		if r.Type == "AWS::CloudWatch::Alarm" {
			raw[name] = nil
		}
	}
	for _, a := range Alarms {
		c := st.Node().TryFindChild(jsii.String(a))
		if c == nil {
			t.Errorf("no alarm %s", a)
			continue
		}
		byID[a] = all[id(st, c)]
		delete(raw, id(st, c))
		if !strings.Contains(string(readme), "`"+a+"`") {
			t.Errorf("README.md has no runbook line for %s", a)
		}
		if d, _ := byID[a]["AlarmDescription"].(string); !strings.Contains(d, "Runbook") {
			t.Errorf("%s's description points to no runbook: %q", a, d)
		}
		b, _ := json.Marshal(byID[a])
		for _, user := range []string{"ExecutionsFailed", serverless.MetricUserFailures, serverless.MetricOperationsFailed, serverless.MetricCloudifyErrors} {
			if strings.Contains(string(b), `"`+user+`"`) {
				t.Errorf("%s alarms on %s, a failure the user caused or a retried fault", a, user)
			}
		}
	}
	if len(raw) > 0 {
		t.Errorf("alarms not in Alarms: %v", raw)
	}
	custom := func(a, metric string) {
		p := byID[a]
		if p["Namespace"] != ns || p["MetricName"] != metric || p["Dimensions"] != nil {
			t.Errorf("%s: %v %v %v, want %s %s with no dimension", a, p["Namespace"], p["MetricName"], p["Dimensions"], ns, metric)
		}
	}
	custom(AlarmDriverFailures, serverless.MetricDriverFailures)
	custom(AlarmStartFailures, serverless.MetricStartFailures)
	uses := func(a string, metrics ...string) {
		b, _ := json.Marshal(byID[a]["Metrics"])
		for _, m := range metrics {
			if !strings.Contains(string(b), `"MetricName":"`+m+`"`) {
				t.Errorf("%s does not use %s: %s", a, m, b)
			}
		}
	}
	uses(AlarmLostOperations, serverless.MetricSweepRestarted, serverless.MetricSweepFailed)
	uses(AlarmTableThrottles, "ThrottledRequests")
	uses(AlarmAPI5xxRate, "5xx", "Count")
	if byID[AlarmAPI5xxRate]["Threshold"] != float64(api5xxPercent) {
		t.Errorf("%s threshold %v, want %d (%%)", AlarmAPI5xxRate, byID[AlarmAPI5xxRate]["Threshold"], api5xxPercent)
	}
	if p := byID[AlarmExecutionsTimeout]; p["Namespace"] != "AWS/States" || p["MetricName"] != "ExecutionsTimedOut" {
		t.Errorf("%s: %v %v", AlarmExecutionsTimeout, p["Namespace"], p["MetricName"])
	}
	for _, a := range []string{AlarmStepThrottles, AlarmCatalogErrors} {
		if byID[a]["EvaluationPeriods"] != 3.0 || byID[a]["DatapointsToAlarm"] != 3.0 {
			t.Errorf("%s fires on %v of %v periods, want 3 of 3", a, byID[a]["DatapointsToAlarm"], byID[a]["EvaluationPeriods"])
		}
	}
	// The user's failures are on the dashboard.
	for name, r := range all {
		if r["__type"] != "AWS::CloudWatch::Dashboard" {
			continue
		}
		b, _ := json.Marshal(r["DashboardBody"])
		for _, m := range []string{serverless.MetricUserFailures, serverless.MetricDriverFailures, serverless.MetricOperationsPastDeadline} {
			if !strings.Contains(string(b), m) {
				t.Errorf("dashboard %s does not show %s", name, m)
			}
		}
	}
}

// nameProperties are the properties that name a resource.
var nameProperties = []string{"Name", "ApiName", "StateMachineName", "DashboardName", "LogGroupName", "FunctionName",
	"RoleName", "TableName", "AlarmName", "GroupName", "RuleName", "TopicName"}

// checkNames checks that every name the template sets carries the stack's name (the
// names it does not set, CloudFormation makes from the stack's name), so that two
// stacks live in one account.
func checkNames(t *testing.T, res map[string]map[string]any, stackName string) {
	t.Helper()
	var named int
	for logical, p := range res {
		for _, k := range nameProperties {
			v, ok := p[k].(string)
			if !ok {
				continue
			}
			named++
			if !strings.Contains(v, stackName) {
				t.Errorf("%s %s = %q does not carry the stack's name %s", logical, k, v, stackName)
			}
		}
	}
	if named < 4 { // the API, the state machine, its log group, the dashboard
		t.Errorf("%d named resources, want at least 4", named)
	}
}

// rawResources returns the template's resources' properties, by logical id, with
// the resource's type under "__type".
func rawResources(t *testing.T, tmpl assertions.Template) map[string]map[string]any {
	t.Helper()
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for k, r := range doc.Resources {
		p := r.Properties
		if p == nil {
			p = map[string]any{}
		}
		p["__type"] = r.Type
		out[k] = p
	}
	return out
}

// testCAPEM returns a self-signed CA certificate, PEM-encoded.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cfybroker test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
