package serverless

import (
	"context"
	"errors"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/osb"
	"github.com/cfybroker/cfybroker/internal/workflow"
	"github.com/cfybroker/cfybroker/internal/workflow/sfn"
)

// APIHandler is the api function: an API Gateway request, HTTP API payload 2.0 or
// REST API (payload 1.0), answered by the OSB handler.
type APIHandler func(ctx context.Context, req core.SwitchableAPIGatewayRequest) (*core.SwitchableAPIGatewayResponse, error)

// NewAPIHandler builds the api function: it reads the broker, Cloudify and sealing
// secrets (once, now), and wires the DynamoDB store, the Step Functions starter and
// the Cloudify client into the broker's use cases and the OSB HTTP handler.
//
// It requires the settings CLOUDIFY_URL, STATE_MACHINE_ARN, BROKER_SECRET_ARN,
// CLOUDIFY_SECRET_ARN and SEAL_KEY_SECRET_ARN, and deps.Store, deps.StepFunctions and
// deps.Secrets.
//
// Errors: a missing setting or dependency, a secret that cannot be read or parsed.
func NewAPIHandler(ctx context.Context, cfg Config, deps Deps) (APIHandler, error) {
	h, err := NewOSBHandler(ctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	v1, v2 := httpadapter.New(h), httpadapter.NewV2(h)
	return func(ctx context.Context, req core.SwitchableAPIGatewayRequest) (*core.SwitchableAPIGatewayResponse, error) {
		if r := req.Version2(); r != nil {
			resp, err := v2.ProxyWithContext(ctx, *r)
			return core.NewSwitchableAPIGatewayResponseV2(&resp), err
		}
		if r := req.Version1(); r != nil {
			resp, err := v1.ProxyWithContext(ctx, *r)
			return core.NewSwitchableAPIGatewayResponseV1(&resp), err
		}
		return nil, errors.New("serverless: the event is neither an API Gateway payload 1.0 nor 2.0 request")
	}, nil
}

// NewOSBHandler builds the http.Handler that NewAPIHandler adapts (see there).
func NewOSBHandler(ctx context.Context, cfg Config, deps Deps) (http.Handler, error) {
	p, err := build(ctx, cfg, deps, secretSet{broker: true, cloudify: true, sealKey: true},
		EnvCloudifyURL, EnvStateMachineARN, EnvBrokerSecretARN, EnvCloudifySecretARN, EnvSealKeySecretARN)
	if err != nil {
		return nil, err
	}
	if deps.StepFunctions == nil {
		return nil, errors.New("serverless: no Step Functions client")
	}
	starter := &meteredStarter{next: sfn.NewStarter(deps.StepFunctions, cfg.StateMachineARN), metrics: p.metrics}
	uc := broker.New(p.deps.Store, p.deps.Store, starter, workflow.Values{Cloudify: p.cloudify}, p.sealer, broker.Config{
		DashboardURL:    cfg.dashboard(),
		DefaultDeadline: cfg.DefaultDeadline,
		Now:             p.deps.Now,
		NewID:           p.deps.NewID,
		Logger:          p.log,
	})
	return osb.NewHandler(uc, osb.Config{Credentials: p.secrets.Broker, Logger: p.log, Now: p.deps.Now}), nil
}

// meteredStarter counts the operations handed to the state machine.
type meteredStarter struct {
	next    broker.Starter
	metrics *Metrics
}

// Start starts the operation's execution and counts it.
func (s *meteredStarter) Start(ctx context.Context, op broker.Operation) error {
	if err := s.next.Start(ctx, op); err != nil {
		s.metrics.StartFailed(op)
		return err
	}
	s.metrics.OperationStarted(op)
	return nil
}
