package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/cfybroker/cfybroker/internal/serverless"
)

// Alarm ids: each one is a broker fault that pages, with a runbook line in the
// README ("Alarms"). A failure the user caused (an install that fails in Cloudify)
// is a metric and a dashboard panel, never an alarm.
const (
	AlarmDriverFailures    = "DriverFailuresAlarm"
	AlarmExecutionsTimeout = "ExecutionsTimedOutAlarm"
	AlarmStartFailures     = "StartFailuresAlarm"
	AlarmLostOperations    = "LostOperationsAlarm"
	AlarmTableThrottles    = "TableThrottlesAlarm"
	AlarmAPI5xxRate        = "Api5xxRateAlarm"
	AlarmAPIThrottles      = "ApiThrottlesAlarm"
	AlarmStepThrottles     = "StepThrottlesAlarm"
	AlarmCatalogErrors     = "CatalogErrorsAlarm"
)

// Alarms lists the stack's alarm ids.
var Alarms = []string{AlarmDriverFailures, AlarmExecutionsTimeout, AlarmStartFailures, AlarmLostOperations,
	AlarmTableThrottles, AlarmAPI5xxRate, AlarmAPIThrottles, AlarmStepThrottles, AlarmCatalogErrors}

// api5xxPercent is the share of the API's answers that may be 5xx over 5 minutes
// (with at least api5xxMinRequests requests) before Api5xxRateAlarm fires.
const (
	api5xxPercent     = 5
	api5xxMinRequests = 20
)

// tableOperations are the DynamoDB operations the functions call, whose throttles
// TableThrottlesAlarm counts.
var tableOperations = []awsdynamodb.Operation{
	awsdynamodb.Operation_GET_ITEM, awsdynamodb.Operation_PUT_ITEM, awsdynamodb.Operation_UPDATE_ITEM,
	awsdynamodb.Operation_DELETE_ITEM, awsdynamodb.Operation_QUERY, awsdynamodb.Operation_TRANSACT_WRITE_ITEMS,
}

// newObservability defines the alarms (optionally notifying Config.AlarmTopicARN)
// and the dashboard, which it returns. Every custom metric comes from the
// functions' Embedded Metric Format lines, which reach CloudWatch whatever the log
// level (serverless.LambdaApplicationLogLevel).
func (s *BrokerStack) newObservability() awscloudwatch.Dashboard {
	ns := s.Config.metricsNamespace()
	period := awscdk.Duration_Minutes(jsii.Number(5)) // of every alarm and graph
	sum := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}
	// custom is a metric of the functions, in all (no dimension).
	custom := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(ns), MetricName: jsii.String(name), Period: period, Statistic: jsii.String("Sum"),
		})
	}
	labelled := func(m awscloudwatch.IMetric, label string) awscloudwatch.IMetric {
		if mm, ok := m.(awscloudwatch.Metric); ok {
			return mm.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
		}
		return m
	}
	math := func(expr string, using map[string]awscloudwatch.IMetric, label string) awscloudwatch.MathExpression {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(expr), UsingMetrics: &using, Period: period, Label: jsii.String(label),
		})
	}

	var topic awssns.ITopic
	if s.Config.AlarmTopicARN != "" {
		topic = awssns.Topic_FromTopicArn(s.Stack, jsii.String("AlarmTopic"), jsii.String(s.Config.AlarmTopicARN))
	}
	var alarms []awscloudwatch.Alarm
	// alarm fires when metric reaches threshold in periods of the last periods
	// 5-minute periods; no data is fine.
	alarm := func(id, desc string, metric awscloudwatch.IMetric, threshold float64, periods int) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(desc + " Runbook: README.md, section Alarms, " + id + "."),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			DatapointsToAlarm:  jsii.Number(float64(periods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if topic != nil {
			a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
			a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
		}
		alarms = append(alarms, a)
	}
	sm := s.StateMachine
	restarted, sweptFailed := custom(serverless.MetricSweepRestarted), custom(serverless.MetricSweepFailed)
	apiCount, api5xx := s.HTTPAPI.MetricCount(sum), s.HTTPAPI.MetricServerError(sum)

	alarm(AlarmDriverFailures, "The state machine gave up on operations (retries exhausted, or an error not retried) and failed them.",
		custom(serverless.MetricDriverFailures), 1, 1)
	alarm(AlarmExecutionsTimeout, "Operations state machine executions hit their 3-day backstop.", sm.MetricTimedOut(sum), 1, 1)
	alarm(AlarmStartFailures, "StartExecution failed: operations accepted but not started (the sweep restarts them).",
		custom(serverless.MetricStartFailures), 1, 1)
	alarm(AlarmLostOperations, "The sweep found operations that had lost their execution, and restarted or failed them.",
		math("FILL(restarted, 0) + FILL(failed, 0)", map[string]awscloudwatch.IMetric{"restarted": restarted, "failed": sweptFailed},
			"operations restarted or failed by the sweep"), 1, 1)
	alarm(AlarmTableThrottles, "DynamoDB throttled the broker's requests.",
		s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
			Operations: &tableOperations, Period: period, Statistic: jsii.String("Sum"),
		}), 1, 1)
	alarm(AlarmAPI5xxRate, fmt.Sprintf("At least %d%% of the API's answers were 5xx (of %d requests or more).", api5xxPercent, api5xxMinRequests),
		math(fmt.Sprintf("IF(FILL(requests, 0) >= %d, 100 * FILL(errors, 0) / requests, 0)", api5xxMinRequests),
			map[string]awscloudwatch.IMetric{"requests": apiCount, "errors": api5xx}, "5xx answers (%)"), api5xxPercent, 1)
	alarm(AlarmAPIThrottles, "The api function was throttled at its reserved concurrency: requests refused.",
		s.API.MetricThrottles(sum), 1, 1)
	alarm(AlarmStepThrottles, "The step function was throttled at its cap for 15 minutes: more operations in flight than it allows.",
		s.Step.MetricThrottles(sum), 1, 3)
	alarm(AlarmCatalogErrors, "The catalog function failed three runs in a row: the catalog is stale and lost operations are not swept.",
		s.Catalog.MetricErrors(sum), 1, 3)

	// search graphs every dimension value of an embedded metric (the namespace is
	// quoted: it may hold a slash).
	search := func(metric, dim, label string) awscloudwatch.IMetric {
		p := &awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(`SEARCH('{"` + ns + `",` + dim + `} MetricName="` + metric + `"', 'Sum', 300)`),
			Period:       period,
			UsingMetrics: &map[string]awscloudwatch.IMetric{},
		}
		if label != "" {
			p.Label = jsii.String(label)
		}
		return awscloudwatch.NewMathExpression(p)
	}
	graph := func(title string, width float64, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: &left,
		})
	}
	p99 := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("p99")}
	fns := []struct {
		id string
		fn awslambda.Function
	}{{"Api", s.API}, {"Step", s.Step}, {"Catalog", s.Catalog}}
	perFn := func(m func(awslambda.Function) awscloudwatch.IMetric) []awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for _, f := range fns {
			out = append(out, m(f.fn))
		}
		return out
	}
	alarmRefs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		alarmRefs[i] = a
	}
	alarmStatus := awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title: jsii.String("Alarms"), Width: jsii.Number(24), Height: jsii.Number(4), Alarms: &alarmRefs,
	})
	return awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(s.Config.StackName),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(6)),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{alarmStatus},
			{
				graph("API requests", 8, s.HTTPAPI.MetricCount(sum), s.HTTPAPI.MetricClientError(sum), s.HTTPAPI.MetricServerError(sum)),
				graph("API latency p99 (ms)", 8, s.HTTPAPI.MetricLatency(p99), s.HTTPAPI.MetricIntegrationLatency(p99)),
				graph("Operations state machine (failed: user and broker failures)", 8, sm.MetricStarted(sum), sm.MetricSucceeded(sum),
					sm.MetricFailed(sum), sm.MetricTimedOut(sum), sm.MetricAborted(sum)),
			},
			{
				graph("Function invocations", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricInvocations(sum) })...),
				graph("Function errors (step: retried faults)", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricErrors(sum) })...),
				graph("Function throttles", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricThrottles(sum) })...),
				graph("Function duration p99 (ms)", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricDuration(p99) })...),
			},
			{
				graph("Operations by type", 6,
					search(serverless.MetricOperationsStarted, serverless.DimOperationType, "started"),
					search(serverless.MetricOperationsSucceeded, serverless.DimOperationType, "succeeded"),
					search(serverless.MetricOperationsFailed, serverless.DimOperationType, "failed")),
				graph("Failed operations by cause (user: not an alarm)", 6,
					labelled(custom(serverless.MetricUserFailures), "failed in Cloudify (user)"),
					labelled(custom(serverless.MetricOperationsPastDeadline), "past their deadline"),
					labelled(custom(serverless.MetricDriverFailures), "failed by the broker")),
				graph("Sweep; StartExecution failures", 6,
					labelled(restarted, "restarted by the sweep"),
					labelled(sweptFailed, "failed by the sweep"),
					labelled(custom(serverless.MetricStartFailures), "StartExecution failures")),
				graph("Cloudify errors by error code (retried)", 6,
					search(serverless.MetricCloudifyErrors, serverless.DimErrorCode, "")),
			},
			{
				graph("Table capacity", 8, s.Table.MetricConsumedReadCapacityUnits(sum), s.Table.MetricConsumedWriteCapacityUnits(sum)),
				graph("Table conditional check failures (concurrent writes)", 8, s.Table.MetricConditionalCheckFailedRequests(sum)),
				graph("Table throttles", 8, labelled(s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
					Operations: &tableOperations, Period: period, Statistic: jsii.String("Sum"),
				}), "throttled requests")),
			},
		},
	})
}
