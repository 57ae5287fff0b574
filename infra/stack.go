package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
)

// Function names: the directories under Config.AssetDir and under functions/.
const (
	FunctionAPI     = "api"
	FunctionStep    = "step"
	FunctionCatalog = "catalog"
)

// Names of the stack's parameters (created for the settings the context leaves
// empty) and outputs.
const (
	ParamCloudifyURL       = "CloudifyUrl"
	ParamCloudifyTenant    = "CloudifyTenant"
	ParamCloudifySecretARN = "CloudifySecretArn"
	ParamBrokerSecretARN   = "BrokerSecretArn"
	ParamSealKeySecretARN  = "SealKeySecretArn"

	OutputBrokerURL     = "BrokerUrl"
	OutputTableName     = "TableName"
	OutputStateMachine  = "StateMachineArn"
	OutputDashboardName = "DashboardName"
	OutputDomainTarget  = "DomainTarget"
	OutputDomainZone    = "DomainHostedZoneId"
	OutputSecurityGroup = "FunctionsSecurityGroupId"
)

// Timeouts and sizes of the functions.
const (
	// apiTimeout stays under the HTTP API's 30-second integration limit.
	apiTimeout = 25
	// stepWorkSeconds is what the step function's timeout allows for the steps of
	// one invocation besides its sleeps (Config.StepInlineBudgetSeconds): what one
	// step had before the step function slept short waits itself. The state
	// machine's task timeout is stepTaskMarginSeconds longer than the function's, so
	// that Lambda's own timeout is what fires.
	stepWorkSeconds       = 60
	stepTaskMarginSeconds = 30
	// catalogTimeout bounds a catalog rebuild and sweep.
	catalogTimeout = 180
	memoryMB       = 256
	// stepMemoryMB is the step function's memory. It mostly waits (on the manager,
	// and sleeping short waits between steps, which Lambda bills as duration) and
	// peaks under 20 MiB: at 128 MB a second of sleep costs $0.0000017, under the
	// 3 state transitions ($0.000075) it saves up to a 40-second wait.
	stepMemoryMB = 128
)

// stepTimeoutSeconds is the step function's timeout: the inline budget plus
// stepWorkSeconds.
func (c Config) stepTimeoutSeconds() int { return c.StepInlineBudgetSeconds + stepWorkSeconds }

// stepTaskTimeoutSeconds is the state machine's timeout of the step task.
func (c Config) stepTaskTimeoutSeconds() int { return c.stepTimeoutSeconds() + stepTaskMarginSeconds }

// retentionDays maps the retentions CloudWatch Logs accepts, in days, to the CDK's
// names.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS,
	1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

// BrokerStackProps configures NewBrokerStack.
type BrokerStackProps struct {
	awscdk.StackProps
	// Config is the deployment's configuration; it must be valid (Config.Validate).
	Config Config
}

// BrokerStack is the broker's one stack: the HTTP API in front of the api function,
// the table, the operations state machine driving the step function, the scheduled
// catalog function, and their logs, alarms and dashboard.
type BrokerStack struct {
	awscdk.Stack
	// Config is the configuration the stack was built from.
	Config Config
	// Table holds the broker's state (internal/store/dynamostore's design).
	Table awsdynamodb.Table
	// API, Step and Catalog are the three functions.
	API, Step, Catalog awslambda.Function
	// StateMachine runs one execution per operation (internal/workflow/sfn).
	StateMachine awsstepfunctions.StateMachine
	// HTTPAPI is the OSB endpoint; Stage its throttled default stage.
	HTTPAPI awsapigatewayv2.HttpApi
	Stage   awsapigatewayv2.HttpStage
	// LogGroups are the functions' log groups, by function name, the API's access
	// log group under "access" and the state machine's under "states".
	LogGroups map[string]awslogs.LogGroup
	// SecurityGroup is the functions' own security group: set when the stack is in
	// a VPC and Config.SecurityGroupIDs names none.
	SecurityGroup awsec2.CfnSecurityGroup
	// DomainName is the API's custom domain, when Config.DomainName is set.
	DomainName awsapigatewayv2.DomainName
	// Routes are the HTTP API's routes, by route key ("GET /v2/catalog", ...;
	// "$default" for every other request).
	Routes map[string]awsapigatewayv2.HttpRoute

	// network is where the functions run (nil: outside any VPC); assets the
	// directory of each function's code.
	network *network
	assets  map[string]string
}

// settings are the deployment values the functions receive: literal strings from
// the context, or references to the stack parameters.
type settings struct {
	cloudifyURL, cloudifyTenant                          *string
	cloudifySecretARN, brokerSecretARN, sealKeySecretARN *string
}

// NewBrokerStack defines the broker's stack in scope (an awscdk.App), with the
// construct id id. The Lambda bootstraps must exist under props.Config.AssetDir.
//
// Errors: an invalid configuration, a missing bootstrap, or a state machine
// definition that cannot be built.
func NewBrokerStack(scope constructs.Construct, id string, props *BrokerStackProps) (*BrokerStack, error) {
	cfg := props.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker stack: %w", err)
	}
	if err := checkAssets(cfg.AssetDir); err != nil {
		return nil, fmt.Errorf("broker stack: %w", err)
	}
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("cfybroker: an Open Service Broker for Cloudify (API Gateway, Lambda, DynamoDB, Step Functions)")
	}
	if sp.StackName == nil {
		sp.StackName = jsii.String(cfg.StackName)
	}
	if sp.TerminationProtection == nil {
		sp.TerminationProtection = jsii.Bool(cfg.TerminationProtection)
	}
	assets, err := stageAssets(cfg)
	if err != nil {
		return nil, fmt.Errorf("broker stack: %w", err)
	}
	s := &BrokerStack{
		Stack:     awscdk.NewStack(scope, jsii.String(id), &sp),
		Config:    cfg,
		LogGroups: map[string]awslogs.LogGroup{},
		Routes:    map[string]awsapigatewayv2.HttpRoute{},
		assets:    assets,
	}
	set := s.settings()
	s.Table = s.newTable()
	s.network = s.newNetwork()

	// The secrets each function reads: it gets their ARNs in its environment and
	// may read exactly those (internal/serverless reads the secrets whose ARN is set).
	arns := map[string]*string{
		serverless.EnvCloudifySecretARN: set.cloudifySecretARN,
		serverless.EnvBrokerSecretARN:   set.brokerSecretARN,
		serverless.EnvSealKeySecretARN:  set.sealKeySecretARN,
	}
	secrets := map[string][]string{
		FunctionAPI:     {serverless.EnvCloudifySecretARN, serverless.EnvBrokerSecretARN, serverless.EnvSealKeySecretARN},
		FunctionStep:    {serverless.EnvCloudifySecretARN, serverless.EnvSealKeySecretARN},
		FunctionCatalog: {serverless.EnvCloudifySecretARN, serverless.EnvSealKeySecretARN},
	}
	if cfg.CABundleSecretARN != "" {
		arns[serverless.EnvCABundleSecretARN] = jsii.String(cfg.CABundleSecretARN)
		for fn := range secrets {
			secrets[fn] = append(secrets[fn], serverless.EnvCABundleSecretARN)
		}
	}
	env := func(fn string, stateMachineARN *string, optional map[string]string) *map[string]*string {
		env := map[string]*string{
			serverless.EnvTableName:        s.Table.TableName(),
			serverless.EnvCloudifyURL:      set.cloudifyURL,
			serverless.EnvCloudifyTenant:   set.cloudifyTenant,
			serverless.EnvMetricsNamespace: jsii.String(cfg.metricsNamespace()),
			// The functions filter their logs at LOG_LEVEL themselves; Lambda's own
			// filter stays where the metrics survive it (newFunction).
			serverless.EnvLogLevel: jsii.String(cfg.LogLevel),
		}
		if cfg.CABundleFile != "" {
			env[serverless.EnvCABundle] = jsii.String(caBundleAssetName)
		}
		if stateMachineARN != nil {
			env[serverless.EnvStateMachineARN] = stateMachineARN
		}
		for _, name := range secrets[fn] {
			env[name] = arns[name]
		}
		for k, v := range optional {
			if v != "" {
				env[k] = jsii.String(v)
			}
		}
		return &env
	}

	s.Step = s.newFunction(FunctionStep, "Runs one workflow step of one operation; the task of the operations state machine.",
		float64(cfg.stepTimeoutSeconds()), stepMemoryMB, cfg.StepMaxConcurrency, env(FunctionStep, nil, map[string]string{
			serverless.EnvPollMinSeconds:   positive(cfg.PollMinSeconds),
			serverless.EnvPollMaxSeconds:   positive(cfg.PollMaxSeconds),
			serverless.EnvStepInlineWait:   strconv.Itoa(cfg.StepInlineWaitSeconds),
			serverless.EnvStepInlineBudget: strconv.Itoa(cfg.StepInlineBudgetSeconds),
		}))
	// The vended-logs prefix keeps the log group out of the size limit of CloudWatch
	// Logs' resource policy, which log delivery from Step Functions updates. Named,
	// it goes with the stack, so that a stack of the same name can be made again.
	smLogs := awslogs.NewLogGroup(s.Stack, jsii.String("OperationsLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/vendedlogs/states/" + cfg.StackName + "-operations"),
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	s.LogGroups["states"] = smLogs
	sm, err := newStateMachine(s.Stack, "Operations", s.Step, smLogs, cfg)
	if err != nil {
		return nil, fmt.Errorf("broker stack: %w", err)
	}
	s.StateMachine = sm
	s.API = s.newFunction(FunctionAPI, "The Open Service Broker API behind the HTTP API.",
		apiTimeout, memoryMB, cfg.APIReservedConcurrency, env(FunctionAPI, sm.StateMachineArn(), map[string]string{
			serverless.EnvDashboardURL:    cfg.DashboardURL,
			serverless.EnvDefaultDeadline: cfg.DefaultDeadline,
		}))
	s.Catalog = s.newFunction(FunctionCatalog, "Rebuilds the catalog from the Cloudify manager and restarts operations whose execution was lost; runs on a schedule.",
		catalogTimeout, memoryMB, 0, env(FunctionCatalog, sm.StateMachineArn(), map[string]string{
			serverless.EnvSweepStaleSeconds: positive(cfg.SweepStaleSeconds),
		}))

	// Least privilege, function by function: the table (and its index) for all,
	// the secrets each one reads, and the state machine for the two that start
	// executions.
	for name, fn := range map[string]awslambda.Function{FunctionAPI: s.API, FunctionStep: s.Step, FunctionCatalog: s.Catalog} {
		s.grantTable(fn)
		var resources []*string
		for _, env := range secrets[name] {
			resources = append(resources, arns[env])
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadSecrets"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: &resources,
		}))
	}
	s.API.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("StartOperations"),
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: &[]*string{sm.StateMachineArn()},
	}))
	s.Catalog.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("RestartOperations"),
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: &[]*string{sm.StateMachineArn()},
	}))
	s.Catalog.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DescribeOperationExecutions"),
		Actions:   jsii.Strings("states:DescribeExecution"),
		Resources: &[]*string{executionsARN(sm)},
	}))

	s.newHTTPAPI()
	s.newSchedule()
	dashboard := s.newObservability()

	out := func(name, desc string, value *string) {
		awscdk.NewCfnOutput(s.Stack, jsii.String(name), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
	}
	var brokerURL *string
	if cfg.DomainName == "" {
		brokerURL = s.HTTPAPI.ApiEndpoint()
	} else {
		// The execute-api endpoint changes when the API is replaced (and may be
		// turned off): the domain is the URL to register.
		brokerURL = jsii.String("https://" + cfg.DomainName)
		out(OutputDomainTarget, "The name the custom domain's DNS record (CNAME, or alias A/AAAA) points to.", s.DomainName.RegionalDomainName())
		out(OutputDomainZone, "The hosted zone id of that name, for an alias record.", s.DomainName.RegionalHostedZoneId())
	}
	if s.SecurityGroup != nil {
		out(OutputSecurityGroup, "The functions' security group: let it in on the manager's HTTPS port.", s.SecurityGroup.AttrGroupId())
	}
	out(OutputBrokerURL, "The broker's URL, to register with the platform (cf create-service-broker, a Kubernetes ClusterServiceBroker).", brokerURL)
	out(OutputTableName, "The DynamoDB table of broker state (for the operator CLI).", s.Table.TableName())
	out(OutputStateMachine, "The operations state machine.", sm.StateMachineArn())
	out(OutputDashboardName, "The CloudWatch dashboard.", dashboard.DashboardName())
	return s, nil
}

// checkAssets checks that every function's bootstrap exists, so that a missing
// build is reported as such rather than as an asset error.
func checkAssets(dir string) error {
	var errs []error
	for _, fn := range []string{FunctionAPI, FunctionStep, FunctionCatalog} {
		p := filepath.Join(dir, fn, "bootstrap")
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			errs = append(errs, fmt.Errorf("no Lambda bootstrap at %s (run `make build` first, or set the %s context)", p, CtxAssetDir))
		}
	}
	return errors.Join(errs...)
}

// settings returns the deployment values, creating a stack parameter for each one
// the context leaves empty.
func (s *BrokerStack) settings() settings {
	param := func(value, name, desc, pattern, constraint string, def string) *string {
		if value != "" {
			return jsii.String(value)
		}
		p := &awscdk.CfnParameterProps{Type: jsii.String("String"), Description: jsii.String(desc)}
		if pattern != "" {
			p.AllowedPattern = jsii.String(pattern)
			p.ConstraintDescription = jsii.String(constraint)
		} else {
			p.MinLength = jsii.Number(1)
		}
		if def != "" {
			p.Default = jsii.String(def)
		}
		return awscdk.NewCfnParameter(s.Stack, jsii.String(name), p).ValueAsString()
	}
	const secretConstraint = "the complete ARN of a Secrets Manager secret, with its 6-character suffix"
	c := s.Config
	urlPattern, urlConstraint := `^https://[^\s/?#]+(/[^\s?#]*)?$`, "an https URL (set the context allowInsecureCloudify=true for http)"
	if c.AllowInsecureCloudify {
		urlPattern, urlConstraint = `^https?://[^\s/?#]+(/[^\s?#]*)?$`, "an http or https URL"
	}
	if c.CloudifySecretARN == "" || c.BrokerSecretARN == "" || c.SealKeySecretARN == "" {
		awscdk.Validations_Of(s.Stack).Acknowledge(&awscdk.Acknowledgment{
			Id:     jsii.String("CloudFormation-Validate::W2509"),
			Reason: jsii.String("the *SecretArn parameters name secrets; they hold no secret value"),
		})
	}
	return settings{
		cloudifyURL: param(c.CloudifyURL, ParamCloudifyURL, "The Cloudify manager's URL, e.g. https://manager.example.com.",
			urlPattern, urlConstraint, ""),
		cloudifyTenant: param(c.CloudifyTenant, ParamCloudifyTenant, "The Cloudify tenant.", "", "", "default_tenant"),
		cloudifySecretARN: param(c.CloudifySecretARN, ParamCloudifySecretARN,
			`ARN of the secret holding the Cloudify credentials: {"username": ..., "password": ...} or {"token": ...}.`, SecretARNPattern, secretConstraint, ""),
		brokerSecretARN: param(c.BrokerSecretARN, ParamBrokerSecretARN,
			`ARN of the secret holding the broker's Basic-auth credentials: {"credentials": [{"username": ..., "password": ...}]}.`, SecretARNPattern, secretConstraint, ""),
		sealKeySecretARN: param(c.SealKeySecretARN, ParamSealKeySecretARN,
			"ARN of the secret holding the 32-byte sealing key, hex-encoded.", SecretARNPattern, secretConstraint, ""),
	}
}

// positive formats n, or returns "" (not set) when n is not positive.
func positive(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// newTable defines the single table of internal/store/dynamostore: string keys PK
// and SK, the index GSI1 projecting everything, time to live on expires_at, on-demand
// billing and point-in-time recovery.
func (s *BrokerStack) newTable() awsdynamodb.Table {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	removal := awscdk.RemovalPolicy_RETAIN
	if !s.Config.DeletionProtection {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	t := awsdynamodb.NewTable(s.Stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        str(dynamostore.AttrPK),
		SortKey:             str(dynamostore.AttrSK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(dynamostore.AttrExpiresAt),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(s.Config.DeletionProtection),
		RemovalPolicy:      removal,
	})
	t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(dynamostore.IndexGSI1),
		PartitionKey:   str(dynamostore.AttrGSI1PK),
		SortKey:        str(dynamostore.AttrGSI1SK),
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	return t
}

// newFunction defines one function from its pre-built bootstrap, with its own log
// group and its own role, whose only initial permission is to write to that group.
//
// reserved is its reserved concurrency (0: none). It is traced when Config.Tracing,
// and placed in the VPC when there is one.
func (s *BrokerStack) newFunction(name, desc string, timeoutSeconds float64, memory, reserved int, env *map[string]*string) awslambda.Function {
	id := constructID(name)
	logs := awslogs.NewLogGroup(s.Stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: retentionDays[s.Config.LogRetentionDays],
	})
	s.LogGroups[name] = logs
	role := awsiam.NewRole(s.Stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("The " + name + " function of " + s.Config.StackName),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logs.LogGroupArn()},
	}))
	if s.network != nil {
		s.network.grantNetworkInterfaces(role)
	}
	tracing := awslambda.Tracing_DISABLED
	if s.Config.Tracing {
		tracing = awslambda.Tracing_ACTIVE
	}
	props := &awslambda.FunctionProps{
		Description:           jsii.String(desc),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(s.assets[name]), nil),
		MemorySize:            jsii.Number(memory),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		Role:                  role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: applicationLogLevel(serverless.LambdaApplicationLogLevel(s.Config.LogLevel)),
		SystemLogLevelV2:      awslambda.SystemLogLevel_INFO,
		Environment:           env,
		Tracing:               tracing,
	}
	if reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(reserved)
	}
	if name == FunctionCatalog {
		// The schedule runs it again soon; a failed run is not retried on top.
		props.RetryAttempts = jsii.Number(0)
	}
	fn := awslambda.NewFunction(s.Stack, jsii.String(id), props)
	if s.network != nil {
		fn.Node().DefaultChild().(awslambda.CfnFunction).SetVpcConfig(s.network.vpcConfig())
	}
	return fn
}

// constructID returns the construct id of a function's resources: its name,
// capitalised.
func constructID(name string) string {
	return strings.ToUpper(name[:1]) + name[1:]
}

// applicationLogLevel maps serverless.LambdaApplicationLogLevel's answer to the
// CDK's name of Lambda's application log level (which Lambda also passes to the
// function as AWS_LAMBDA_LOG_LEVEL).
func applicationLogLevel(level string) awslambda.ApplicationLogLevel {
	switch level {
	case "DEBUG":
		return awslambda.ApplicationLogLevel_DEBUG
	case "WARN":
		return awslambda.ApplicationLogLevel_WARN
	case "ERROR":
		return awslambda.ApplicationLogLevel_ERROR
	default:
		return awslambda.ApplicationLogLevel_INFO
	}
}

// grantTable lets fn read and write items of the table and query its index: the
// calls internal/store/dynamostore makes (TransactWriteItems is authorised item by
// item as PutItem, UpdateItem, DeleteItem and ConditionCheckItem). No Scan, no batch
// operation, no table administration.
func (s *BrokerStack) grantTable(fn awslambda.Function) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ReadWriteItems"),
		Actions: jsii.Strings("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
			"dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"),
		Resources: &[]*string{s.Table.TableArn()},
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("QueryIndex"),
		Actions:   jsii.Strings("dynamodb:Query"),
		Resources: &[]*string{jsii.String(*s.Table.TableArn() + "/index/" + dynamostore.IndexGSI1)},
	}))
}

// executionsARN is the ARN pattern of the state machine's executions.
func executionsARN(sm awsstepfunctions.StateMachine) *string {
	return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Name}:*"),
		&map[string]*string{"Name": sm.StateMachineName()})
}

// Route groups of the HTTP API, each with its own throttling.
var (
	// pollRoutes are what a platform polls: last_operation and the catalog.
	pollRoutes = []string{
		"GET /v2/catalog",
		"GET /v2/service_instances/{instance_id}/last_operation",
		"GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation",
	}
	// changeRoutes change state: provision, update, deprovision, bind, unbind.
	changeRoutes = []string{
		"PUT /v2/service_instances/{instance_id}",
		"PATCH /v2/service_instances/{instance_id}",
		"DELETE /v2/service_instances/{instance_id}",
		"PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}",
		"DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}",
	}
)

// newHTTPAPI defines the HTTP API, named after the stack: the OSB routes and a
// $default route for every other request, all to the api function (payload 2.0);
// one $default stage, auto-deployed, with JSON access logs and throttling by route
// group (Config.PollRateLimit for polls, Config.ChangeRateLimit for changes,
// Config.APIRateLimit for the rest); and the custom domain when there is one.
func (s *BrokerStack) newHTTPAPI() {
	c := s.Config
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Broker"), s.API,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	s.HTTPAPI = awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:                   jsii.String(c.StackName),
		Description:               jsii.String("Open Service Broker API of " + c.StackName),
		DefaultIntegration:        integration,
		CreateDefaultStage:        jsii.Bool(false),
		DisableExecuteApiEndpoint: jsii.Bool(c.DisableExecuteAPIEndpoint),
	})
	s.Routes["$default"] = s.HTTPAPI.Node().FindChild(jsii.String("DefaultRoute")).(awsapigatewayv2.HttpRoute)
	settings := map[string]any{}
	for _, group := range []struct {
		keys         []string
		rate, bursts float64
	}{{pollRoutes, c.PollRateLimit, c.PollBurstLimit}, {changeRoutes, c.ChangeRateLimit, c.ChangeBurstLimit}} {
		for _, key := range group.keys {
			method, path, _ := strings.Cut(key, " ")
			routes := s.HTTPAPI.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
				Path:        jsii.String(path),
				Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(method)},
				Integration: integration,
			})
			s.Routes[key] = (*routes)[0]
			settings[key] = map[string]any{"ThrottlingRateLimit": group.rate, "ThrottlingBurstLimit": group.bursts}
		}
	}
	s.Stage = awsapigatewayv2.NewHttpStage(s.Stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    s.HTTPAPI,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(c.APIRateLimit),
			BurstLimit: jsii.Number(c.APIBurstLimit),
		},
	})
	access := awslogs.NewLogGroup(s.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: retentionDays[c.LogRetentionDays],
	})
	s.LogGroups["access"] = access
	// The L2 stage takes access log settings as a jsii interface, and has no route
	// settings; the L1 properties say the same in fewer moving parts. No header is
	// logged (Authorization carries the broker's credentials).
	cfn := s.Stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfn.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: access.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
			`"requestTime":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",` +
			`"routeKey":"$context.routeKey","status":"$context.status","responseLength":"$context.responseLength",` +
			`"latency":"$context.responseLatency","integrationLatency":"$context.integrationLatency",` +
			`"integrationStatus":"$context.integrationStatus","integrationError":"$context.integrationErrorMessage"}`),
	})
	cfn.SetRouteSettings(settings)
	// Route settings name routes that must exist first.
	for _, r := range s.Routes {
		s.Stage.Node().AddDependency(r)
	}

	if c.DomainName == "" {
		return
	}
	props := &awsapigatewayv2.DomainNameProps{
		DomainName:     jsii.String(c.DomainName),
		Certificate:    awscertificatemanager.Certificate_FromCertificateArn(s.Stack, jsii.String("Certificate"), jsii.String(c.CertificateARN)),
		SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
	}
	if m := truststorePattern.FindStringSubmatch(c.MTLSTruststoreURI); m != nil {
		if !c.DisableExecuteAPIEndpoint {
			awscdk.Annotations_Of(s.Stack).AddWarningV2(jsii.String("cfybroker:mtls-bypass"), jsii.String(
				"mutual TLS is on the custom domain only: the execute-api endpoint still takes requests without a "+
					"client certificate; set the context "+CtxDisableExecuteAPIEndpoint+"=true"), nil)
		}
		props.Mtls = &awsapigatewayv2.MTLSConfig{
			Bucket: awss3.Bucket_FromBucketName(s.Stack, jsii.String("Truststore"), jsii.String(m[1])),
			Key:    jsii.String(m[2]),
		}
		if c.MTLSTruststoreVersion != "" {
			props.Mtls.Version = jsii.String(c.MTLSTruststoreVersion)
		}
	}
	s.DomainName = awsapigatewayv2.NewDomainName(s.Stack, jsii.String("DomainName"), props)
	awsapigatewayv2.NewApiMapping(s.Stack, jsii.String("ApiMapping"), &awsapigatewayv2.ApiMappingProps{
		Api: s.HTTPAPI, DomainName: s.DomainName, Stage: s.Stage,
	})
}

// caBundleAssetName is the CA bundle file's name in each function's code, and the
// functions' CLOUDIFY_CA_BUNDLE.
const caBundleAssetName = "cloudify-ca.pem"

// stageAssets returns each function's code directory: <AssetDir>/<fn>, or, with a
// CA bundle file, <AssetDir>/.staged/<fn>, a copy of it with the bundle beside the
// bootstrap (rewritten at every synth).
func stageAssets(cfg Config) (map[string]string, error) {
	out := map[string]string{}
	var ca []byte
	if cfg.CABundleFile != "" {
		var err error
		if ca, err = os.ReadFile(cfg.CABundleFile); err != nil {
			return nil, fmt.Errorf("%s: %w", CtxCABundleFile, err)
		}
	}
	for _, fn := range []string{FunctionAPI, FunctionStep, FunctionCatalog} {
		src := filepath.Join(cfg.AssetDir, fn)
		if ca == nil {
			out[fn] = src
			continue
		}
		dst := filepath.Join(cfg.AssetDir, ".staged", fn)
		boot, err := os.ReadFile(filepath.Join(src, "bootstrap"))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dst, "bootstrap"), boot, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dst, caBundleAssetName), ca, 0o644); err != nil {
			return nil, err
		}
		out[fn] = dst
	}
	return out, nil
}

// newSchedule runs the catalog function every Config.CatalogRate.
func (s *BrokerStack) newSchedule() {
	awsevents.NewRule(s.Stack, jsii.String("CatalogSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the catalog function: catalog rebuild and operations sweep."),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(s.Config.CatalogRate.Minutes()))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(s.Catalog, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(2),
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(s.Config.CatalogRate.Minutes())),
		})},
	})
}
