package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/health"
)

// readyCheck is the broker's readiness: the store answers a read and holds a
// catalog (built now or by an earlier run), so that GET /v2/catalog can be served.
func (s *server) readyCheck() health.Check {
	return health.Check{Name: "store and catalog", Func: func(ctx context.Context) error {
		_, err := s.store.GetCatalog(ctx)
		if errors.Is(err, broker.ErrNotFound) {
			return errors.New("no catalog built yet")
		}
		return err
	}}
}

// startMetrics serves /metrics and the probes on cfg.MetricsListen, when set. The
// address is separate from the OSB API's so that a network policy can open it to
// the monitoring system alone; it needs no credentials and shows no ids.
func (s *server) startMetrics() error {
	if s.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listen: %w", err)
	}
	s.metricsLn = ln
	hlog := s.log.With("component", "health", "listener", "metrics")
	routes := exactRoutes(map[string]http.Handler{
		"/metrics": s.metrics.Handler(),
		"/healthz": health.Live(),
		"/readyz":  health.Ready(hlog, s.readyCheck()),
	})
	s.metricsHTTP = &http.Server{Handler: routes, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	go func() {
		if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "error", err)
		}
	}()
	s.log.Info("metrics served", "listen", ln.Addr().String())
	return nil
}

// MetricsAddr is the address the metrics listen on, "" when they are not served.
func (s *server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}
