// Package e2eaws holds one end-to-end test: `cfybroker controller` driving the broker's
// AWS shape (the real api and step bootstraps under the Lambda runtime interface
// emulator behind `make run-aws`'s front door, the state machine on the local Step
// Functions engine, DynamoDB Local, the Cloudify simulator) through a whole lifecycle,
// on a Kubernetes control plane of its own (envtest: etcd and kube-apiserver from
// KUBEBUILDER_ASSETS), so that its classes never meet those of other tests.
//
// It needs `make local-aws` and `make local-k8s`; it skips without them, and fails in
// CI.
package e2eaws
