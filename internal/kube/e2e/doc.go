// Package e2e holds the end-to-end tests of `cfybroker controller`, the Kubernetes
// controller that drives cfybroker (or any OSB 2.17 broker) from ServiceInstance and
// ServiceBinding objects of the group servicecatalog.cfybroker.io/v1beta1.
//
// The package has no code of its own: everything is in its _test.go files. The first
// test builds the cfybroker binary and starts, as subprocesses (TestMain stops them):
//
//   - `cfybroker dev cloudify-sim`: the Cloudify manager simulator with the sample
//     blueprints, in its own process so that the broker can be killed and restarted
//     without losing the manager's deployments (the built-in simulator of `serve` lives
//     and dies with the broker);
//   - `cfybroker serve`: the broker, on a free loopback port, with a temporary data
//     directory, against that simulator;
//   - `cfybroker controller`: against the API server named by KUBECONFIG.
//
// It applies the CRDs of infra/kubernetes/crd and registers one ClusterServiceBroker
// (named e2e) for the broker's catalog. Every test works in its own namespace
// (e2e-<test>-<random>). One run at a time per API server: a run first removes what an
// interrupted run left (objects in e2e-* namespaces, brokers named e2e*). Other suites'
// objects are theirs to guard (internal/kube/controller installs an admission policy).
//
// The tests need a real kube-apiserver and etcd: start them with `make local-k8s`
// (.ci/local-k8s.sh start) and export the KUBECONFIG it prints. Without one the tests
// skip, or fail when the environment variable CI is set. The suite runs for several
// minutes on a small machine; give it room:
//
//	eval "$(bash .ci/local-k8s.sh start)"
//	go test -count=1 -v -timeout 30m ./internal/kube/e2e/
//
// Lines of the form `FIGURE name=value` in the verbose output are measurements for
// people (apply-to-ready time, broker requests per lifecycle), never pass/fail criteria.
// On failure the tails of the subprocesses' logs are printed, with known secrets
// redacted, and the logs are kept in the work directory the output names.
package e2e
