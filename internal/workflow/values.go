package workflow

import (
	"context"
	"fmt"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// Values reads deployments' evaluated capabilities and outputs for bindings; it
// implements broker.CredentialsReader.
type Values struct {
	Cloudify *cloudify.Client
}

var _ broker.CredentialsReader = Values{}

// DeploymentValues returns the deployment's capabilities and outputs. Managers without
// the capabilities endpoint (before 4.5.5) give no capabilities.
//
// Errors: broker EUnavailable when the manager cannot be reached, EUnprocessable when
// the deployment is gone.
func (v Values) DeploymentValues(ctx context.Context, deploymentID string) (map[string]any, map[string]any, error) {
	caps, err := v.Cloudify.DeploymentCapabilities(ctx, deploymentID)
	if err != nil && !cloudify.IsRouteNotFound(err) {
		return nil, nil, valuesError(deploymentID, err)
	}
	outs, err := v.Cloudify.DeploymentOutputs(ctx, deploymentID)
	if err != nil {
		return nil, nil, valuesError(deploymentID, err)
	}
	return caps, outs, nil
}

func valuesError(deploymentID string, err error) error {
	switch {
	case retryable(err):
		return &broker.Error{Code: broker.EUnavailable, Message: "the Cloudify manager cannot be reached; try again", Err: err}
	case cloudify.IsNotFound(err):
		return &broker.Error{Code: broker.EUnprocessable, Message: fmt.Sprintf("deployment %s is not on the manager", deploymentID), Err: err}
	default:
		return &broker.Error{Code: broker.EUnprocessable, Message: "Cloudify could not evaluate the deployment's values: " + cloudifyMessage(err), Err: err}
	}
}
