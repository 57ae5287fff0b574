package sfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/workflow"
)

// API is the part of the Step Functions client that this package uses;
// *sfn.Client of aws-sdk-go-v2 satisfies it.
//
// StartExecution fails with *types.ExecutionAlreadyExists when an execution of that
// name exists with another input or has ended; DescribeExecution fails with
// *types.ExecutionDoesNotExist for an unknown execution ARN. Other errors are faults.
type API interface {
	StartExecution(ctx context.Context, in *awssfn.StartExecutionInput, optFns ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *awssfn.DescribeExecutionInput, optFns ...func(*awssfn.Options)) (*awssfn.DescribeExecutionOutput, error)
}

// Starter hands operations to the state machine; it implements broker.Starter.
type Starter struct {
	client API
	arn    string
}

var _ broker.Starter = (*Starter)(nil)

// NewStarter returns a Starter that starts executions of the state machine with the
// ARN. It makes no request.
func NewStarter(client API, stateMachineARN string) *Starter {
	return &Starter{client: client, arn: stateMachineARN}
}

// StateMachineARN returns the ARN of the state machine the Starter starts.
func (s *Starter) StateMachineARN() string { return s.arn }

// Start starts the execution named after the operation id (attempt 0 of
// ExecutionName), with input {"operation_id": op.ID}. An execution of that name that
// exists already (running, or ended) counts as started: Start is idempotent.
//
// Errors: any error means the execution may not have started; the operation stays
// recorded and the Sweeper starts it later.
func (s *Starter) Start(ctx context.Context, op broker.Operation) error {
	_, err := s.start(ctx, op.ID, 0)
	return err
}

// start starts attempt n of the operation's executions and returns its ARN.
func (s *Starter) start(ctx context.Context, operationID string, attempt int) (string, error) {
	name := ExecutionName(operationID, attempt)
	input, err := json.Marshal(workflow.TaskInput{OperationID: operationID})
	if err != nil {
		return "", fmt.Errorf("sfn: start %s: encode input: %w", name, err)
	}
	out, err := s.client.StartExecution(ctx, &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(s.arn),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	})
	var exists *types.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		return ExecutionARN(s.arn, name), nil
	case err != nil:
		return "", fmt.Errorf("sfn: start %s: %w", name, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// status returns the status of the named execution; found is false when there is no
// such execution.
func (s *Starter) status(ctx context.Context, name string) (status types.ExecutionStatus, found bool, err error) {
	out, err := s.client.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(ExecutionARN(s.arn, name))})
	var missing *types.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("sfn: describe %s: %w", name, err)
	}
	return out.Status, true, nil
}

// MaxExecutionNameLength is the longest execution name Step Functions accepts.
const MaxExecutionNameLength = 80

// ExecutionName returns the name of an operation's execution: the operation id for
// attempt 0, then "<operation id>-r<attempt>" for the restarts of the Sweeper. An id
// that would give a name Step Functions refuses (longer than 80 characters, or
// holding a character outside letters, digits, '-' and '_') is replaced by
// "op-" and the first 32 hex digits of its SHA-256, which keeps names unique and
// stable.
func ExecutionName(operationID string, attempt int) string {
	suffix := ""
	if attempt > 0 {
		suffix = "-r" + strconv.Itoa(attempt)
	}
	base := operationID
	if base == "" || len(base)+len(suffix) > MaxExecutionNameLength || strings.IndexFunc(base, badNameRune) >= 0 {
		sum := sha256.Sum256([]byte(operationID))
		base = "op-" + hex.EncodeToString(sum[:16])
	}
	return base + suffix
}

func badNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// ExecutionARN returns the ARN of the named execution of a state machine:
// arn:<partition>:states:<region>:<account>:execution:<state machine name>:<name>.
// An ARN that is not a state machine's gives "<arn>:<name>".
func ExecutionARN(stateMachineARN, name string) string {
	const marker = ":stateMachine:"
	if i := strings.Index(stateMachineARN, marker); i >= 0 {
		return stateMachineARN[:i] + ":execution:" + stateMachineARN[i+len(marker):] + ":" + name
	}
	return stateMachineARN + ":" + name
}
