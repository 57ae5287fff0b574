// Package health answers the liveness and readiness probes of an orchestrator
// (Kubernetes' httpGet probes, a load balancer's health check).
//
//	GET /healthz   200 "ok" while the process serves HTTP
//	GET /readyz    200 "ok" when every readiness check passes, else 503 "not ready"
//
// Neither asks for credentials, and neither body says more than that: the reason a
// check fails goes to the log (once per change), not to an unauthenticated caller.
// Other methods than GET and HEAD answer 405.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Check reports whether one part of the process is ready: nil when it is. It must
// honour ctx; it is called on every probe.
type Check struct {
	// Name identifies the check in the log ("store", "catalog").
	Name string
	Func func(ctx context.Context) error
}

// CheckTimeout bounds one run of the readiness checks.
const CheckTimeout = 2 * time.Second

// Live returns the /healthz handler: it answers 200 "ok" and checks nothing, so that
// a slow dependency never gets the process restarted.
func Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		write(w, r, http.StatusOK, "ok\n")
	})
}

// Ready returns the /readyz handler: 200 "ok" when every check passes, else 503
// "not ready". A change of readiness is logged with the failing check and its error;
// a nil log discards.
func Ready(log *slog.Logger, checks ...Check) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		mu   sync.Mutex
		last = "unknown" // "" when ready, else the failing check's name
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
		defer cancel()
		failing, err := "", error(nil)
		for _, c := range checks {
			if err = c.Func(ctx); err != nil {
				failing = c.Name
				break
			}
		}
		mu.Lock()
		if failing != last {
			if failing == "" {
				log.Info("ready")
			} else {
				log.Warn("not ready", "check", failing, "error", err)
			}
			last = failing
		}
		mu.Unlock()
		if failing != "" {
			write(w, r, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		write(w, r, http.StatusOK, "ok\n")
	})
}

func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func write(w http.ResponseWriter, r *http.Request, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// Register mounts /healthz and /readyz on mux.
func Register(mux *http.ServeMux, log *slog.Logger, checks ...Check) {
	mux.Handle("/healthz", Live())
	mux.Handle("/readyz", Ready(log, checks...))
}
