package serverless

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Config is the functions' configuration, read from the environment by
// ConfigFromEnv. It holds no secret: secrets are named by ARN and read at cold start
// (see LoadSecrets).
type Config struct {
	// TableName is the DynamoDB table of broker state (TABLE_NAME).
	TableName string
	// StateMachineARN is the operations state machine (STATE_MACHINE_ARN); the api
	// function starts executions of it, the catalog function's sweep restarts them.
	StateMachineARN string
	// CloudifyURL is the manager's URL, e.g. https://manager (CLOUDIFY_URL).
	CloudifyURL string
	// CloudifyTenant is the tenant (CLOUDIFY_TENANT, default default_tenant).
	CloudifyTenant string
	// CloudifySecretARN names the secret holding the Cloudify credentials, JSON
	// {"username": ..., "password": ...} or {"token": ...} (CLOUDIFY_SECRET_ARN).
	CloudifySecretARN string
	// BrokerSecretARN names the secret holding the broker's Basic-auth credentials,
	// JSON {"credentials": [{"username": ..., "password": ...}, ...]}; several pairs
	// may be valid at once, for rotation (BROKER_SECRET_ARN).
	BrokerSecretARN string
	// SealKeySecretARN names the secret holding the 32-byte sealing key, hex-encoded
	// (SEAL_KEY_SECRET_ARN).
	SealKeySecretARN string
	// CloudifyCABundleSecretARN names a secret holding PEM CA certificates the
	// Cloudify client trusts besides the system's: a manager whose certificate a
	// private CA issued (CLOUDIFY_CA_BUNDLE_SECRET_ARN).
	CloudifyCABundleSecretARN string
	// CloudifyCABundle is a PEM file of such certificates, shipped with the function;
	// a relative path is relative to the function's directory, LAMBDA_TASK_ROOT
	// (CLOUDIFY_CA_BUNDLE). Either or both may be set.
	CloudifyCABundle string
	// DashboardURL is the dashboard_url template; {manager} and {deployment_id} are
	// replaced (DASHBOARD_URL, default {manager}/console/deployments/{deployment_id};
	// "none" gives no dashboard_url).
	DashboardURL string
	// LogLevel is debug, info, warn or error (LOG_LEVEL). Empty leaves the level to
	// the Lambda log configuration (AWS_LAMBDA_LOG_LEVEL, default info). The
	// functions filter their records themselves at LOG_LEVEL, so that Lambda's own
	// filter can stay at LambdaApplicationLogLevel, which keeps the metrics.
	LogLevel string
	// DefaultDeadline bounds operations of plans without maximum_polling_duration
	// (DEFAULT_DEADLINE, a Go duration, default 2h).
	DefaultDeadline time.Duration
	// PollMin and PollMax bound the wait between two looks at a running Cloudify
	// execution (POLL_MIN_SECONDS, default 2; POLL_MAX_SECONDS, default 60).
	PollMin, PollMax time.Duration
	// StaleAfter is how long an operation may go unlooked at before the catalog
	// function's sweep checks on its execution (SWEEP_STALE_SECONDS, default 300).
	StaleAfter time.Duration
	// MetricsNamespace is the CloudWatch namespace of the embedded metrics
	// (METRICS_NAMESPACE, default cfybroker).
	MetricsNamespace string
	// StepInlineWait is the longest wait the step function sleeps itself before
	// stepping again in the same invocation, instead of answering it to the state
	// machine, whose Wait loop costs three state transitions
	// (STEP_INLINE_WAIT_SECONDS, default 30; 0 answers every wait, one step per
	// invocation).
	StepInlineWait time.Duration
	// StepInlineBudget is the most one invocation of the step function sleeps in all
	// (STEP_INLINE_BUDGET_SECONDS, default 40; 0 also answers every wait). The
	// function's timeout must leave room for it and the steps (see NewStepHandler).
	StepInlineBudget time.Duration
	// CloudifyCallTimeout bounds each call to the manager (CLOUDIFY_CALL_TIMEOUT_SECONDS,
	// default 20, under the api function's 25-second timeout). Each call also ends
	// CallReserve before the invocation's deadline, so that a hung manager gives a
	// StepFault or an OSB error, never a Lambda timeout.
	CloudifyCallTimeout time.Duration
}

// CallReserve is the time a call to the manager leaves before the invocation's
// deadline, for the function to record and answer.
const CallReserve = 3 * time.Second

// Environment variable names of Config.
const (
	EnvTableName           = "TABLE_NAME"
	EnvStateMachineARN     = "STATE_MACHINE_ARN"
	EnvCloudifyURL         = "CLOUDIFY_URL"
	EnvCloudifyTenant      = "CLOUDIFY_TENANT"
	EnvCloudifySecretARN   = "CLOUDIFY_SECRET_ARN"
	EnvBrokerSecretARN     = "BROKER_SECRET_ARN"
	EnvSealKeySecretARN    = "SEAL_KEY_SECRET_ARN"
	EnvCABundleSecretARN   = "CLOUDIFY_CA_BUNDLE_SECRET_ARN"
	EnvCABundle            = "CLOUDIFY_CA_BUNDLE"
	EnvDashboardURL        = "DASHBOARD_URL"
	EnvLogLevel            = "LOG_LEVEL"
	EnvDefaultDeadline     = "DEFAULT_DEADLINE"
	EnvPollMinSeconds      = "POLL_MIN_SECONDS"
	EnvPollMaxSeconds      = "POLL_MAX_SECONDS"
	EnvSweepStaleSeconds   = "SWEEP_STALE_SECONDS"
	EnvMetricsNamespace    = "METRICS_NAMESPACE"
	EnvStepInlineWait      = "STEP_INLINE_WAIT_SECONDS"
	EnvStepInlineBudget    = "STEP_INLINE_BUDGET_SECONDS"
	EnvCloudifyCallTimeout = "CLOUDIFY_CALL_TIMEOUT_SECONDS"
)

// Defaults of the step function's inline loop (Config.StepInlineWait and
// StepInlineBudget): at 128 MB (arm64), sleeping a second costs about $0.0000017 and a
// loop of the state machine $0.000075, so sleeping waits of up to 40 s is the cheaper.
const (
	DefaultStepInlineWait   = 30 * time.Second
	DefaultStepInlineBudget = 40 * time.Second
)

// ConfigFromEnv reads Config from the environment through getenv (os.Getenv in a
// main), applying the defaults. It checks the values' form only; each function's
// constructor checks that what it needs is set.
//
// Errors: a malformed number, duration or log level, naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		TableName:                 get(EnvTableName, ""),
		StateMachineARN:           get(EnvStateMachineARN, ""),
		CloudifyURL:               get(EnvCloudifyURL, ""),
		CloudifyTenant:            get(EnvCloudifyTenant, "default_tenant"),
		CloudifySecretARN:         get(EnvCloudifySecretARN, ""),
		BrokerSecretARN:           get(EnvBrokerSecretARN, ""),
		SealKeySecretARN:          get(EnvSealKeySecretARN, ""),
		CloudifyCABundleSecretARN: get(EnvCABundleSecretARN, ""),
		CloudifyCABundle:          get(EnvCABundle, ""),
		DashboardURL:              get(EnvDashboardURL, "{manager}/console/deployments/{deployment_id}"),
		LogLevel:                  get(EnvLogLevel, ""),
		MetricsNamespace:          get(EnvMetricsNamespace, "cfybroker"),
	}
	var errs []error
	seconds := func(k string, def int) time.Duration {
		v := get(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive whole number of seconds", k, v))
			return time.Duration(def) * time.Second
		}
		return time.Duration(n) * time.Second
	}
	cfg.PollMin = seconds(EnvPollMinSeconds, 2)
	cfg.PollMax = seconds(EnvPollMaxSeconds, 60)
	cfg.StaleAfter = seconds(EnvSweepStaleSeconds, 300)
	cfg.CloudifyCallTimeout = seconds(EnvCloudifyCallTimeout, 20)
	// The inline loop's settings may be 0 (off).
	nonNegative := func(k string, def time.Duration) time.Duration {
		v := get(k, strconv.Itoa(int(def/time.Second)))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number of seconds, 0 or more", k, v))
			return def
		}
		return time.Duration(n) * time.Second
	}
	cfg.StepInlineWait = nonNegative(EnvStepInlineWait, DefaultStepInlineWait)
	cfg.StepInlineBudget = nonNegative(EnvStepInlineBudget, DefaultStepInlineBudget)
	if v := get(EnvDefaultDeadline, "2h"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 2h", EnvDefaultDeadline, v))
		} else if err := broker.CheckDeadline(d); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvDefaultDeadline, err))
		}
		cfg.DefaultDeadline = d
	}
	if cfg.LogLevel != "" {
		if _, err := parseLevel(cfg.LogLevel); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvLogLevel, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("serverless: config: %w", err)
	}
	return cfg, nil
}

// require checks that the named settings are set.
func (c Config) require(names ...string) error {
	values := map[string]string{
		EnvTableName:         c.TableName,
		EnvStateMachineARN:   c.StateMachineARN,
		EnvCloudifyURL:       c.CloudifyURL,
		EnvCloudifySecretARN: c.CloudifySecretARN,
		EnvBrokerSecretARN:   c.BrokerSecretARN,
		EnvSealKeySecretARN:  c.SealKeySecretARN,
	}
	var missing []string
	for _, n := range names {
		if values[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("serverless: config: %s not set", strings.Join(missing, ", "))
	}
	return nil
}

// dashboard returns the dashboard_url function of broker.Config, or nil.
func (c Config) dashboard() func(string) string {
	if c.DashboardURL == "" || c.DashboardURL == "none" {
		return nil
	}
	manager := strings.TrimRight(c.CloudifyURL, "/")
	return func(deploymentID string) string {
		return strings.NewReplacer("{manager}", manager, "{deployment_id}", deploymentID).Replace(c.DashboardURL)
	}
}

// LambdaApplicationLogLevel is the application log level to give Lambda's log
// filter (its ApplicationLogLevel, in Lambda's spelling) for a function whose
// LOG_LEVEL is level. Lambda reads the "level" of every JSON line the function
// writes and drops the lines under its level; a line without one counts as INFO.
// The Embedded Metric Format lines carry no level, so at WARN or ERROR Lambda would
// drop every metric: Lambda filters at INFO (DEBUG for debug) and the function's
// logger applies LOG_LEVEL itself (see NewLogger). An invalid level gives INFO.
func LambdaApplicationLogLevel(level string) string {
	if lv, err := parseLevel(level); err == nil && lv < slog.LevelInfo {
		return "DEBUG"
	}
	return "INFO"
}

func parseLevel(s string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return lv, nil
}
