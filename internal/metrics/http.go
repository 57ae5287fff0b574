package metrics

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// routeTemplates are the path shapes the broker serves; a segment starting with ":"
// matches any one non-empty segment. The OSB routes come from the OSB 2.17 spec, the
// others from internal/admin and the probes. A path of no listed shape is "unmatched".
var routeTemplates = [...]string{
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

// routeMethods are the methods a route label names; any other is "OTHER".
var routeMethods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, "OTHER"}

// templateSegments are routeTemplates split into segments, once.
var templateSegments = func() [][]string {
	out := make([][]string, len(routeTemplates))
	for i, tpl := range routeTemplates {
		out[i] = strings.Split(strings.TrimPrefix(tpl, "/"), "/")
	}
	return out
}()

// routeLabels holds every route label, made once: routeLabels[m][t] is method m with
// template t, and t == len(routeTemplates) is "unmatched". A request's label is looked
// up, not built.
var routeLabels = func() [][]string {
	out := make([][]string, len(routeMethods))
	for m, method := range routeMethods {
		out[m] = make([]string, len(routeTemplates)+1)
		for t, tpl := range routeTemplates {
			out[m][t] = method + " " + tpl
		}
		out[m][len(routeTemplates)] = method + " unmatched"
	}
	return out
}()

// Route returns the label of a request: its method and the template its path
// matches, such as "PUT /v2/service_instances/:instance_id". Methods outside the
// standard set are "OTHER"; paths of no known shape are "unmatched".
func Route(method, path string) string {
	m, t := routeIndex(method, path)
	return routeLabels[m][t]
}

// routeIndex returns the indexes of a request's route label in routeLabels.
func routeIndex(method, path string) (m, t int) {
	m = len(routeMethods) - 1
	for i, v := range routeMethods[:len(routeMethods)-1] {
		if v == method {
			m = i
			break
		}
	}
	return m, templateIndex(path)
}

// templateIndex returns the index of the template path matches, len(routeTemplates)
// for none. A segment of the template starting with ":" matches any one segment but
// "", "." and "..".
func templateIndex(path string) int {
	p := strings.TrimPrefix(path, "/")
	n := strings.Count(p, "/") + 1
	for t, want := range templateSegments {
		if len(want) != n {
			continue
		}
		rest, ok := p, true
		for _, w := range want {
			var seg string
			seg, rest, _ = strings.Cut(rest, "/")
			if w[0] == ':' {
				ok = seg != "" && seg != "." && seg != ".."
			} else {
				ok = seg == w
			}
			if !ok {
				break
			}
		}
		if ok {
			return t
		}
	}
	return len(routeTemplates)
}

// routeMetrics are the series of one route label: its duration histogram and its
// request counter per status code. The codes map is replaced, never changed, so that
// a request reads it without a lock.
type routeMetrics struct {
	duration prometheus.Observer
	codes    atomic.Pointer[map[int]prometheus.Counter]
}

// routeSeries returns the series of route label (m, t), made at the first request
// with the label (so that /metrics shows only the routes that were asked for).
func (m *Metrics) routeSeries(mi, ti int) *routeMetrics {
	slot := &m.routes[mi*(len(routeTemplates)+1)+ti]
	if rm := slot.Load(); rm != nil {
		return rm
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if rm := slot.Load(); rm != nil {
		return rm
	}
	rm := &routeMetrics{duration: m.durations.WithLabelValues(routeLabels[mi][ti])}
	rm.codes.Store(&map[int]prometheus.Counter{})
	slot.Store(rm)
	return rm
}

// counter returns the request counter of the route label (m, t) and the status.
func (m *Metrics) counter(rm *routeMetrics, mi, ti, status int) prometheus.Counter {
	if c, ok := (*rm.codes.Load())[status]; ok {
		return c
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *rm.codes.Load()
	if c, ok := old[status]; ok {
		return c
	}
	c := m.requests.WithLabelValues(routeLabels[mi][ti], statusLabel(status))
	codes := make(map[int]prometheus.Counter, len(old)+1)
	for k, v := range old {
		codes[k] = v
	}
	codes[status] = c
	rm.codes.Store(&codes)
	return c
}

// statusWriters recycles the middleware's response writers, one per request otherwise.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// Middleware counts every request next answers, by route and status, and times it.
// It learns the route from the path alone, so it works around any handler. The
// series of a route label and status are looked up once and kept: a request costs
// no allocation and no label hashing.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		sw := statusWriters.Get().(*statusWriter)
		sw.ResponseWriter = w
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			*sw = statusWriter{}
			statusWriters.Put(sw)
			mi, ti := routeIndex(r.Method, r.URL.Path)
			rm := m.routeSeries(mi, ti)
			m.counter(rm, mi, ti, status).Inc()
			rm.duration.Observe(m.now().Sub(start).Seconds())
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
