package metrics

import (
	"net/http"
	"strings"
)

// routeTemplates are the path shapes the broker serves; a segment starting with ":"
// matches any one non-empty segment. The OSB routes come from the OSB 2.17 spec, the
// others from internal/admin and the probes. A path of no listed shape is "unmatched".
var routeTemplates = []string{
	"/v2/catalog",
	"/v2/service_instances/:instance_id",
	"/v2/service_instances/:instance_id/last_operation",
	"/v2/service_instances/:instance_id/service_bindings/:binding_id",
	"/v2/service_instances/:instance_id/service_bindings/:binding_id/last_operation",
	"/admin/v1/catalog",
	"/admin/v1/catalog/osb",
	"/admin/v1/catalog/rebuild",
	"/admin/v1/overlay",
	"/admin/v1/instances",
	"/admin/v1/instances/:id",
	"/admin/v1/operations",
	"/admin/v1/operations/:id/retry",
	"/admin/v1/operations/:id/abandon",
	"/admin/v1/reconcile",
	"/healthz",
	"/readyz",
	"/metrics",
}

// Route returns the label of a request: its method and the template its path
// matches, such as "PUT /v2/service_instances/:instance_id". Methods outside the
// standard set are "OTHER"; paths of no known shape are "unmatched".
func Route(method, path string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER"
	}
	return method + " " + template(path)
}

func template(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, tpl := range routeTemplates {
		want := strings.Split(strings.TrimPrefix(tpl, "/"), "/")
		if len(want) != len(segs) {
			continue
		}
		ok := true
		for i, w := range want {
			if strings.HasPrefix(w, ":") {
				ok = segs[i] != "" && segs[i] != "." && segs[i] != ".."
			} else {
				ok = segs[i] == w
			}
			if !ok {
				break
			}
		}
		if ok {
			return tpl
		}
	}
	return "unmatched"
}

// Middleware counts every request next answers, by route and status, and times it.
// It learns the route from the path alone, so it works around any handler.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := Route(r.Method, r.URL.Path)
			if sw.status == 0 {
				sw.status = http.StatusOK // nothing written: net/http answers 200
			}
			m.requests.WithLabelValues(route, statusLabel(sw.status)).Inc()
			m.durations.WithLabelValues(route).Observe(m.now().Sub(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status of the response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implies 200 when no status was written.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the underlying writer (deadlines, flushing).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
