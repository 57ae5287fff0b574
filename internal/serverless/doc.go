// Package serverless wires the broker for AWS Lambda: the configuration read from the
// environment, the secrets read from Secrets Manager at cold start, the logger and the
// embedded metrics, and one constructor per function:
//
//   - NewAPIHandler: the api function, API Gateway (HTTP API payload 2.0, or REST API
//     payload 1.0) in front of the OSB handler of internal/osb, over the DynamoDB
//     store, starting operations on the Step Functions state machine;
//   - NewStepHandler: the step function, the state machine's task (one workflow step
//     of one operation, or marking it failed);
//   - NewCatalogHandler: the scheduled function, which rebuilds the catalog from the
//     manager and sweeps operations whose driver was lost.
//
// The mains under functions/ read Config with ConfigFromEnv, build Deps with
// NewAWSDeps, call the constructor and hand the result to lambda.Start. Tests call the
// same constructors with fakes, or with clients of local stand-ins (the AWS SDK
// honours AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SFN and
// AWS_ENDPOINT_URL_SECRETS_MANAGER). There is no test-only way into the secrets: the
// end-to-end test serves GetSecretValue from a small stand-in and points the functions
// at it with AWS_ENDPOINT_URL_SECRETS_MANAGER.
//
// Logs are JSON lines through Lambda's slog handler, with the keys request_id,
// instance_id, operation_id, deployment_id, execution_id (a Cloudify execution) and
// sfn_execution_id (a Step Functions execution). Metrics are Embedded Metric Format
// lines on standard output (see Metrics); nothing calls the CloudWatch API.
package serverless
