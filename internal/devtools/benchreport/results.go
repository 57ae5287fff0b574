package benchreport

// The files that `make bench` writes into its results directory (bin/bench by
// default) and that bench-report reads: one JSON document per
// measurement, written by the bench tests (cmd/cfybroker/bench_*_test.go and
// internal/workflow/polling_bench_test.go), plus the text output of the Go benchmarks.
const (
	FileHandler   = "handler.txt"    // go test -bench output (internal/broker, internal/osb)
	FilePolling   = "polling.json"   // internal/workflow TestBenchPolling
	FileASL       = "asl.json"       // the state machine definition (internal/workflow/sfn)
	FileLoad      = "load.json"      // TestBenchLoad
	FileLifecycle = "lifecycle.json" // TestBenchLifecycle
	FileColdStart = "coldstart.json" // TestBenchColdStart
	FileScale     = "scale.json"     // TestBenchScale
	FileMachine   = "machine.json"   // TestBenchLoad (what the run ran on)
	PlotPolling   = "benchmarks-polling.png"
)

// Machine describes where the figures were measured.
type Machine struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	LoadAvg    string `json:"load_avg"` // /proc/loadavg when the load test started
	When       string `json:"when"`     // RFC 3339, UTC
}

// LoadResult is the loopback load test of the embedded broker against a bare
// net/http handler answering a body of the same size, in the same run.
type LoadResult struct {
	Concurrency  int            `json:"concurrency"`
	RoundSeconds float64        `json:"round_seconds"`
	MaxRequests  int            `json:"max_requests_per_round"`
	Endpoints    []LoadEndpoint `json:"endpoints"`
}

// LoadEndpoint is one endpoint's rounds.
type LoadEndpoint struct {
	Name      string `json:"name"` // catalog, last_operation
	Path      string `json:"path"`
	BodyBytes int    `json:"body_bytes"`
	// Broker and Bare are the rounds, run alternately (broker first in odd rounds,
	// bare first in even ones).
	Broker []LoadRound `json:"broker"`
	Bare   []LoadRound `json:"bare"`
	// CloudifyCalls is what the simulator counted during the broker's rounds.
	CloudifyCalls int `json:"cloudify_calls"`
}

// LoadRound is one round of requests on one server.
type LoadRound struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

// LifecycleResult is the AWS shape's code (the api and step functions'
// handlers, internal/serverless) driven through whole lifecycles on the simulator's
// manual clock, the platform polling last_operation at a fixed interval.
type LifecycleResult struct {
	// Store is what held the state: "DynamoDB Local" or, without it, "bbolt".
	Store string `json:"store"`
	// DynamoMeasured is false when DynamoDB Local was not reachable: the DynamoDB
	// counts are then absent, not zero.
	DynamoMeasured bool   `json:"dynamo_measured"`
	DynamoNote     string `json:"dynamo_note,omitempty"`
	// PlatformPollSeconds is the platform's last_operation interval.
	PlatformPollSeconds int `json:"platform_poll_seconds"`
	PollMinSeconds      int `json:"poll_min_seconds"`
	PollMaxSeconds      int `json:"poll_max_seconds"`
	// InlineWaitSeconds and InlineBudgetSeconds are the step function's inline loop
	// settings of Runs (its defaults, as deployed).
	InlineWaitSeconds   int `json:"inline_wait_seconds"`
	InlineBudgetSeconds int `json:"inline_budget_seconds"`
	// Runs are the lifecycles as deployed; Baseline the same lifecycles with the
	// inline loop off (STEP_INLINE_WAIT_SECONDS=0: one step per invocation, every
	// wait a loop of the state machine), as the step function was before it.
	Runs     []LifecycleRun `json:"runs"`
	Baseline []LifecycleRun `json:"baseline"`
	// Variants are the 10-minute lifecycle with other inline loop settings.
	Variants []LifecycleVariant `json:"variants"`
}

// LifecycleVariant is a lifecycle with other settings of the step function.
type LifecycleVariant struct {
	Label               string       `json:"label"`
	InlineWaitSeconds   int          `json:"inline_wait_seconds"`
	InlineBudgetSeconds int          `json:"inline_budget_seconds"`
	Run                 LifecycleRun `json:"run"`
}

// LifecycleRun is one lifecycle: its requests, its operations' steps and their
// Cloudify calls.
type LifecycleRun struct {
	InstallSeconds   int `json:"install_seconds"`
	UninstallSeconds int `json:"uninstall_seconds"`
	// Requests are the OSB requests, by kind (catalog, provision, last_operation,
	// bind, unbind, deprovision), in the order first seen.
	Requests []Counted `json:"requests"`
	// Operations are the step function's invocations for each asynchronous operation
	// (provision, deprovision).
	Operations []OperationSteps `json:"operations"`
	// CloudifyRoutes are the Cloudify calls of the whole lifecycle, by route.
	CloudifyRoutes map[string]int `json:"cloudify_routes"`
	// ProvisionDetectionSeconds: Cloudify ending the install → the operation
	// recorded succeeded; ProvisionVisibleSeconds: → the platform's poll that saw it.
	ProvisionDetectionSeconds float64 `json:"provision_detection_seconds"`
	ProvisionVisibleSeconds   float64 `json:"provision_visible_seconds"`
	LifecycleSeconds          float64 `json:"lifecycle_seconds"`
	// UnnamedPolls are the same last_operation polls sent again without their
	// operation (a platform ignoring OSB's operation field), with the same answers:
	// what they cost, apart from Requests and the lifecycle's costs.
	UnnamedPolls *Counted `json:"unnamed_polls,omitempty"`
}

// Counted counts what a kind of request (or step) caused.
type Counted struct {
	Kind           string         `json:"kind"`
	Count          int            `json:"count"`
	CloudifyCalls  int            `json:"cloudify_calls"`
	CloudifyRoutes map[string]int `json:"cloudify_routes,omitempty"`
	DynamoReads    int64          `json:"dynamo_reads"`
	DynamoWrites   int64          `json:"dynamo_writes"`
	ReadUnits      float64        `json:"read_units"`
	WriteUnits     float64        `json:"write_units"`
}

// OperationSteps is what the step function did for one operation. Count (of
// Counted) is its invocations, and the counts are theirs, sleeps aside (the
// platform's polls during a sleep count as requests).
type OperationSteps struct {
	Counted
	// Steps is the workflow steps (Engine.Step runs) of all the invocations.
	Steps int `json:"steps"`
	// SleptSeconds is the time the invocations slept between steps (billed as Lambda
	// duration).
	SleptSeconds int `json:"slept_seconds"`
	// Outputs are the invocations' answers, what the state machine saw, in order.
	Outputs []TaskOutput `json:"outputs"`
	// Invocations say what each invocation did.
	Invocations []Invocation `json:"invocations"`
}

// Invocation is one invocation of the step function.
type Invocation struct {
	Steps        int `json:"steps"`
	SleptSeconds int `json:"slept_seconds"`
	// PhaseFrom and PhaseTo are the operation's phase (the engine's) before and after
	// it ("start" for the first phase; PhaseTo "done" when it ended the operation).
	PhaseFrom string `json:"phase_from"`
	PhaseTo   string `json:"phase_to"`
	// Stopped is why it answered rather than stepping again (the step function's log).
	Stopped     string `json:"stopped"`
	WaitSeconds int    `json:"wait_seconds"`
}

// TaskOutput mirrors workflow.TaskOutput's JSON.
type TaskOutput struct {
	Done        bool   `json:"done"`
	State       string `json:"state"`
	WaitSeconds int    `json:"wait_seconds"`
}

// PollingResult mirrors internal/workflow's polling.json.
type PollingResult struct {
	Runs []PollingRun `json:"runs"`
}

// PollingRun is one install polled with one policy.
type PollingRun struct {
	Policy           string       `json:"policy"` // backoff, fixed-10s
	InstallSeconds   int          `json:"install_seconds"`
	Steps            int          `json:"steps"`
	Outputs          []TaskOutput `json:"outputs"`
	CloudifyTotal    int          `json:"cloudify_total"`
	DetectionSeconds float64      `json:"detection_seconds"`
	ElapsedSeconds   float64      `json:"elapsed_seconds"`
}

// ColdStartResult is the Lambda bootstraps under the runtime interface emulator.
type ColdStartResult struct {
	Measured bool   `json:"measured"`
	Reason   string `json:"reason,omitempty"` // why not measured
	Emulator string `json:"emulator,omitempty"`
	// FirstInvokeNote says what the first invocation did (or why it is absent).
	FirstInvokeNote string              `json:"first_invoke_note,omitempty"`
	Functions       []ColdStartFunction `json:"functions"`
}

// ColdStartFunction is one function's cold starts.
type ColdStartFunction struct {
	Name string `json:"name"` // api, step
	// Arm64Bytes is the size of the bootstrap as deployed (linux/arm64, built like
	// .ci/build-lambdas.sh); HostBytes the one run here.
	Arm64Bytes int64  `json:"arm64_bytes"`
	HostBytes  int64  `json:"host_bytes"`
	HostArch   string `json:"host_arch"`
	Event      string `json:"event"`
	// InitMs are the emulator's INIT REPORT durations, one per cold start.
	InitMs []float64 `json:"init_ms"`
	// FirstInvokeMs is the wall time of each cold start's first invocation, init
	// included; WarmInvokeMs of the invocations after it.
	FirstInvokeMs []float64 `json:"first_invoke_ms"`
	WarmInvokeMs  []float64 `json:"warm_invoke_ms"`
	// RSSKiB is the bootstrap's peak RSS after the warm invocations (VmHWM).
	RSSKiB []int64 `json:"rss_kib,omitempty"`
	Result string  `json:"result"` // what the first invocation answered, in short
}

// ScaleResult is many instances provisioned at once in the embedded shape.
type ScaleResult struct {
	Instances         int     `json:"instances"`
	ClientConcurrency int     `json:"client_concurrency"`
	RunnerConcurrency int     `json:"runner_concurrency"`
	InstallSeconds    float64 `json:"install_seconds"` // simulated
	SimSpeed          float64 `json:"sim_speed"`
	PollMinMs         int64   `json:"poll_min_ms"`
	// AcceptSeconds is until every provision was answered 202; WallSeconds until
	// every instance's last_operation left "in progress".
	AcceptSeconds float64 `json:"accept_seconds"`
	WallSeconds   float64 `json:"wall_seconds"`
	Succeeded     int     `json:"succeeded"`
	Failed        int     `json:"failed"`
	Unfinished    int     `json:"unfinished"`
	Errors        int     `json:"errors"`
	// PeakRSSBytes is the process's VmHWM (broker, simulator and load generator in
	// one process); PeakHeapBytes the largest Go heap seen (sampled).
	PeakRSSBytes     int64  `json:"peak_rss_bytes"`
	PeakHeapBytes    uint64 `json:"peak_heap_bytes"`
	BaselineRSSBytes int64  `json:"baseline_rss_bytes"`
	CloudifyCalls    int    `json:"cloudify_calls"`
	LiveDeployments  int    `json:"live_deployments"`
	LastOperations   int    `json:"last_operation_requests"`
}
