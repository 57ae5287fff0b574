// Package metrics is the embedded broker's Prometheus instrumentation.
//
// New returns a Metrics whose parts plug into the rest of the code from outside, so
// that no other package imports Prometheus:
//
//   - Middleware wraps any http.Handler (the OSB API, the admin API, the probes) and
//     counts requests by route template and status;
//   - Metrics implements workflow.Observer (set it as Engine.Observer) and counts
//     operations and steps;
//   - CloudifyError is a hook for cloudify.WithAPIErrorHook and counts the manager's
//     errors by error_code;
//   - Config.Operations, when set, is read at every scrape for the operations in
//     progress.
//
// Every label has a small, fixed set of values: a route is a template such as
// "PUT /v2/service_instances/:instance_id", never a path with ids; an error_code that
// does not look like one, or that comes after MaxErrorCodes distinct ones, counts as
// "other". No credential, parameter or id reaches a metric.
//
// The metric families:
//
//	cfybroker_http_requests_total{route, code}          counter
//	cfybroker_http_request_duration_seconds{route}      histogram
//	cfybroker_operations_started_total{type}            counter
//	cfybroker_operations_finished_total{type, state}    counter (state: succeeded, failed)
//	cfybroker_operations_in_progress{type}              gauge, read from the store at scrape
//	cfybroker_workflow_steps_total{type, result}        counter (result: waiting, ended, fault)
//	cfybroker_cloudify_errors_total{error_code}         counter
//
// and the Go runtime and process collectors.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// MaxErrorCodes bounds the distinct error_code label values; later ones count as
// "other".
const MaxErrorCodes = 64

// Config configures New. Every field is optional.
type Config struct {
	// Operations, when set, is asked at every scrape for the operations in progress
	// (cfybroker_operations_in_progress). It should be cheap: the embedded store
	// reads an index.
	Operations broker.OperationLister
	// Logger receives a warning when Operations fails during a scrape. Default: discard.
	Logger *slog.Logger
	// Now tells the time, for request durations. Default time.Now.
	Now func() time.Time
}

// Metrics holds the broker's metric families and the registry that serves them.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	started   *prometheus.CounterVec
	finished  *prometheus.CounterVec
	steps     *prometheus.CounterVec
	cfyErrors *prometheus.CounterVec

	mu    sync.Mutex
	codes map[string]bool // error_code values seen, at most MaxErrorCodes

	// routes holds the series of every route label (see routeSeries), made under
	// routesMu at its first request.
	routes   [len(routeMethods) * (len(routeTemplates) + 1)]atomic.Pointer[routeMetrics]
	routesMu sync.Mutex
}

var _ workflow.Observer = (*Metrics)(nil)

// New returns the metrics of one broker process, registered in their own registry
// (not the global one), with the Go and process collectors.
func New(cfg Config) *Metrics {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		now: cfg.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cfybroker_http_requests_total",
			Help: "HTTP requests answered, by route template (method and path pattern) and status code.",
		}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cfybroker_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cfybroker_operations_started_total",
			Help: "Asynchronous operations whose first workflow step ran, by type.",
		}, []string{"type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cfybroker_operations_finished_total",
			Help: "Asynchronous operations that ended, by type and final state (succeeded, failed).",
		}, []string{"type", "state"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cfybroker_workflow_steps_total",
			Help: "Workflow steps run, by operation type and result (waiting: look again later; ended: the operation finished; fault: the step failed and is retried).",
		}, []string{"type", "result"}),
		cfyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cfybroker_cloudify_errors_total",
			Help: "Error answers of the Cloudify manager, by its error_code (none: a non-JSON error body; other: an unexpected or late code).",
		}, []string{"error_code"}),
		codes: map[string]bool{},
	}
	m.reg.MustRegister(m.requests, m.durations, m.started, m.finished, m.steps, m.cfyErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Operations != nil {
		m.reg.MustRegister(&inProgress{ops: cfg.Operations, log: cfg.Logger})
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer returns the registry, for tests and for other exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveStep counts one workflow step (workflow.Observer).
func (m *Metrics) ObserveStep(_ context.Context, r workflow.StepReport) {
	typ := opType(r.Type)
	if r.First && !r.Fault {
		// A first step that faults is attempted again, First again: count the one
		// that went through.
		m.started.WithLabelValues(typ).Inc()
	}
	switch {
	case r.Fault:
		m.steps.WithLabelValues(typ, "fault").Inc()
	case r.Ended:
		m.steps.WithLabelValues(typ, "ended").Inc()
		m.finished.WithLabelValues(typ, opState(r.State)).Inc()
	default:
		m.steps.WithLabelValues(typ, "waiting").Inc()
	}
}

// CloudifyError counts one error answer of the manager; pass it to
// cloudify.WithAPIErrorHook. Only the error_code is read.
func (m *Metrics) CloudifyError(e *cloudify.APIError) {
	if e == nil {
		return
	}
	m.cfyErrors.WithLabelValues(m.errorCode(e.Code)).Inc()
}

// errorCode bounds the error_code label: Cloudify's codes are snake_case words
// ("not_found_error", "maintenance_mode_active"); anything else, or any code after
// MaxErrorCodes distinct ones, is "other".
func (m *Metrics) errorCode(code string) string {
	if code == "" {
		return "none"
	}
	if !isErrorCode(code) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.codes[code] {
		return code
	}
	if len(m.codes) >= MaxErrorCodes {
		return "other"
	}
	m.codes[code] = true
	return code
}

func isErrorCode(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// opType bounds the type label to the broker's operation types.
func opType(t broker.OperationType) string {
	switch t {
	case broker.OpProvision, broker.OpUpdate, broker.OpDeprovision:
		return string(t)
	}
	return "other"
}

// opState bounds the state label to the OSB states.
func opState(s broker.OperationState) string {
	switch s {
	case broker.StateInProgress, broker.StateSucceeded, broker.StateFailed:
		return string(s)
	}
	return "other"
}

// inProgress is the collector of cfybroker_operations_in_progress: it reads the
// store at each scrape, so the gauge is right after a restart too.
type inProgress struct {
	ops broker.OperationLister
	log *slog.Logger
}

var inProgressDesc = prometheus.NewDesc("cfybroker_operations_in_progress",
	"Asynchronous operations in progress in the broker's store, by type.", []string{"type"}, nil)

// Describe sends the one descriptor.
func (c *inProgress) Describe(ch chan<- *prometheus.Desc) { ch <- inProgressDesc }

// Collect counts the active operations by type; every type is present, 0 included.
// When the store fails the family is left out of this scrape (absent, not zero).
func (c *inProgress) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ops, err := c.ops.ActiveOperations(ctx)
	if err != nil {
		c.log.Warn("metrics: cannot list the operations in progress", "error", err)
		return
	}
	counts := map[string]int{string(broker.OpProvision): 0, string(broker.OpUpdate): 0, string(broker.OpDeprovision): 0}
	for _, op := range ops {
		counts[opType(op.Type)]++
	}
	for typ, n := range counts {
		ch <- prometheus.MustNewConstMetric(inProgressDesc, prometheus.GaugeValue, float64(n), typ)
	}
}

// statusLabel is the code label: the three-digit status.
func statusLabel(code int) string {
	if code < 100 || code > 999 {
		return "other"
	}
	return strconv.Itoa(code)
}
