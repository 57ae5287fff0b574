package serverless

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/store/dynamostore"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// Store is the broker state the functions use; *dynamostore.Table implements it.
type Store interface {
	broker.Store
	broker.CatalogStore
	broker.OperationLister
}

// Deps are the outside systems a function talks to. NewAWSDeps builds the real ones;
// tests pass fakes or clients of local stand-ins.
type Deps struct {
	// Store keeps broker state. Required.
	Store Store
	// StepFunctions starts and describes executions. Required by the api and catalog
	// functions.
	StepFunctions sfn.API
	// Secrets reads the secrets of Config at cold start. Required.
	Secrets SecretsAPI
	// HTTPClient talks to the Cloudify manager; nil takes the cloudify package's
	// default (with its timeouts).
	HTTPClient *http.Client
	// Logger is the function's one logger; nil: NewLogger(cfg).
	Logger *slog.Logger
	// MetricsOutput receives the EMF lines; nil: standard output.
	MetricsOutput io.Writer
	// Now tells the time; nil: time.Now.
	Now func() time.Time
	// NewID makes operation ids (broker.Config.NewID); nil: random UUIDs.
	NewID func() string
	// Sleep waits d, or until ctx is done (then it returns ctx's error): the step
	// function's sleeps between the steps of one invocation. Nil: a timer. Tests and
	// benchmarks on a manual clock pass one that advances it (and Now with it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// withDefaults fills the optional fields.
func (d Deps) withDefaults(cfg Config) Deps {
	if d.Logger == nil {
		d.Logger = NewLogger(cfg)
	}
	if d.MetricsOutput == nil {
		d.MetricsOutput = os.Stdout
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Sleep == nil {
		d.Sleep = sleep
	}
	return d
}

// sleep is the default Deps.Sleep: a timer that gives up when ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// metrics returns the EMF emitter of the deps.
func (d Deps) metrics(cfg Config) *Metrics {
	return NewMetrics(d.MetricsOutput, cfg.MetricsNamespace, d.Now)
}

// NewAWSDeps builds the AWS clients from the default configuration chain (the
// Lambda environment's region and role; AWS_ENDPOINT_URL_DYNAMODB, _SFN and
// _SECRETS_MANAGER point them elsewhere, as the local tests do) and the DynamoDB
// store on cfg.TableName. It makes no request.
func NewAWSDeps(ctx context.Context, cfg Config) (Deps, error) {
	if err := cfg.require(EnvTableName); err != nil {
		return Deps{}, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Deps{}, fmt.Errorf("serverless: aws config: %w", err)
	}
	return Deps{
		Store:         dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName),
		StepFunctions: awssfn.NewFromConfig(awsCfg),
		Secrets:       secretsmanager.NewFromConfig(awsCfg),
	}, nil
}
