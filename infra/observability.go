package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/cfybroker/cfybroker/internal/serverless"
)

// MetricOperationsPastDeadline is the metric, in the stack's metrics namespace, that
// the log metric filters count: operations that ended as timed out, failed either
// by the step function (Cloudify did not finish within the plan's deadline) or by
// the catalog function's sweep (no driver left at the deadline).
const MetricOperationsPastDeadline = "OperationsPastDeadline"

// pastDeadlinePattern matches the "operation ended" record that internal/workflow
// logs (JSON, at info) for an operation failed as timed out; the functions' log
// format is JSON and Lambda's slog handler names the message "message".
const pastDeadlinePattern = `{ ($.message = "operation ended") && ($.state = "failed") && ($.description = "timed out:*") }`

// newObservability defines the log metric filters, the alarms (optionally notifying
// Config.AlarmTopicARN) and the dashboard, which it returns.
func (s *BrokerStack) newObservability() awscloudwatch.Dashboard {
	ns := s.Config.metricsNamespace()
	period := awscdk.Duration_Minutes(jsii.Number(5)) // of every alarm and graph
	for _, name := range []string{FunctionAPI, FunctionStep, FunctionCatalog} {
		awslogs.NewMetricFilter(s.Stack, jsii.String(constructID(name)+"PastDeadlineFilter"), &awslogs.MetricFilterProps{
			LogGroup:        s.LogGroups[name],
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(pastDeadlinePattern)),
			MetricNamespace: jsii.String(ns),
			MetricName:      jsii.String(MetricOperationsPastDeadline),
			MetricValue:     jsii.String("1"),
		})
	}
	sum := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}
	custom := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(ns), MetricName: jsii.String(name), Period: period, Statistic: jsii.String("Sum"),
		})
	}
	labelled := func(m awscloudwatch.Metric, label string) awscloudwatch.IMetric {
		return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
	}
	// The alarm's metric has no label: a labelled metric makes a metric-math alarm.
	pastDeadline := custom(MetricOperationsPastDeadline)

	var topic awssns.ITopic
	if s.Config.AlarmTopicARN != "" {
		topic = awssns.Topic_FromTopicArn(s.Stack, jsii.String("AlarmTopic"), jsii.String(s.Config.AlarmTopicARN))
	}
	var alarms []awscloudwatch.Alarm
	alarm := func(id, desc string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(desc),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
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
	alarm("ExecutionsFailedAlarm", "Operations state machine executions failed: an operation failed in Cloudify, or its step kept faulting (see the execution's error).", sm.MetricFailed(sum))
	alarm("ExecutionsTimedOutAlarm", "Operations state machine executions hit their timeout backstop.", sm.MetricTimedOut(sum))
	fns := []struct {
		id string
		fn awslambda.Function
	}{{"Api", s.API}, {"Step", s.Step}, {"Catalog", s.Catalog}}
	for _, f := range fns {
		alarm(f.id+"ErrorsAlarm", "The "+f.id+" function returned errors.", f.fn.MetricErrors(sum))
		alarm(f.id+"ThrottlesAlarm", "The "+f.id+" function was throttled.", f.fn.MetricThrottles(sum))
	}
	alarm("Api5xxAlarm", "The broker API answered with 5xx.", s.HTTPAPI.MetricServerError(sum))
	alarm("OperationsPastDeadlineAlarm", "Operations failed as timed out: past their deadline.", pastDeadline)

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
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(6)),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{alarmStatus},
			{
				graph("API requests", 8, s.HTTPAPI.MetricCount(sum), s.HTTPAPI.MetricClientError(sum), s.HTTPAPI.MetricServerError(sum)),
				graph("API latency p99 (ms)", 8, s.HTTPAPI.MetricLatency(p99), s.HTTPAPI.MetricIntegrationLatency(p99)),
				graph("Operations state machine", 8, sm.MetricStarted(sum), sm.MetricSucceeded(sum), sm.MetricFailed(sum),
					sm.MetricTimedOut(sum), sm.MetricAborted(sum)),
			},
			{
				graph("Function invocations", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricInvocations(sum) })...),
				graph("Function errors", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricErrors(sum) })...),
				graph("Function throttles", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricThrottles(sum) })...),
				graph("Function duration p99 (ms)", 6, perFn(func(f awslambda.Function) awscloudwatch.IMetric { return f.MetricDuration(p99) })...),
			},
			{
				graph("Operations by type", 8,
					search(serverless.MetricOperationsStarted, serverless.DimOperationType, "started"),
					search(serverless.MetricOperationsSucceeded, serverless.DimOperationType, "succeeded"),
					search(serverless.MetricOperationsFailed, serverless.DimOperationType, "failed")),
				graph("Operations past their deadline; sweep", 8,
					labelled(pastDeadline, "past their deadline"),
					labelled(custom(serverless.MetricSweepRestarted), "restarted by the sweep"),
					labelled(custom(serverless.MetricSweepFailed), "failed by the sweep"),
					search(serverless.MetricStartFailures, serverless.DimOperationType, "StartExecution failures")),
				graph("Cloudify errors by error code", 8,
					search(serverless.MetricCloudifyErrors, serverless.DimErrorCode, "")),
			},
			{
				graph("Table capacity", 12, s.Table.MetricConsumedReadCapacityUnits(sum), s.Table.MetricConsumedWriteCapacityUnits(sum)),
				graph("Table conditional check failures (concurrent writes)", 12, s.Table.MetricConditionalCheckFailedRequests(sum)),
			},
		},
	})
}
