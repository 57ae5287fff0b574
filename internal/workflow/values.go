package workflow

import (
	"context"
	"encoding/json"
	"errors"
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

// BindingSecret returns the credentials a bind workflow left in the Cloudify secret
// key: a JSON object.
//
// Errors: one matching broker.ErrNotFound when there is no such secret; broker
// EUnavailable when the manager cannot be reached; EUnprocessable when the value is
// not a JSON object (the message never shows the value).
func (v Values) BindingSecret(ctx context.Context, key string) (map[string]any, error) {
	s, err := v.Cloudify.GetSecret(ctx, key)
	switch {
	case err == nil:
	case cloudify.IsNotFound(err):
		return nil, fmt.Errorf("secret %s: %w", key, broker.ErrNotFound)
	case retryable(err):
		return nil, &broker.Error{Code: broker.EUnavailable, Message: "the Cloudify manager cannot be reached; try again", Err: err}
	default:
		return nil, &broker.Error{Code: broker.EUnprocessable, Message: fmt.Sprintf("Cloudify refused to read secret %s: %s", key, cloudifyMessage(err)), Err: err}
	}
	creds, err := decodeCredentials(s.Value)
	if err != nil {
		return nil, &broker.Error{Code: broker.EUnprocessable, Message: fmt.Sprintf("secret %s does not hold credentials: %v", key, err)}
	}
	return creds, nil
}

// decodeCredentials reads a binding secret's value: a JSON object. The error names
// what is wrong without quoting the value.
func decodeCredentials(value string) (map[string]any, error) {
	if value == "" {
		return nil, errors.New("its value is empty (or hidden from the broker's user)")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(value), &m); err != nil || m == nil {
		return nil, errors.New("its value is not a JSON object")
	}
	return m, nil
}
