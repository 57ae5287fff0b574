package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cfybroker/cfybroker/internal/kube/controller"
)

// controllerConfig is the configuration of `cfybroker controller`.
type controllerConfig struct {
	Kubeconfig       string
	MetricsAddr      string
	ProbeAddr        string
	LeaderElect      bool
	LeaderNamespace  string
	LeaderID         string
	ClusterID        string
	PollMin, PollMax time.Duration
	BrokerTimeout    time.Duration
	LogLevel         string
	LogFormat        string
}

const controllerLong = `controller runs cfybroker's Kubernetes controller: the platform side of the Open
Service Broker API for a cluster, with the kinds of servicecatalog.cfybroker.io/v1beta1
(ClusterServiceBroker, ClusterServiceClass, ClusterServicePlan, ServiceInstance,
ServiceBinding; install their CRDs from infra/kubernetes/crd first).

A ClusterServiceBroker's catalog becomes ClusterServiceClasses and ClusterServicePlans; a
ServiceInstance is provisioned, updated and deprovisioned through the broker; a
ServiceBinding's credentials are written into a Secret (type servicebinding.io/<type>)
that the controller deletes after the unbind.

Inside a cluster it uses the pod's service account; outside, --kubeconfig or KUBECONFIG.
Run two replicas with --leader-elect: one works, the other waits.`

func newControllerCommand() *cobra.Command {
	var cfg controllerConfig
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Kubernetes controller (service catalog for OSB brokers)",
		Long:  controllerLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd.Context(), cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file (KUBECONFIG; empty: in-cluster configuration)")
	f.StringVar(&cfg.MetricsAddr, "metrics-bind-address", ":8080", `address of the Prometheus metrics endpoint ("0" disables it)`)
	f.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", `address of /healthz and /readyz ("0" disables them)`)
	f.BoolVar(&cfg.LeaderElect, "leader-elect", false, "elect a leader among replicas with a Lease, so that one works at a time")
	f.StringVar(&cfg.LeaderNamespace, "leader-election-namespace", "", `namespace of the Lease (default: the pod's namespace, else "default")`)
	f.StringVar(&cfg.LeaderID, "leader-election-id", "cfybroker-controller", "name of the Lease")
	f.StringVar(&cfg.ClusterID, "cluster-id", "", "context.clusterid sent to brokers (default: the uid of the kube-system namespace)")
	f.DurationVar(&cfg.PollMin, "poll-min", 2*time.Second, "shortest wait between two last_operation polls of one operation")
	f.DurationVar(&cfg.PollMax, "poll-max", 5*time.Minute, "longest wait between two polls, and the cap of the retry backoff")
	f.DurationVar(&cfg.BrokerTimeout, "broker-timeout", 60*time.Second, "time allowed for each request to a broker")
	f.StringVar(&cfg.LogLevel, "log-level", envOr("CFYBROKER_LOG_LEVEL", "info"), "debug, info, warn or error (CFYBROKER_LOG_LEVEL)")
	f.StringVar(&cfg.LogFormat, "log-format", envOr("CFYBROKER_LOG_FORMAT", "text"), "text or json (CFYBROKER_LOG_FORMAT)")
	return cmd
}

func runController(ctx context.Context, cmd *cobra.Command, cfg controllerConfig) error {
	if cfg.PollMin <= 0 || cfg.PollMax < cfg.PollMin {
		return usageError{fmt.Errorf("--poll-min must be positive and at most --poll-max (got %s and %s)", cfg.PollMin, cfg.PollMax)}
	}
	log, err := newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return usageError{err}
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))

	restCfg, inCluster, err := kubeConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	if cfg.LeaderNamespace == "" {
		cfg.LeaderNamespace = "default"
		if inCluster {
			if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
				cfg.LeaderNamespace = strings.TrimSpace(string(b))
			}
		}
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID, err = clusterID(ctx, restCfg, scheme)
		if err != nil {
			return fmt.Errorf("cluster id (set --cluster-id to skip this): %w", err)
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controller.CacheOptions(),
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.ProbeAddr,
		LeaderElection:                cfg.LeaderElect,
		LeaderElectionID:              cfg.LeaderID,
		LeaderElectionNamespace:       cfg.LeaderNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := controller.SetupWithManager(mgr, controller.Options{
		ClusterID: cfg.ClusterID, PollMin: cfg.PollMin, PollMax: cfg.PollMax, BrokerTimeout: cfg.BrokerTimeout, Log: log,
	}); err != nil {
		return err
	}
	log.Info("controller starting", "cluster_id", cfg.ClusterID, "leader_elect", cfg.LeaderElect,
		"leader_election_namespace", cfg.LeaderNamespace, "metrics", cfg.MetricsAddr, "probes", cfg.ProbeAddr)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	log.Info("controller stopped")
	return nil
}

// kubeConfig loads --kubeconfig, else KUBECONFIG, else the in-cluster configuration.
func kubeConfig(path string) (*rest.Config, bool, error) {
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, false, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return c, false, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, false, usageError{errors.New("not in a cluster and no --kubeconfig or KUBECONFIG given")}
	}
	return c, true, nil
}

// clusterID is the uid of the kube-system namespace: stable for the cluster's life.
func clusterID(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (string, error) {
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return "", err
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: "kube-system"}, &ns); err != nil {
		return "", err
	}
	return string(ns.UID), nil
}
