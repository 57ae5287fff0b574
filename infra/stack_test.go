package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
)

// Fake deployment values. fakeSecret is a secret value that must never reach the
// template: the test puts it where a careless app might pick it up.
const (
	fakeCloudifySecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/cloudify-AbCdEf"
	fakeBrokerSecret   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/broker-GhIjKl"
	fakeSealKeySecret  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/seal-MnOpQr"
	fakeTopic          = "arn:aws:sns:eu-west-1:123456789012:cfybroker-alarms"
	fakeSecret         = "s3cr3t-Do-Not-Leak-7f3a9c"
	fakeCASecret       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/ca-StUvWx"
	fakeCertificate    = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)

// fullContext configures every deployment value through the context.
func fullContext(t *testing.T) map[string]any {
	return map[string]any{
		CtxAssetDir:          placeholderAssets(t),
		CtxCloudifyURL:       "https://manager.example.com",
		CtxCloudifyTenant:    "brokers",
		CtxCloudifySecretARN: fakeCloudifySecret,
		CtxBrokerSecretARN:   fakeBrokerSecret,
		CtxSealKeySecretARN:  fakeSealKeySecret,
	}
}

// TestStackFromContext checks the stack made with every deployment value in the
// context: its resources, the functions, the table, the state machine, the
// least-privilege policies, the schedule, alarms, dashboard and outputs.
func TestStackFromContext(t *testing.T) {
	// Secrets the app must not read: it names secrets by ARN only.
	for _, k := range []string{"CLOUDIFY_PASSWORD", "CLOUDIFY_TOKEN", "BROKER_PASSWORD", "SEAL_KEY", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, fakeSecret)
	}
	ctx := fullContext(t)
	ctx["unrelatedSecret"] = fakeSecret
	st, tmpl, doc := synth(t, ctx)

	t.Run("resource counts", func(t *testing.T) {
		for typ, n := range map[string]int{
			"AWS::Lambda::Function":            3,
			"AWS::DynamoDB::Table":             1,
			"AWS::StepFunctions::StateMachine": 1,
			"AWS::ApiGatewayV2::Api":           1,
			"AWS::ApiGatewayV2::Stage":         1,
			"AWS::ApiGatewayV2::Route":         1 + len(pollRoutes) + len(changeRoutes),
			"AWS::ApiGatewayV2::Integration":   1,
			"AWS::ApiGatewayV2::DomainName":    0,
			"AWS::ApiGatewayV2::ApiMapping":    0,
			"AWS::Events::Rule":                1,
			"AWS::Logs::LogGroup":              5, // three functions, the access logs, the state machine
			"AWS::Logs::MetricFilter":          0,
			"AWS::CloudWatch::Alarm":           len(Alarms),
			"AWS::CloudWatch::Dashboard":       1,
			"AWS::IAM::Role":                   4, // three functions, the state machine
			"AWS::SecretsManager::Secret":      0,
			"AWS::EC2::SecurityGroup":          0,
			"AWS::EC2::VPCEndpoint":            0,
		} {
			mustAssert(t, typ, func() { tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
		}
	})

	t.Run("functions", func(t *testing.T) {
		mustAssert(t, "arm64 al2023", func() {
			tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
				"Architectures": []any{"arm64"},
				"Runtime":       "provided.al2023",
				"Handler":       "bootstrap",
				"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
			})
		})
		for name, fn := range map[string]string{FunctionAPI: id(st, st.API), FunctionStep: id(st, st.Step), FunctionCatalog: id(st, st.Catalog)} {
			r := doc.Resources[fn]
			var got []string
			for k := range r.Properties.Environment.Variables {
				got = append(got, k)
			}
			slices.Sort(got)
			want := map[string][]string{
				FunctionAPI: {serverless.EnvBrokerSecretARN, serverless.EnvCloudifySecretARN, serverless.EnvCloudifyTenant, serverless.EnvCloudifyURL,
					serverless.EnvLogLevel, serverless.EnvMetricsNamespace, serverless.EnvSealKeySecretARN, serverless.EnvStateMachineARN,
					serverless.EnvTableName},
				FunctionStep: {serverless.EnvCloudifySecretARN, serverless.EnvCloudifyTenant, serverless.EnvCloudifyURL,
					serverless.EnvLogLevel, serverless.EnvMetricsNamespace, serverless.EnvSealKeySecretARN, serverless.EnvStepInlineBudget,
					serverless.EnvStepInlineWait, serverless.EnvTableName},
				FunctionCatalog: {serverless.EnvCloudifySecretARN, serverless.EnvCloudifyTenant, serverless.EnvCloudifyURL,
					serverless.EnvLogLevel, serverless.EnvMetricsNamespace, serverless.EnvSealKeySecretARN, serverless.EnvStateMachineARN,
					serverless.EnvTableName},
			}[name]
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s environment (-want +got):\n%s", name, diff)
			}
			if v := r.Properties.Environment.Variables[serverless.EnvCloudifySecretARN]; v != fakeCloudifySecret {
				t.Errorf("%s %s = %v, want %s", name, serverless.EnvCloudifySecretARN, v, fakeCloudifySecret)
			}
		}
		// The step function sleeps short waits itself (STEP_INLINE_*, the functions'
		// defaults): its timeout leaves the budget plus 60 s for the steps, and the
		// state machine's task timeout is longer still.
		checkStep(t, st, doc, "30", "40", 100, 130)
		for name, fn := range map[string]string{FunctionAPI: id(st, st.API), FunctionCatalog: id(st, st.Catalog)} {
			want := map[string]float64{FunctionAPI: apiTimeout, FunctionCatalog: catalogTimeout}[name]
			if p := doc.Resources[fn].Properties; p.Timeout != want || p.MemorySize != 256 {
				t.Errorf("%s: timeout %v s, memory %v MB; want %v s, 256 MB", name, p.Timeout, p.MemorySize, want)
			}
		}
	})

	t.Run("table", func(t *testing.T) {
		mustAssert(t, "table properties", func() {
			tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
				"DeletionPolicy": "Retain",
				"Properties": &map[string]any{
					"BillingMode":                      "PAY_PER_REQUEST",
					"DeletionProtectionEnabled":        true,
					"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
					"TimeToLiveSpecification":          map[string]any{"AttributeName": dynamostore.AttrExpiresAt, "Enabled": true},
					"KeySchema": []any{
						map[string]any{"AttributeName": dynamostore.AttrPK, "KeyType": "HASH"},
						map[string]any{"AttributeName": dynamostore.AttrSK, "KeyType": "RANGE"},
					},
					"GlobalSecondaryIndexes": []any{map[string]any{
						"IndexName": dynamostore.IndexGSI1,
						"KeySchema": []any{
							map[string]any{"AttributeName": dynamostore.AttrGSI1PK, "KeyType": "HASH"},
							map[string]any{"AttributeName": dynamostore.AttrGSI1SK, "KeyType": "RANGE"},
						},
						"Projection": map[string]any{"ProjectionType": "ALL"},
					}},
				},
			})
		})
	})

	t.Run("state machine", func(t *testing.T) {
		sm := doc.Resources[id(st, st.StateMachine)]
		if sm.Properties.StateMachineType != "STANDARD" {
			t.Errorf("StateMachineType = %q, want STANDARD", sm.Properties.StateMachineType)
		}
		want, err := Definition(st.Config)
		if err != nil {
			t.Fatal(err)
		}
		if sm.Properties.DefinitionString != want {
			t.Errorf("DefinitionString is not internal/workflow/sfn's definition:\n%s", sm.Properties.DefinitionString)
		}
		var def struct {
			States map[string]struct{ Type, Resource string }
		}
		if err := json.Unmarshal([]byte(want), &def); err != nil {
			t.Fatalf("definition: %v", err)
		}
		var tasks int
		for name, s := range def.States {
			if s.Type == "Task" {
				tasks++
				if s.Resource != "${"+stepFunctionARNVar+"}" {
					t.Errorf("state %s: Resource = %q, want the step function's substitution", name, s.Resource)
				}
			}
		}
		if tasks == 0 {
			t.Error("the definition has no Task state")
		}
		wantSub := map[string]any{stepFunctionARNVar: getAtt(id(st, st.Step), "Arn")}
		if diff := cmp.Diff(wantSub, sm.Properties.DefinitionSubstitutions); diff != "" {
			t.Errorf("DefinitionSubstitutions (-want +got):\n%s", diff)
		}
	})

	t.Run("least privilege", func(t *testing.T) {
		table := getAtt(id(st, st.Table), "Arn")
		index := map[string]any{"Fn::Join": []any{"", []any{table, "/index/" + dynamostore.IndexGSI1}}}
		sm := ref(id(st, st.StateMachine))
		items := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"}
		common := func(fn string) []string {
			return slices.Concat(
				grants([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, getAtt(id(st, st.LogGroups[fn]), "Arn")),
				grants(items, table),
				grants([]string{"dynamodb:Query"}, index),
				grants([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "*"), // tracing, on by default
			)
		}
		want := map[string][]string{
			FunctionAPI: slices.Concat(common(FunctionAPI),
				grants([]string{"secretsmanager:GetSecretValue"}, fakeCloudifySecret, fakeBrokerSecret, fakeSealKeySecret),
				grants([]string{"states:StartExecution"}, sm)),
			FunctionStep: slices.Concat(common(FunctionStep),
				grants([]string{"secretsmanager:GetSecretValue"}, fakeCloudifySecret, fakeSealKeySecret)),
			FunctionCatalog: slices.Concat(common(FunctionCatalog),
				grants([]string{"secretsmanager:GetSecretValue"}, fakeCloudifySecret, fakeSealKeySecret),
				grants([]string{"states:StartExecution"}, sm),
				grants([]string{"states:DescribeExecution"}, map[string]any{"Fn::Sub": []any{
					"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Name}:*",
					map[string]any{"Name": getAtt(id(st, st.StateMachine), "Name")},
				}})),
			"state machine": slices.Concat(grants([]string{"lambda:InvokeFunction"}, getAtt(id(st, st.Step), "Arn"),
				map[string]any{"Fn::Join": []any{"", []any{getAtt(id(st, st.Step), "Arn"), ":*"}}}),
				grants([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}, "*"),
				grants([]string{"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
					"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}, "*")),
		}
		roles := map[string]string{
			FunctionAPI:     roleOf(t, doc, id(st, st.API)),
			FunctionStep:    roleOf(t, doc, id(st, st.Step)),
			FunctionCatalog: roleOf(t, doc, id(st, st.Catalog)),
			"state machine": roleOf(t, doc, id(st, st.StateMachine)),
		}
		got := doc.grantsByRole(t)
		for who, role := range roles {
			slices.Sort(want[who])
			if diff := cmp.Diff(want[who], got[role]); diff != "" {
				t.Errorf("%s's grants (-want +got):\n%s", who, diff)
			}
			if r := doc.Resources[role]; len(r.Properties.ManagedPolicyArns) > 0 {
				t.Errorf("%s's role has managed policies %v", who, r.Properties.ManagedPolicyArns)
			}
		}
		if len(got) != len(roles) {
			t.Errorf("policies attach to %d roles, want %d", len(got), len(roles))
		}
	})

	t.Run("api, schedule, outputs", func(t *testing.T) {
		mustAssert(t, "stage throttling", func() {
			tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), &map[string]any{
				"StageName":  "$default",
				"AutoDeploy": true,
				"DefaultRouteSettings": map[string]any{
					"ThrottlingRateLimit": DefaultAPIRateLimit, "ThrottlingBurstLimit": DefaultAPIBurstLimit,
				},
				"AccessLogSettings": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
			})
		})
		mustAssert(t, "catalog schedule", func() {
			tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{
				"ScheduleExpression": "rate(5 minutes)",
				"Targets":            []any{assertions.Match_ObjectLike(&map[string]any{"Arn": getAtt(id(st, st.Catalog), "Arn")})},
			})
		})
		for _, o := range []string{OutputBrokerURL, OutputTableName, OutputStateMachine, OutputDashboardName} {
			mustAssert(t, "output "+o, func() { tmpl.HasOutput(jsii.String(o), &map[string]any{}) })
		}
		if diff := cmp.Diff(ref(id(st, st.Table)), doc.Outputs[OutputTableName].Value); diff != "" {
			t.Errorf("TableName output (-want +got):\n%s", diff)
		}
		var params []string
		for k := range doc.Parameters {
			params = append(params, k)
		}
		if diff := cmp.Diff([]string{"BootstrapVersion"}, params); diff != "" {
			t.Errorf("parameters with every value in the context (-want +got):\n%s", diff)
		}
	})

	t.Run("alarms", func(t *testing.T) {
		checkAlarms(t, st, doc, rawResources(t, tmpl), "cfybroker/"+DefaultStackName)
	})

	t.Run("without the options", func(t *testing.T) {
		checkDefaults(t, st, tmpl, doc)
	})

	t.Run("no secret in the template", func(t *testing.T) {
		raw, err := json.Marshal(tmpl.ToJSON())
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{fakeSecret, "{{resolve:secretsmanager", "SecretString"} {
			if strings.Contains(string(raw), bad) {
				t.Errorf("the template contains %q", bad)
			}
		}
	})
}

// TestStackWithParameters checks the stack made with no deployment value in the
// context: stack parameters stand in for them, in the environment and in the
// policies. It also checks the other context keys.
func TestStackWithParameters(t *testing.T) {
	st, tmpl, doc := synth(t, map[string]any{
		CtxAssetDir:           placeholderAssets(t),
		CtxDeletionProtection: "false",
		CtxCatalogRate:        "15m",
		CtxLogRetentionDays:   7.0,
		CtxLogLevel:           "debug",
		CtxAPIRateLimit:       "7",
		CtxAlarmTopicARN:      fakeTopic,
		CtxMetricsNamespace:   "brokers/test",
		CtxPollMinSeconds:     "5",
		CtxDashboardURL:       "none",
		CtxStepInlineWait:     "0",
		CtxStepInlineBudget:   20.0,
		CtxVPCID:              "vpc-0123456789abcdef0",
		CtxSubnetIDs:          []any{"subnet-0aaaaaaaaaaaaaaa1"},
		CtxSecurityGroupIDs:   "sg-0ccccccccccccccc3,sg-0eeeeeeeeeeeeeee5",
		CtxDynamoDBEndpoint:   false,
		CtxInterfaceEndpoints: "states",
		CtxDomainName:         "broker.example.com",
		CtxCertificateARN:     fakeCertificate,
		CtxMTLSTruststoreURI:  "s3://truststores/platform-ca.pem",
	})
	for _, p := range []string{ParamCloudifyURL, ParamCloudifyTenant, ParamCloudifySecretARN, ParamBrokerSecretARN, ParamSealKeySecretARN} {
		if _, ok := doc.Parameters[p]; !ok {
			t.Errorf("no parameter %s", p)
		}
	}
	api := doc.Resources[id(st, st.API)].Properties.Environment.Variables
	for env, param := range map[string]string{
		serverless.EnvCloudifyURL:       ParamCloudifyURL,
		serverless.EnvBrokerSecretARN:   ParamBrokerSecretARN,
		serverless.EnvCloudifySecretARN: ParamCloudifySecretARN,
		serverless.EnvDashboardURL:      "",
	} {
		var want any = ref(param)
		if param == "" {
			want = "none"
		}
		if diff := cmp.Diff(want, api[env]); diff != "" {
			t.Errorf("api %s (-want +got):\n%s", env, diff)
		}
	}
	if got := doc.Resources[id(st, st.Step)].Properties.Environment.Variables[serverless.EnvPollMinSeconds]; got != "5" {
		t.Errorf("step %s = %v, want 5", serverless.EnvPollMinSeconds, got)
	}
	// The loop turned off, a smaller budget: the timeouts follow the budget.
	checkStep(t, st, doc, "0", "20", 80, 110)
	got := doc.grantsByRole(t)[roleOf(t, doc, id(st, st.API))]
	for _, g := range grants([]string{"secretsmanager:GetSecretValue"}, ref(ParamCloudifySecretARN), ref(ParamBrokerSecretARN), ref(ParamSealKeySecretARN)) {
		if !slices.Contains(got, g) {
			t.Errorf("the api function lacks %s", g)
		}
	}
	mustAssert(t, "table without deletion protection", func() {
		tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"DeletionPolicy": "Delete",
			"Properties":     assertions.Match_ObjectLike(&map[string]any{"DeletionProtectionEnabled": false}),
		})
	})
	mustAssert(t, "rate", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{"ScheduleExpression": "rate(15 minutes)"})
	})
	mustAssert(t, "retention", func() {
		tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), &map[string]any{"RetentionInDays": 7})
	})
	mustAssert(t, "log level", func() {
		tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
			"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"ApplicationLogLevel": "DEBUG"}),
		})
	})
	mustAssert(t, "throttling", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), &map[string]any{
			"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 7, "ThrottlingBurstLimit": DefaultAPIBurstLimit},
		})
	})
	mustAssert(t, "alarm actions", func() {
		tmpl.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), &map[string]any{
			"AlarmActions": []any{fakeTopic}, "OKActions": []any{fakeTopic},
		})
	})
	checkAlarms(t, st, doc, rawResources(t, tmpl), "brokers/test")
	if got := doc.Resources[id(st, st.API)].Properties.Environment.Variables[serverless.EnvMetricsNamespace]; got != "brokers/test" {
		t.Errorf("api %s = %v, want brokers/test", serverless.EnvMetricsNamespace, got)
	}
	// Without allowInsecureCloudify, the URL parameter takes https only.
	var url struct{ AllowedPattern string }
	if err := json.Unmarshal(doc.Parameters[ParamCloudifyURL], &url); err != nil || !strings.HasPrefix(url.AllowedPattern, "^https://") {
		t.Errorf("%s parameter: AllowedPattern %q (%v), want https only", ParamCloudifyURL, url.AllowedPattern, err)
	}

	// In a VPC with the platform's own security groups and DynamoDB endpoint: no
	// security group or gateway endpoint of the stack's; the Step Functions
	// endpoint takes HTTPS from the given groups.
	checkVPC(t, st, tmpl, doc, vpcWant{sgs: []any{"sg-0ccccccccccccccc3", "sg-0eeeeeeeeeeeeeee5"}, endpoints: []string{"states"}})
	if _, ok := doc.Outputs[OutputSecurityGroup]; ok {
		t.Errorf("a %s output although the context names the security groups", OutputSecurityGroup)
	}

	// Mutual TLS on the domain, no truststore version, the execute-api endpoint kept:
	// the synth warns that it bypasses mutual TLS.
	mustAssert(t, "mutual TLS without a version", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), &map[string]any{
			"MutualTlsAuthentication": map[string]any{"TruststoreUri": "s3://truststores/platform-ca.pem"},
		})
	})
	if got := rawResources(t, tmpl)[id(st, st.HTTPAPI)]["DisableExecuteApiEndpoint"]; got != false {
		t.Errorf("DisableExecuteApiEndpoint = %v, want false", got)
	}
	mustAssert(t, "execute-api bypass warning", func() {
		assertions.Annotations_FromStack(st.Stack).HasWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String(CtxDisableExecuteAPIEndpoint+"=true")))
	})
	mustAssert(t, "endpoint security group", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), &map[string]any{
			"SecurityGroupIngress": []any{
				assertions.Match_ObjectLike(&map[string]any{"FromPort": 443, "ToPort": 443, "SourceSecurityGroupId": "sg-0ccccccccccccccc3"}),
				assertions.Match_ObjectLike(&map[string]any{"FromPort": 443, "ToPort": 443, "SourceSecurityGroupId": "sg-0eeeeeeeeeeeeeee5"}),
			},
		})
	})
}

// TestNewBrokerStackErrors checks that a missing build and an invalid configuration
// are reported before anything is defined.
func TestNewBrokerStackErrors(t *testing.T) {
	app := awscdk.NewApp(nil)
	cfg := DefaultConfig()
	cfg.AssetDir = t.TempDir()
	_, err := NewBrokerStack(app, "Missing", &BrokerStackProps{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing bootstraps: err = %v, want one naming make build", err)
	}
	cfg.AssetDir = placeholderAssets(t)
	cfg.CloudifySecretARN = "cloudify"
	_, err = NewBrokerStack(app, "Invalid", &BrokerStackProps{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), CtxCloudifySecretARN) {
		t.Errorf("invalid secret ARN: err = %v, want one naming %s", err, CtxCloudifySecretARN)
	}
}

// placeholderAssets returns a directory with an empty bootstrap per function, in
// place of the binaries `make build` makes.
func placeholderAssets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range []string{FunctionAPI, FunctionStep, FunctionCatalog} {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("placeholder "+fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cdkJSONContext returns the context of the repository's cdk.json, so that the tests
// synthesise with the same feature flags as `cdk synth`.
func cdkJSONContext(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	var v struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if v.Context == nil {
		v.Context = map[string]any{}
	}
	return v.Context
}

// synth builds the stack from cdk.json's context and ctx, as main does, and returns
// it with its template, as an assertions.Template and parsed.
func synth(t *testing.T, ctx map[string]any) (*BrokerStack, assertions.Template, *template) {
	t.Helper()
	all := cdkJSONContext(t)
	for k, v := range ctx {
		all[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &all})
	cfg, err := ConfigFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		t.Fatalf("ConfigFromContext: %v", err)
	}
	st, err := NewBrokerStack(app, cfg.StackName, &BrokerStackProps{Config: cfg})
	if err != nil {
		t.Fatalf("NewBrokerStack: %v", err)
	}
	tmpl := assertions.Template_FromStack(st.Stack, nil)
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc template
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("template: %v", err)
	}
	return st, tmpl, &doc
}

// mustAssert runs an assertions call, which panics when the template does not
// match, and reports the panic as a test error.
func mustAssert(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// template is the part of a CloudFormation template the tests read.
type template struct {
	Parameters map[string]json.RawMessage `json:"Parameters"`
	Outputs    map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
	Resources map[string]resource `json:"Resources"`
}

type resource struct {
	Type       string `json:"Type"`
	Properties struct {
		// Lambda functions.
		Role        any     `json:"Role"`
		Timeout     float64 `json:"Timeout"`
		MemorySize  float64 `json:"MemorySize"`
		Environment struct {
			Variables map[string]any `json:"Variables"`
		} `json:"Environment"`
		// State machines.
		RoleArn                 any            `json:"RoleArn"`
		StateMachineType        string         `json:"StateMachineType"`
		DefinitionString        string         `json:"DefinitionString"`
		DefinitionSubstitutions map[string]any `json:"DefinitionSubstitutions"`
		// IAM policies and roles.
		Roles             []any `json:"Roles"`
		ManagedPolicyArns []any `json:"ManagedPolicyArns"`
		PolicyDocument    struct {
			Statement []struct {
				Effect   string `json:"Effect"`
				Action   any    `json:"Action"`
				Resource any    `json:"Resource"`
			} `json:"Statement"`
		} `json:"PolicyDocument"`
		// Alarms.
		Namespace    string `json:"Namespace"`
		MetricName   string `json:"MetricName"`
		AlarmActions []any  `json:"AlarmActions"`
	} `json:"Properties"`
}

// grantsByRole returns, for each role's logical id, its grants as "action resource"
// strings (resource as JSON), sorted. A statement not Allow, or on "*" for an action
// IAM can scope (not in noResourceLevelActions), fails the test.
func (d *template) grantsByRole(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, r := range d.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		for _, s := range r.Properties.PolicyDocument.Statement {
			if s.Effect != "Allow" {
				t.Errorf("%s: a statement with effect %s", name, s.Effect)
			}
			var g []string
			for _, a := range list(s.Action) {
				for _, res := range list(s.Resource) {
					if res == "*" && !slices.Contains(noResourceLevelActions, a.(string)) {
						t.Errorf("%s: %v on every resource", name, a)
					}
					g = append(g, grant(a.(string), res))
				}
			}
			for _, role := range r.Properties.Roles {
				id := role.(map[string]any)["Ref"].(string)
				out[id] = append(out[id], g...)
			}
		}
	}
	for _, g := range out {
		slices.Sort(g)
	}
	return out
}

// roleOf returns the logical id of the role of the function or state machine res.
func roleOf(t *testing.T, d *template, res string) string {
	t.Helper()
	p := d.Resources[res].Properties
	role := p.Role
	if role == nil {
		role = p.RoleArn
	}
	m, ok := role.(map[string]any)
	if !ok {
		t.Fatalf("%s has no role reference: %v", res, role)
	}
	return m["Fn::GetAtt"].([]any)[0].(string)
}

// grants returns the grants of actions on resources, as grantsByRole writes them.
func grants(actions []string, resources ...any) []string {
	var out []string
	for _, a := range actions {
		for _, r := range resources {
			out = append(out, grant(a, r))
		}
	}
	return out
}

func grant(action string, resource any) string {
	b, err := json.Marshal(resource)
	if err != nil {
		panic(err)
	}
	return action + " " + string(b)
}

// list returns v as a list: IAM allows a single value or a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// id returns the logical id of a construct's CloudFormation resource.
func id(st *BrokerStack, c interface{ Node() constructs.Node }) string {
	if el, ok := c.(awscdk.CfnElement); ok {
		return *st.GetLogicalId(el)
	}
	el, ok := c.Node().DefaultChild().(awscdk.CfnElement)
	if !ok {
		panic(fmt.Sprintf("%s has no CloudFormation resource", *c.Node().Path()))
	}
	return *st.GetLogicalId(el)
}

func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

// checkStep checks the step function's inline settings, timeout and memory, and the
// state machine's timeout of the step task.
func checkStep(t *testing.T, st *BrokerStack, doc *template, wait, budget string, timeout, taskTimeout float64) {
	t.Helper()
	p := doc.Resources[id(st, st.Step)].Properties
	if got := p.Environment.Variables[serverless.EnvStepInlineWait]; got != wait {
		t.Errorf("step %s = %v, want %s", serverless.EnvStepInlineWait, got, wait)
	}
	if got := p.Environment.Variables[serverless.EnvStepInlineBudget]; got != budget {
		t.Errorf("step %s = %v, want %s", serverless.EnvStepInlineBudget, got, budget)
	}
	if p.Timeout != timeout || p.MemorySize != 128 {
		t.Errorf("step function: timeout %v s, memory %v MB; want %v s, 128 MB", p.Timeout, p.MemorySize, timeout)
	}
	var def struct {
		States map[string]struct {
			Type           string
			TimeoutSeconds float64
		}
	}
	if err := json.Unmarshal([]byte(doc.Resources[id(st, st.StateMachine)].Properties.DefinitionString), &def); err != nil {
		t.Fatalf("definition: %v", err)
	}
	for name, s := range def.States {
		if s.Type == "Task" && s.TimeoutSeconds != taskTimeout {
			t.Errorf("state %s: TimeoutSeconds %v, want %v", name, s.TimeoutSeconds, taskTimeout)
		}
	}
}
