package serverless

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// Metric names, in the namespace of Config.MetricsNamespace.
const (
	// MetricOperationsStarted counts operations handed to the state machine, by
	// OperationType, ServiceID and PlanID.
	MetricOperationsStarted = "OperationsStarted"
	// MetricOperationsSucceeded and MetricOperationsFailed count ended operations, by
	// the same dimensions.
	MetricOperationsSucceeded = "OperationsSucceeded"
	MetricOperationsFailed    = "OperationsFailed"
	// MetricOperationSteps is the steps an ended operation took; MetricOperationDuration
	// the time from its request to its end (milliseconds).
	MetricOperationSteps    = "OperationSteps"
	MetricOperationDuration = "OperationDuration"
	// MetricDetectionDelay is the time from Cloudify ending an operation's last
	// execution to the broker recording the end, which is when last_operation says so
	// (milliseconds).
	MetricDetectionDelay = "DetectionDelay"
	// MetricStepDuration is the time one step took (milliseconds).
	MetricStepDuration = "StepDuration"
	// MetricCloudifyErrors counts step faults from the manager, by ErrorCode (the
	// manager's error_code, "http_<status>" for answers without one, "unreachable"
	// for transport failures).
	MetricCloudifyErrors = "CloudifyErrors"
	// MetricStartFailures counts StartExecution calls that failed (the sweep restarts
	// those operations), in all (no dimension) and by OperationType.
	MetricStartFailures = "StartFailures"
	// MetricDriverFailures counts operations failed by the state machine: its Catch
	// gave up on a step (retries exhausted, or an error not retried) and the step
	// function marked the operation failed. A broker fault: it pages.
	MetricDriverFailures = "DriverFailures"
	// MetricUserFailures counts operations that failed in Cloudify (an install,
	// update or uninstall workflow that failed, a blueprint's inputs the manager
	// refused): the user's problem, not the broker's. In all and by OperationType.
	MetricUserFailures = "UserFailures"
	// MetricOperationsPastDeadline counts operations the step function failed as
	// timed out: Cloudify did not finish within the plan's deadline.
	MetricOperationsPastDeadline = "OperationsPastDeadline"
	// MetricSweepRestarted and MetricSweepFailed count what the sweep did.
	MetricSweepRestarted = "SweepRestarted"
	MetricSweepFailed    = "SweepFailed"
)

// Dimension names.
const (
	DimOperationType = "OperationType"
	DimServiceID     = "ServiceID"
	DimPlanID        = "PlanID"
	DimErrorCode     = "ErrorCode"
)

// Metrics writes CloudWatch metrics in the Embedded Metric Format: one JSON object
// per line on its writer (the function's standard output, which Lambda sends to
// CloudWatch Logs, where the metrics are extracted). It makes no API call. It is safe
// for concurrent use; a nil *Metrics discards everything.
type Metrics struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// NewMetrics returns a Metrics writing to w in the namespace; now defaults to
// time.Now.
func NewMetrics(w io.Writer, namespace string, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	return &Metrics{w: w, namespace: namespace, now: now}
}

// Value is one metric value with its CloudWatch unit ("Count", "Milliseconds", ...).
type Value struct {
	Name  string
	Unit  string
	Value float64
}

// emfMetric and emfDirective are the _aws member of an EMF line.
type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit,omitempty"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

// Emit writes one EMF line: the values, the dimensions (dims maps each dimension
// name to its value; every dimension set in sets must be made of names in dims) and
// extra properties (searchable in the logs, not dimensions, such as operation_id).
// Write errors are ignored: metrics never fail a request.
func (m *Metrics) Emit(dims map[string]string, sets [][]string, props map[string]any, values ...Value) {
	if m == nil || m.w == nil || len(values) == 0 {
		return
	}
	if sets == nil {
		sets = [][]string{{}}
	}
	line := make(map[string]any, len(dims)+len(props)+len(values)+1)
	for k, v := range props {
		line[k] = v
	}
	for k, v := range dims {
		line[k] = v
	}
	ms := make([]emfMetric, len(values))
	for i, v := range values {
		ms[i] = emfMetric{Name: v.Name, Unit: v.Unit}
		line[v.Name] = v.Value
	}
	line["_aws"] = map[string]any{
		"Timestamp":         m.now().UnixMilli(),
		"CloudWatchMetrics": []emfDirective{{Namespace: m.namespace, Dimensions: sets, Metrics: ms}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(b)
}

// operationDims are the dimensions of an operation's metrics.
func operationDims(op broker.Operation) (map[string]string, [][]string) {
	return map[string]string{
			DimOperationType: string(op.Type),
			DimServiceID:     op.ServiceID,
			DimPlanID:        op.PlanID,
		}, [][]string{
			{DimOperationType},
			{DimOperationType, DimServiceID, DimPlanID},
		}
}

// OperationStarted counts an operation handed to the state machine.
func (m *Metrics) OperationStarted(op broker.Operation) {
	dims, sets := operationDims(op)
	m.Emit(dims, sets, map[string]any{"operation_id": op.ID, "instance_id": op.InstanceID},
		Value{MetricOperationsStarted, "Count", 1})
}

// StartFailed counts a failed StartExecution.
func (m *Metrics) StartFailed(op broker.Operation) {
	m.Emit(map[string]string{DimOperationType: string(op.Type)}, [][]string{{}, {DimOperationType}},
		map[string]any{"operation_id": op.ID, "instance_id": op.InstanceID},
		Value{MetricStartFailures, "Count", 1})
}

// pastDeadlinePrefix starts the description of an operation failed past its
// deadline (internal/workflow and the sweep write it).
const pastDeadlinePrefix = "timed out:"

// OperationEnded counts an ended operation and records its steps, duration and
// detection delay. A failed operation is also counted by its cause: byDriver (the
// state machine gave up on it: DriverFailures), past its deadline
// (OperationsPastDeadline), or else failed in Cloudify (UserFailures).
func (m *Metrics) OperationEnded(op broker.Operation, byDriver bool) {
	dims, sets := operationDims(op)
	name := MetricOperationsSucceeded
	if op.State == broker.StateFailed {
		name = MetricOperationsFailed
	}
	props := map[string]any{"operation_id": op.ID, "instance_id": op.InstanceID, "deployment_id": op.DeploymentID, "state": string(op.State)}
	m.Emit(dims, sets, props, Value{name, "Count", 1})
	if op.State == broker.StateFailed {
		typ := map[string]string{DimOperationType: string(op.Type)}
		switch {
		case byDriver:
			m.Emit(typ, [][]string{{}, {DimOperationType}}, props, Value{MetricDriverFailures, "Count", 1})
		case strings.HasPrefix(op.Description, pastDeadlinePrefix):
			m.Emit(typ, [][]string{{}, {DimOperationType}}, props, Value{MetricOperationsPastDeadline, "Count", 1})
		default:
			m.Emit(typ, [][]string{{}, {DimOperationType}}, props, Value{MetricUserFailures, "Count", 1})
		}
	}
	values := []Value{
		{MetricOperationSteps, "Count", float64(op.Steps)},
		{MetricOperationDuration, "Milliseconds", float64(op.EndedAt.Sub(op.CreatedAt).Milliseconds())},
	}
	if !op.CloudifyEndedAt.IsZero() {
		// The manager's clock and ours may differ a little: a negative delay is 0.
		delay := max(op.EndedAt.Sub(op.CloudifyEndedAt), 0)
		values = append(values, Value{MetricDetectionDelay, "Milliseconds", float64(delay.Milliseconds())})
	}
	m.Emit(map[string]string{DimOperationType: string(op.Type)}, [][]string{{DimOperationType}}, props, values...)
}

// StepRan records one step's duration.
func (m *Metrics) StepRan(operationID string, d time.Duration) {
	m.Emit(nil, nil, map[string]any{"operation_id": operationID}, Value{MetricStepDuration, "Milliseconds", float64(d.Milliseconds())})
}

// CloudifyError counts a step fault from the manager.
func (m *Metrics) CloudifyError(code, operationID string) {
	m.Emit(map[string]string{DimErrorCode: code}, [][]string{{DimErrorCode}},
		map[string]any{"operation_id": operationID}, Value{MetricCloudifyErrors, "Count", 1})
}

// Swept records what a sweep did.
func (m *Metrics) Swept(restarted, failed int) {
	m.Emit(nil, nil, nil, Value{MetricSweepRestarted, "Count", float64(restarted)}, Value{MetricSweepFailed, "Count", float64(failed)})
}
