package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/serverless"
)

// Context keys of the CDK app (cdk.json "context", or `cdk synth -c key=value`). The
// README's "Context" section describes each one.
const (
	CtxStackName          = "stackName"
	CtxAssetDir           = "assetDir"
	CtxCloudifyURL        = "cloudifyUrl"
	CtxCloudifyTenant     = "cloudifyTenant"
	CtxCloudifySecretARN  = "cloudifySecretArn"
	CtxBrokerSecretARN    = "brokerSecretArn"
	CtxSealKeySecretARN   = "sealKeySecretArn"
	CtxDeletionProtection = "deletionProtection"
	CtxCatalogRate        = "catalogRate"
	CtxLogRetentionDays   = "logRetentionDays"
	CtxLogLevel           = "logLevel"
	CtxAPIRateLimit       = "apiRateLimit"
	CtxAPIBurstLimit      = "apiBurstLimit"
	CtxAlarmTopicARN      = "alarmTopicArn"
	CtxMetricsNamespace   = "metricsNamespace"
	CtxDashboardURL       = "dashboardUrl"
	CtxDefaultDeadline    = "defaultDeadline"
	CtxPollMinSeconds     = "pollMinSeconds"
	CtxPollMaxSeconds     = "pollMaxSeconds"
	CtxSweepStaleSeconds  = "sweepStaleSeconds"
	CtxStepInlineWait     = "stepInlineWaitSeconds"
	CtxStepInlineBudget   = "stepInlineBudgetSeconds"

	CtxAllowInsecureCloudify     = "allowInsecureCloudify"
	CtxCABundleSecretARN         = "cloudifyCaBundleSecretArn"
	CtxCABundleFile              = "cloudifyCaBundleFile"
	CtxVPCID                     = "vpcId"
	CtxSubnetIDs                 = "subnetIds"
	CtxSecurityGroupIDs          = "securityGroupIds"
	CtxRouteTableIDs             = "routeTableIds"
	CtxDynamoDBEndpoint          = "dynamoDbEndpoint"
	CtxInterfaceEndpoints        = "interfaceEndpoints"
	CtxDomainName                = "domainName"
	CtxCertificateARN            = "certificateArn"
	CtxMTLSTruststoreURI         = "mtlsTruststoreUri"
	CtxMTLSTruststoreVersion     = "mtlsTruststoreVersion"
	CtxDisableExecuteAPIEndpoint = "disableExecuteApiEndpoint"
	CtxPollRateLimit             = "pollRateLimit"
	CtxPollBurstLimit            = "pollBurstLimit"
	CtxChangeRateLimit           = "changeRateLimit"
	CtxChangeBurstLimit          = "changeBurstLimit"
	CtxAPIReservedConcurrency    = "apiReservedConcurrency"
	CtxStepMaxConcurrency        = "stepMaxConcurrency"
	CtxTracing                   = "tracing"
	CtxTerminationProtection     = "terminationProtection"
)

// Defaults of Config.
const (
	DefaultStackName        = "CfyBroker"
	DefaultAssetDir         = "bin"
	DefaultCatalogRate      = 5 * time.Minute
	DefaultLogRetentionDays = 30
	DefaultLogLevel         = "info"
	// DefaultAPIRateLimit and DefaultAPIBurstLimit throttle the routes that are
	// neither polls nor changes: fetching an instance or a binding, and every path
	// the broker does not serve.
	DefaultAPIRateLimit  = 10
	DefaultAPIBurstLimit = 20
	// DefaultPollRateLimit and DefaultPollBurstLimit throttle last_operation and the
	// catalog: a platform polls every operation in progress every few seconds.
	DefaultPollRateLimit  = 50
	DefaultPollBurstLimit = 100
	// DefaultChangeRateLimit and DefaultChangeBurstLimit throttle provision, update,
	// deprovision, bind and unbind.
	DefaultChangeRateLimit  = 20
	DefaultChangeBurstLimit = 40
	// DefaultAPIReservedConcurrency is the api function's reserved concurrency:
	// requests per second × seconds per request, with room (README: Capacity).
	DefaultAPIReservedConcurrency = 20
	// DefaultStepMaxConcurrency caps the step function: about one invocation per
	// operation in flight (README: Capacity).
	DefaultStepMaxConcurrency = 50
	// DefaultStepInlineWaitSeconds and DefaultStepInlineBudgetSeconds are the step
	// function's own defaults (serverless.DefaultStepInlineWait, ...Budget).
	DefaultStepInlineWaitSeconds   = int(serverless.DefaultStepInlineWait / time.Second)
	DefaultStepInlineBudgetSeconds = int(serverless.DefaultStepInlineBudget / time.Second)
	// maxStepInlineBudgetSeconds keeps the step function's timeout (the budget plus
	// stepWorkSeconds) well within Lambda's 900 s.
	maxStepInlineBudgetSeconds = 600
)

// Config is what the stack is made of that differs between deployments. It holds no
// secret: secrets are named by ARN, and the functions read them at cold start.
type Config struct {
	// StackName is the CloudFormation stack's name (and the CDK construct id).
	StackName string
	// AssetDir holds the pre-built Lambda bootstraps, one directory per function:
	// <AssetDir>/api/bootstrap, <AssetDir>/step/bootstrap, <AssetDir>/catalog/bootstrap.
	// A relative path is relative to the directory the app runs in (the repository
	// root under `cdk synth`).
	AssetDir string
	// CloudifyURL, CloudifyTenant and the three secret ARNs configure the functions.
	// Each one left empty becomes a CloudFormation parameter of the stack, given at
	// deploy time (`cdk deploy --parameters CloudifyUrl=...`).
	CloudifyURL       string
	CloudifyTenant    string
	CloudifySecretARN string
	BrokerSecretARN   string
	SealKeySecretARN  string
	// DeletionProtection turns on the table's deletion protection and keeps the
	// table when the stack is deleted. Turn it off for throw-away stacks only: the
	// table is then deleted with the stack.
	DeletionProtection bool
	// CatalogRate is how often the catalog function runs (whole minutes).
	CatalogRate time.Duration
	// LogRetentionDays is how long the log groups keep events; one of the values
	// CloudWatch Logs accepts (see retentionDays).
	LogRetentionDays int
	// LogLevel is the functions' application log level: debug, info, warn or error.
	LogLevel string
	// APIRateLimit and APIBurstLimit throttle the HTTP API's default stage (requests
	// per second, and the bucket size).
	APIRateLimit  float64
	APIBurstLimit float64
	// AlarmTopicARN, when set, is the SNS topic the alarms notify (alarm and OK).
	AlarmTopicARN string
	// MetricsNamespace is the CloudWatch namespace of the functions' metrics (their
	// METRICS_NAMESPACE) and of the stack's log metric filters; empty: "cfybroker/"
	// followed by the stack name, so that two stacks in one region do not mix.
	MetricsNamespace string
	// DashboardURL, DefaultDeadline, PollMinSeconds, PollMaxSeconds and
	// SweepStaleSeconds are passed to the functions as DASHBOARD_URL,
	// DEFAULT_DEADLINE, POLL_MIN_SECONDS, POLL_MAX_SECONDS and SWEEP_STALE_SECONDS when
	// set; unset, the functions' own defaults apply.
	DashboardURL      string
	DefaultDeadline   string
	PollMinSeconds    int
	PollMaxSeconds    int
	SweepStaleSeconds int
	// StepInlineWaitSeconds and StepInlineBudgetSeconds are the step function's
	// STEP_INLINE_WAIT_SECONDS and STEP_INLINE_BUDGET_SECONDS, always set: the
	// longest wait it sleeps itself, stepping again in the same invocation, and the
	// most one invocation sleeps in all (0 for either: one step per invocation). The
	// step function's timeout is the budget plus stepWorkSeconds.
	StepInlineWaitSeconds   int
	StepInlineBudgetSeconds int

	// AllowInsecureCloudify allows a CloudifyURL (or parameter) on plain http;
	// without it the manager's URL must be https.
	AllowInsecureCloudify bool
	// CABundleSecretARN names a secret holding PEM CA certificates that the
	// functions' Cloudify client trusts besides the system's (a private CA); the
	// functions get CLOUDIFY_CA_BUNDLE_SECRET_ARN and may read it.
	CABundleSecretARN string
	// CABundleFile is a PEM file (relative to the app's directory, the repository
	// root) copied into each function's asset as cloudify-ca.pem, which the
	// functions read through CLOUDIFY_CA_BUNDLE. Either or both may be set.
	CABundleFile string
	// VPCID, when set, places the functions in that VPC, in SubnetIDs (private
	// subnets, at least one; two or more across availability zones) with
	// SecurityGroupIDs, or a security group of their own (outbound HTTPS only) when
	// none is given. Ids only: nothing is looked up, so the synth stays offline.
	VPCID            string
	SubnetIDs        []string
	SecurityGroupIDs []string
	// RouteTableIDs are the subnets' route tables, which the DynamoDB gateway
	// endpoint is added to; required with DynamoDBEndpoint.
	RouteTableIDs []string
	// DynamoDBEndpoint adds a DynamoDB gateway endpoint (free) to the VPC; turn it
	// off when the VPC's route tables already have one.
	DynamoDBEndpoint bool
	// InterfaceEndpoints are the interface endpoints to create in the subnets, from
	// states, secretsmanager, logs and xray (or "all"); none when the subnets reach
	// AWS through a NAT gateway or the VPC already has them.
	InterfaceEndpoints []string
	// DomainName and CertificateARN give the API a custom domain (the certificate
	// an ACM certificate in the stack's region); BrokerUrl is then
	// https://DomainName.
	DomainName     string
	CertificateARN string
	// MTLSTruststoreURI (s3://bucket/key of a PEM bundle) turns on mutual TLS on
	// the custom domain, with MTLSTruststoreVersion the object's version, if any.
	MTLSTruststoreURI     string
	MTLSTruststoreVersion string
	// DisableExecuteAPIEndpoint turns off the API's execute-api endpoint, so that
	// the custom domain (and its mutual TLS) is the only way in.
	DisableExecuteAPIEndpoint bool
	// PollRateLimit and PollBurstLimit throttle the last_operation and catalog
	// routes; ChangeRateLimit and ChangeBurstLimit the routes that change state
	// (provision, update, deprovision, bind, unbind). APIRateLimit and APIBurstLimit
	// throttle every other route.
	PollRateLimit    float64
	PollBurstLimit   float64
	ChangeRateLimit  float64
	ChangeBurstLimit float64
	// APIReservedConcurrency is the api function's reserved concurrency;
	// StepMaxConcurrency the step function's, which caps it. 0: none.
	APIReservedConcurrency int
	StepMaxConcurrency     int
	// Tracing turns on X-Ray active tracing of the functions and the state machine.
	Tracing bool
	// TerminationProtection turns on the stack's termination protection.
	TerminationProtection bool
}

// DefaultConfig returns the configuration of a stack with no context: every value
// that names the deployment (Cloudify, secrets) is a stack parameter.
func DefaultConfig() Config {
	return Config{
		StackName:          DefaultStackName,
		AssetDir:           DefaultAssetDir,
		DeletionProtection: true,
		CatalogRate:        DefaultCatalogRate,
		LogRetentionDays:   DefaultLogRetentionDays,
		LogLevel:           DefaultLogLevel,
		APIRateLimit:       DefaultAPIRateLimit,
		APIBurstLimit:      DefaultAPIBurstLimit,

		StepInlineWaitSeconds:   DefaultStepInlineWaitSeconds,
		StepInlineBudgetSeconds: DefaultStepInlineBudgetSeconds,

		DynamoDBEndpoint:       true,
		PollRateLimit:          DefaultPollRateLimit,
		PollBurstLimit:         DefaultPollBurstLimit,
		ChangeRateLimit:        DefaultChangeRateLimit,
		ChangeBurstLimit:       DefaultChangeBurstLimit,
		APIReservedConcurrency: DefaultAPIReservedConcurrency,
		StepMaxConcurrency:     DefaultStepMaxConcurrency,
		Tracing:                true,
		TerminationProtection:  true,
	}
}

// The state machine's history: an execution holds at most 25,000 events; a loop of
// Step, Check and Wait adds about ten, and the budget leaves room for retries.
const (
	eventsPerLoop = 10
	historyBudget = 20000
)

// pollMaxOf is the longest wait between two looks at an execution.
func pollMaxOf(c Config) time.Duration {
	if c.PollMaxSeconds > 0 {
		return time.Duration(c.PollMaxSeconds) * time.Second
	}
	return time.Minute
}

// historyLoops is how many loops of the state machine an operation running until the
// deadline d may take at most: one per longest wait, or per inline budget when the
// step function sleeps every wait itself.
func historyLoops(c Config, d time.Duration) int {
	loop := pollMaxOf(c)
	if budget := time.Duration(c.StepInlineBudgetSeconds) * time.Second; c.StepInlineWaitSeconds > 0 && time.Duration(c.StepInlineWaitSeconds)*time.Second >= loop && budget > loop {
		loop = budget
	}
	return int(d/loop) + 1
}

// ConfigFromContext reads the configuration from the app's context through get
// (app.Node().TryGetContext in main; nil for an absent key). Values from cdk.json may
// be JSON strings, numbers or booleans; values from `-c key=value` are strings. Keys
// not set keep DefaultConfig's values.
//
// Errors: every malformed or invalid value, each naming its key.
func ConfigFromContext(get func(key string) any) (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	str := func(key string, dst *string) {
		switch v := get(key).(type) {
		case nil:
		case string:
			if s := strings.TrimSpace(v); s != "" {
				*dst = s
			}
		default:
			errs = append(errs, fmt.Errorf("context %s: want a string, got %v", key, v))
		}
	}
	num := func(key string, dst *float64) {
		switch v := get(key).(type) {
		case nil:
		case float64:
			*dst = v
		case string:
			if strings.TrimSpace(v) == "" {
				return
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s: %q is not a number", key, v))
				return
			}
			*dst = f
		default:
			errs = append(errs, fmt.Errorf("context %s: want a number, got %v", key, v))
		}
	}
	integer := func(key string, dst *int) {
		f := float64(*dst)
		num(key, &f)
		if f != float64(int(f)) {
			errs = append(errs, fmt.Errorf("context %s: %v is not a whole number", key, f))
			return
		}
		*dst = int(f)
	}
	boolean := func(key string, dst *bool) {
		switch v := get(key).(type) {
		case nil:
		case bool:
			*dst = v
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s: %q is not true or false", key, v))
				return
			}
			*dst = b
		default:
			errs = append(errs, fmt.Errorf("context %s: want true or false, got %v", key, v))
		}
	}

	str(CtxStackName, &cfg.StackName)
	str(CtxAssetDir, &cfg.AssetDir)
	str(CtxCloudifyURL, &cfg.CloudifyURL)
	str(CtxCloudifyTenant, &cfg.CloudifyTenant)
	str(CtxCloudifySecretARN, &cfg.CloudifySecretARN)
	str(CtxBrokerSecretARN, &cfg.BrokerSecretARN)
	str(CtxSealKeySecretARN, &cfg.SealKeySecretARN)
	boolean(CtxDeletionProtection, &cfg.DeletionProtection)
	integer(CtxLogRetentionDays, &cfg.LogRetentionDays)
	str(CtxLogLevel, &cfg.LogLevel)
	num(CtxAPIRateLimit, &cfg.APIRateLimit)
	num(CtxAPIBurstLimit, &cfg.APIBurstLimit)
	str(CtxAlarmTopicARN, &cfg.AlarmTopicARN)
	str(CtxMetricsNamespace, &cfg.MetricsNamespace)
	str(CtxDashboardURL, &cfg.DashboardURL)
	str(CtxDefaultDeadline, &cfg.DefaultDeadline)
	integer(CtxPollMinSeconds, &cfg.PollMinSeconds)
	integer(CtxPollMaxSeconds, &cfg.PollMaxSeconds)
	integer(CtxSweepStaleSeconds, &cfg.SweepStaleSeconds)
	integer(CtxStepInlineWait, &cfg.StepInlineWaitSeconds)
	integer(CtxStepInlineBudget, &cfg.StepInlineBudgetSeconds)
	// list reads comma-separated ids ("a,b" from -c) or a JSON list of strings.
	list := func(key string, dst *[]string) {
		var items []string
		switch v := get(key).(type) {
		case nil:
			return
		case string:
			items = strings.Split(v, ",")
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("context %s: want strings, got %v", key, x))
					return
				}
				items = append(items, s)
			}
		default:
			errs = append(errs, fmt.Errorf("context %s: want a comma-separated list, got %v", key, v))
			return
		}
		*dst = nil
		for _, it := range items {
			if it = strings.TrimSpace(it); it != "" {
				*dst = append(*dst, it)
			}
		}
	}
	boolean(CtxAllowInsecureCloudify, &cfg.AllowInsecureCloudify)
	str(CtxCABundleSecretARN, &cfg.CABundleSecretARN)
	str(CtxCABundleFile, &cfg.CABundleFile)
	str(CtxVPCID, &cfg.VPCID)
	list(CtxSubnetIDs, &cfg.SubnetIDs)
	list(CtxSecurityGroupIDs, &cfg.SecurityGroupIDs)
	list(CtxRouteTableIDs, &cfg.RouteTableIDs)
	boolean(CtxDynamoDBEndpoint, &cfg.DynamoDBEndpoint)
	list(CtxInterfaceEndpoints, &cfg.InterfaceEndpoints)
	if slices.Equal(cfg.InterfaceEndpoints, []string{"all"}) {
		cfg.InterfaceEndpoints = slices.Clone(interfaceEndpointNames)
	}
	if slices.Equal(cfg.InterfaceEndpoints, []string{"none"}) {
		cfg.InterfaceEndpoints = nil
	}
	str(CtxDomainName, &cfg.DomainName)
	str(CtxCertificateARN, &cfg.CertificateARN)
	str(CtxMTLSTruststoreURI, &cfg.MTLSTruststoreURI)
	str(CtxMTLSTruststoreVersion, &cfg.MTLSTruststoreVersion)
	boolean(CtxDisableExecuteAPIEndpoint, &cfg.DisableExecuteAPIEndpoint)
	num(CtxPollRateLimit, &cfg.PollRateLimit)
	num(CtxPollBurstLimit, &cfg.PollBurstLimit)
	num(CtxChangeRateLimit, &cfg.ChangeRateLimit)
	num(CtxChangeBurstLimit, &cfg.ChangeBurstLimit)
	integer(CtxAPIReservedConcurrency, &cfg.APIReservedConcurrency)
	integer(CtxStepMaxConcurrency, &cfg.StepMaxConcurrency)
	boolean(CtxTracing, &cfg.Tracing)
	boolean(CtxTerminationProtection, &cfg.TerminationProtection)

	var rate string
	switch v := get(CtxCatalogRate).(type) {
	case nil:
	case float64:
		rate = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		rate = strings.TrimSpace(v)
	default:
		errs = append(errs, fmt.Errorf("context %s: want minutes or a duration such as 10m, got %v", CtxCatalogRate, v))
	}
	if rate != "" {
		d, err := parseRate(rate)
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s: %w", CtxCatalogRate, err))
		} else {
			cfg.CatalogRate = d
		}
	}

	// Values that did not parse kept their (valid) defaults: Validate reports the
	// rest, so that one run lists every problem.
	if err := errors.Join(append(errs, cfg.Validate())...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseRate reads a catalog rate: a whole number of minutes ("5") or a Go duration
// of whole minutes ("10m", "1h").
func parseRate(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Minute, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither minutes nor a duration such as 10m", s)
	}
	return d, nil
}

var (
	// secretARNPattern is the form of a complete Secrets Manager secret ARN, with the
	// six characters Secrets Manager appends to the name: IAM matches the ARN exactly.
	secretARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`)
	// topicARNPattern is the form of an SNS topic ARN.
	topicARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$`)
	// namespacePattern is the form of a CloudWatch namespace.
	namespacePattern = regexp.MustCompile(`^[A-Za-z0-9._/#:-]{1,255}$`)
	// stackNamePattern is the form of a CloudFormation stack name.
	stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	// Forms of EC2 ids.
	vpcIDPattern        = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDPattern     = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	securityGroupIDPat  = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	routeTableIDPattern = regexp.MustCompile(`^rtb-[0-9a-f]{8,17}$`)
	// certificateARNPattern is the form of an ACM certificate ARN.
	certificateARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	// domainNamePattern is the form of a DNS name (lowercase, at least two labels).
	domainNamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	// truststorePattern is the form of an S3 URI of a truststore: s3://bucket/key.
	truststorePattern = regexp.MustCompile(`^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$`)
)

// interfaceEndpointNames are the interface endpoints the stack can create, by the
// service name's last part: Step Functions (the api and catalog functions start and
// describe executions), Secrets Manager (every function's cold start), CloudWatch
// Logs and X-Ray.
var interfaceEndpointNames = []string{"states", "secretsmanager", "logs", "xray"}

// SecretARNPattern is secretARNPattern's source, the AllowedPattern of the secret ARN
// parameters.
var SecretARNPattern = secretARNPattern.String()

// logLevels are the accepted LogLevel values.
var logLevels = []string{"debug", "info", "warn", "error"}

// Validate checks the configuration.
//
// Errors: every invalid value, each naming its context key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("context %s: "+format, append([]any{key}, args...)...))
	}
	if !stackNamePattern.MatchString(c.StackName) {
		bad(CtxStackName, "%q is not a CloudFormation stack name", c.StackName)
	}
	if c.AssetDir == "" {
		bad(CtxAssetDir, "empty")
	}
	if c.CloudifyURL != "" {
		u, err := url.Parse(c.CloudifyURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			bad(CtxCloudifyURL, "%q is not an http(s) URL", c.CloudifyURL)
		case u.Scheme == "http" && !c.AllowInsecureCloudify:
			bad(CtxCloudifyURL, "%q is plain http: use https, or set %s=true", c.CloudifyURL, CtxAllowInsecureCloudify)
		}
	}
	if c.CABundleSecretARN != "" && !secretARNPattern.MatchString(c.CABundleSecretARN) {
		bad(CtxCABundleSecretARN, "%q is not the complete ARN of a Secrets Manager secret", c.CABundleSecretARN)
	}
	if c.CABundleFile != "" {
		if err := checkPEMFile(c.CABundleFile); err != nil {
			bad(CtxCABundleFile, "%v", err)
		}
	}
	c.validateNetwork(bad)
	c.validateDomain(bad)
	for key, n := range map[string]float64{CtxPollRateLimit: c.PollRateLimit, CtxChangeRateLimit: c.ChangeRateLimit} {
		if n <= 0 {
			bad(key, "%v is not a positive number of requests per second", n)
		}
	}
	for key, n := range map[string]float64{CtxPollBurstLimit: c.PollBurstLimit, CtxChangeBurstLimit: c.ChangeBurstLimit} {
		if n < 1 || n != float64(int(n)) {
			bad(key, "%v is not a positive whole number", n)
		}
	}
	for key, n := range map[string]int{CtxAPIReservedConcurrency: c.APIReservedConcurrency, CtxStepMaxConcurrency: c.StepMaxConcurrency} {
		if n < 0 {
			bad(key, "%d is negative", n)
		}
	}
	for key, arn := range map[string]string{
		CtxCloudifySecretARN: c.CloudifySecretARN,
		CtxBrokerSecretARN:   c.BrokerSecretARN,
		CtxSealKeySecretARN:  c.SealKeySecretARN,
	} {
		if arn != "" && !secretARNPattern.MatchString(arn) {
			bad(key, "%q is not the complete ARN of a Secrets Manager secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX)", arn)
		}
	}
	if c.AlarmTopicARN != "" && !topicARNPattern.MatchString(c.AlarmTopicARN) {
		bad(CtxAlarmTopicARN, "%q is not an SNS topic ARN", c.AlarmTopicARN)
	}
	if c.MetricsNamespace != "" && (!namespacePattern.MatchString(c.MetricsNamespace) || strings.HasPrefix(c.MetricsNamespace, "AWS/")) {
		bad(CtxMetricsNamespace, "%q is not a custom CloudWatch namespace", c.MetricsNamespace)
	}
	if c.CatalogRate < time.Minute || c.CatalogRate%time.Minute != 0 {
		bad(CtxCatalogRate, "%v is not a whole number of minutes, at least one", c.CatalogRate)
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		bad(CtxLogRetentionDays, "%d is not a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)", c.LogRetentionDays)
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		bad(CtxLogLevel, "%q: use debug, info, warn or error", c.LogLevel)
	}
	if c.APIRateLimit <= 0 {
		bad(CtxAPIRateLimit, "%v is not a positive number of requests per second", c.APIRateLimit)
	}
	if c.APIBurstLimit < 1 || c.APIBurstLimit != float64(int(c.APIBurstLimit)) {
		bad(CtxAPIBurstLimit, "%v is not a positive whole number", c.APIBurstLimit)
	}
	if c.DefaultDeadline != "" {
		if d, err := time.ParseDuration(c.DefaultDeadline); err != nil || d <= 0 {
			bad(CtxDefaultDeadline, "%q is not a positive duration such as 2h", c.DefaultDeadline)
		} else if err := broker.CheckDeadline(d); err != nil {
			bad(CtxDefaultDeadline, "%v", err)
		} else if loops := historyLoops(c, d); loops*eventsPerLoop > historyBudget {
			bad(CtxDefaultDeadline, "%s would take up to %d loops of the state machine at %s polling (%d history events; at most %d fit): shorten it or raise %s", d, loops, pollMaxOf(c), loops*eventsPerLoop, historyBudget, CtxPollMaxSeconds)
		}
	}
	for key, n := range map[string]int{
		CtxPollMinSeconds:    c.PollMinSeconds,
		CtxPollMaxSeconds:    c.PollMaxSeconds,
		CtxSweepStaleSeconds: c.SweepStaleSeconds,
		CtxStepInlineWait:    c.StepInlineWaitSeconds,
		CtxStepInlineBudget:  c.StepInlineBudgetSeconds,
	} {
		if n < 0 {
			bad(key, "%d is negative", n)
		}
	}
	if c.PollMinSeconds > 0 && c.PollMaxSeconds > 0 && c.PollMinSeconds > c.PollMaxSeconds {
		bad(CtxPollMinSeconds, "%d exceeds %s %d", c.PollMinSeconds, CtxPollMaxSeconds, c.PollMaxSeconds)
	}
	if c.StepInlineBudgetSeconds > maxStepInlineBudgetSeconds {
		bad(CtxStepInlineBudget, "%d exceeds %d seconds", c.StepInlineBudgetSeconds, maxStepInlineBudgetSeconds)
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// metricsNamespace returns MetricsNamespace or its default.
func (c Config) metricsNamespace() string {
	if c.MetricsNamespace != "" {
		return c.MetricsNamespace
	}
	return "cfybroker/" + c.StackName
}

// validateNetwork checks the VPC settings.
func (c Config) validateNetwork(bad func(key, format string, args ...any)) {
	ids := func(key string, list []string, p *regexp.Regexp, kind string) {
		for _, id := range list {
			if !p.MatchString(id) {
				bad(key, "%q is not a %s id", id, kind)
			}
		}
	}
	ids(CtxSubnetIDs, c.SubnetIDs, subnetIDPattern, "subnet")
	ids(CtxSecurityGroupIDs, c.SecurityGroupIDs, securityGroupIDPat, "security group")
	ids(CtxRouteTableIDs, c.RouteTableIDs, routeTableIDPattern, "route table")
	for _, e := range c.InterfaceEndpoints {
		if !slices.Contains(interfaceEndpointNames, e) {
			bad(CtxInterfaceEndpoints, "%q: use %s, all or none", e, strings.Join(interfaceEndpointNames, ", "))
		}
	}
	if c.VPCID == "" {
		for key, set := range map[string]bool{
			CtxSubnetIDs: len(c.SubnetIDs) > 0, CtxSecurityGroupIDs: len(c.SecurityGroupIDs) > 0,
			CtxRouteTableIDs: len(c.RouteTableIDs) > 0, CtxInterfaceEndpoints: len(c.InterfaceEndpoints) > 0,
		} {
			if set {
				bad(key, "set without %s", CtxVPCID)
			}
		}
		return
	}
	if !vpcIDPattern.MatchString(c.VPCID) {
		bad(CtxVPCID, "%q is not a VPC id", c.VPCID)
	}
	if len(c.SubnetIDs) == 0 {
		bad(CtxSubnetIDs, "required with %s: the private subnets of the functions", CtxVPCID)
	}
	if c.DynamoDBEndpoint && len(c.RouteTableIDs) == 0 {
		bad(CtxRouteTableIDs, "required with %s for the DynamoDB gateway endpoint (or set %s=false)", CtxVPCID, CtxDynamoDBEndpoint)
	}
}

// validateDomain checks the custom domain settings.
func (c Config) validateDomain(bad func(key, format string, args ...any)) {
	if c.DomainName == "" {
		for key, set := range map[string]bool{
			CtxCertificateARN: c.CertificateARN != "", CtxMTLSTruststoreURI: c.MTLSTruststoreURI != "",
			CtxDisableExecuteAPIEndpoint: c.DisableExecuteAPIEndpoint,
		} {
			if set {
				bad(key, "set without %s", CtxDomainName)
			}
		}
		return
	}
	if !domainNamePattern.MatchString(c.DomainName) {
		bad(CtxDomainName, "%q is not a DNS name", c.DomainName)
	}
	if !certificateARNPattern.MatchString(c.CertificateARN) {
		bad(CtxCertificateARN, "%q is not an ACM certificate ARN (required with %s)", c.CertificateARN, CtxDomainName)
	}
	if c.MTLSTruststoreURI != "" && !truststorePattern.MatchString(c.MTLSTruststoreURI) {
		bad(CtxMTLSTruststoreURI, "%q is not s3://BUCKET/KEY", c.MTLSTruststoreURI)
	}
	if c.MTLSTruststoreVersion != "" && c.MTLSTruststoreURI == "" {
		bad(CtxMTLSTruststoreVersion, "set without %s", CtxMTLSTruststoreURI)
	}
}

// checkPEMFile checks that path is a file holding at least one PEM certificate.
func checkPEMFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return fmt.Errorf("%s holds no PEM certificate", path)
		}
		if block.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return nil
		}
	}
}

// cloudifyPort returns the port of CloudifyURL when it names one other than 443,
// or 0.
func (c Config) cloudifyPort() int {
	u, err := url.Parse(c.CloudifyURL)
	if err != nil || c.CloudifyURL == "" {
		return 0
	}
	port := u.Port()
	if port == "" {
		if u.Scheme == "http" {
			return 80
		}
		return 0
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 443 {
		return 0
	}
	return n
}
