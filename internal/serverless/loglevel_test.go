package serverless_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/serverless"
)

// lambdaLevels ranks the levels of Lambda's application log filter.
var lambdaLevels = map[string]int{"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}

// lambdaKeeps applies Lambda's application log-level filter (JSON log format) to one
// line the function wrote: the line's "level" (any case) decides; a line that is not
// a JSON object, or has no valid level, counts as INFO. It keeps the line when that
// level is at or above appLevel.
func lambdaKeeps(line, appLevel string) bool {
	level := "INFO"
	var v map[string]any
	if json.Unmarshal([]byte(line), &v) == nil {
		if s, ok := v["level"].(string); ok {
			if _, valid := lambdaLevels[strings.ToUpper(s)]; valid {
				level = strings.ToUpper(s)
			}
		}
	}
	return lambdaLevels[level] >= lambdaLevels[appLevel]
}

// TestMetricsSurviveLogLevel runs the functions' logger and metrics as Lambda runs
// them (JSON log format, AWS_LAMBDA_LOG_LEVEL set to the application log level the
// stack gives Lambda, LOG_LEVEL the deployment's level) in a child process, and puts
// what it writes through Lambda's log-level filter: at every level the metrics reach
// CloudWatch, and the log records are those of the level.
func TestMetricsSurviveLogLevel(t *testing.T) {
	if os.Getenv("CFYBROKER_LOGLEVEL_CHILD") != "" {
		cfg, err := serverless.ConfigFromEnv(os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		log := serverless.NewLogger(cfg)
		log.Debug("debug record")
		log.Info("info record")
		log.Warn("warn record")
		log.Error("error record")
		m := serverless.NewMetrics(os.Stdout, "ns", nil)
		now := time.Now()
		m.OperationEnded(broker.Operation{ID: "op", Type: broker.OpProvision, State: broker.StateFailed,
			Description: "install failed", CreatedAt: now.Add(-time.Minute), EndedAt: now}, true)
		return
	}
	for _, level := range []string{"debug", "info", "warn", "error"} {
		t.Run(level, func(t *testing.T) {
			app := serverless.LambdaApplicationLogLevel(level)
			cmd := exec.Command(os.Args[0], "-test.run=^TestMetricsSurviveLogLevel$", "-test.count=1")
			cmd.Env = append(os.Environ(), "CFYBROKER_LOGLEVEL_CHILD=1",
				"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL="+app, serverless.EnvLogLevel+"="+level)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var kept, metricLines int
			records := map[string]bool{}
			for _, line := range strings.Split(string(out), "\n") {
				if !strings.HasPrefix(line, "{") {
					continue // the test framework's own lines
				}
				isMetric := strings.Contains(line, `"_aws"`)
				if isMetric {
					metricLines++
				}
				if !lambdaKeeps(line, app) {
					if isMetric {
						t.Errorf("Lambda at %s drops a metric line: %s", app, line)
					}
					continue
				}
				kept++
				var v struct{ Message string }
				_ = json.Unmarshal([]byte(line), &v)
				records[v.Message] = true
				// Without the function's own filter, Lambda at WARN would drop the
				// metric: the reason the stack keeps Lambda at INFO.
				if isMetric && lambdaKeeps(line, "WARN") {
					t.Errorf("a metric line carries a level Lambda would keep at WARN; the test's model is off: %s", line)
				}
			}
			if metricLines < 3 {
				t.Errorf("%d metric lines, want the 3 of a failed operation:\n%s", metricLines, out)
			}
			rank := map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3}
			for i, rec := range []string{"debug record", "info record", "warn record", "error record"} {
				if want := i >= rank[level]; records[rec] != want {
					t.Errorf("LOG_LEVEL=%s: record %q reaches CloudWatch: %v, want %v", level, rec, records[rec], want)
				}
			}
		})
	}
}

// TestPastDeadlineWording guards the OperationsPastDeadline metric against drift:
// Metrics.OperationEnded counts a failed operation as past its deadline when its
// description starts "timed out:", the wording of internal/workflow's engine and of
// the sweep. If this fails, change the prefix in metrics.go with the wording.
func TestPastDeadlineWording(t *testing.T) {
	for _, pattern := range []string{"../workflow/*.go", "../workflow/sfn/*.go"} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources at %s: %v", pattern, err)
		}
		var found bool
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found = found || strings.Contains(string(b), `"timed out: `)
		}
		if !found {
			t.Errorf("%s no longer fails operations as \"timed out: ...\", which the past-deadline metric relies on", pattern)
		}
	}
}
