package main

import (
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/cfybroker/cfybroker/internal/admin"
)

// The listeners route without http.ServeMux at the top: the mux answers a path that is
// not clean ("//", "/./", "/../", a trailing "/.", "/admin/v1" without its slash) with
// a redirect before any handler runs, so before the version and credential checks.
// Here such a path goes to the handler that answers every other unknown path.

// osbRoutes routes the OSB listener: the probes by exact path, the admin API for the
// clean paths under its prefix, and every other path, clean or not, to the OSB
// handler, which checks the version header and the credentials before it answers an
// unknown one with a JSON 404.
func osbRoutes(osbHandler, adminHandler, live, ready http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/healthz":
			live.ServeHTTP(w, r)
		case p == "/readyz":
			ready.ServeHTTP(w, r)
		case strings.HasPrefix(p, admin.Prefix) && cleanPath(p):
			adminHandler.ServeHTTP(w, r)
		default:
			osbHandler.ServeHTTP(w, r)
		}
	})
}

// exactRoutes routes by exact path (the metrics listener: /metrics and the probes,
// none of which needs credentials); any other path gets a JSON 404.
func exactRoutes(routes map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"description": "no such route"})
	})
}

// cleanPath reports whether p is what http.ServeMux would route without redirecting.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
