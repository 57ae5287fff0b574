package cloudifysim

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Simulator. The zero value simulates a 7.0.4 manager
// with user admin/admin, the tenant default_tenant, the real clock and no
// blueprints.
type Config struct {
	// Version is the manager release to simulate, e.g. "5.1", "6.2", "6.4",
	// "7.0.4". Empty means DefaultVersion. An unparsable value falls back to
	// DefaultVersion (with a warning on Logger).
	Version string
	// Users maps user names to passwords for Basic auth. Empty means
	// {"admin": "admin"}. Every user belongs to every tenant.
	Users map[string]string
	// Roles maps user names to RoleAdmin or RoleUser. A user not listed is an
	// admin. Secrets' private visibility and hidden values depend on it.
	Roles map[string]string
	// Tenants lists the tenants. Empty means ["default_tenant"].
	Tenants []string
	// Clock drives execution progress and timestamps. Nil means the real clock.
	Clock Clock
	// Durations sets how long execution phases take.
	Durations Durations
	// Logger receives debug logs of requests and state changes. Nil discards.
	Logger *slog.Logger
	// LoadSamples makes New load the embedded sample blueprints.
	LoadSamples bool
	// Seed seeds the generator used for ids and fault probabilities, so that
	// a run can be repeated. Zero means seed 1.
	Seed uint64
	// SyncCreateWait is how long a synchronous PUT /deployments (6.0+) waits
	// for create_deployment_environment. Zero means the release's own limit:
	// 60s for 6.0–6.1, 120s from 6.2.
	SyncCreateWait time.Duration
	// StateFile, when set, is where the simulator keeps its state (deployments,
	// executions, updates, secrets): every request that changes it writes it before
	// answering, and LoadState restores it at start, so that a restarted demo still
	// finds its deployments. Empty keeps everything in memory.
	StateFile string
}

// Durations sets how long execution phases take, in simulated time. A zero
// Pending, Cancel or Default means its default and a negative one means no
// delay; SetDuration and blueprint fixtures override Workflows per deployment
// or blueprint.
type Durations struct {
	// Pending is the time from pending to started. Default 200ms.
	Pending time.Duration
	// Cancel is the time from a cancelling state to cancelled. Default 500ms.
	Cancel time.Duration
	// Workflows maps a workflow id to the time from started to its end state
	// (an entry of 0 makes the workflow end as soon as it starts). Defaults:
	// create_deployment_environment 1s, install 5s, uninstall 3s, update 3s,
	// delete_deployment_environment 1s.
	Workflows map[string]time.Duration
	// Default is the duration of workflows not listed anywhere. Default 2s.
	Default time.Duration
}

// defaultWorkflowDurations are the built-in per-workflow durations.
var defaultWorkflowDurations = map[string]time.Duration{
	"create_deployment_environment": time.Second,
	"install":                       5 * time.Second,
	"uninstall":                     3 * time.Second,
	"update":                        3 * time.Second,
	"delete_deployment_environment": time.Second,
}

// Simulator is an in-memory Cloudify manager. It implements http.Handler and
// is safe for concurrent use.
type Simulator struct {
	mu        sync.Mutex
	cfg       Config
	ver       version
	clock     Clock
	realClock bool
	log       *slog.Logger
	rng       *rand.Rand

	users   map[string]string
	tenants map[string]bool

	blueprints  map[string]*blueprint
	deployments map[depKey]*deployment
	executions  map[string]*execution
	updates     map[string]*depUpdate
	tokens      map[string]*token
	secrets     map[secretKey]*secret
	tombstones  []DeploymentInfo

	durOverride map[string]map[string]time.Duration
	wfFaults    []workflowFault
	faults      []*faultEntry
	nextFaultID int

	stats statsData
	seq   int64
	// savedState is the last state written to Config.StateFile (without its time).
	savedState []byte
}

// depKey identifies a deployment within its tenant.
type depKey struct{ tenant, id string }

// New returns a Simulator for cfg.
func New(cfg Config) *Simulator {
	s := &Simulator{
		cfg:         cfg,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		users:       map[string]string{},
		tenants:     map[string]bool{},
		blueprints:  map[string]*blueprint{},
		deployments: map[depKey]*deployment{},
		executions:  map[string]*execution{},
		updates:     map[string]*depUpdate{},
		tokens:      map[string]*token{},
		secrets:     map[secretKey]*secret{},
		durOverride: map[string]map[string]time.Duration{},
		stats:       newStatsData(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	_, s.realClock = s.clock.(realClock)
	if s.cfg.Version == "" {
		s.cfg.Version = DefaultVersion
	}
	v, err := parseVersion(s.cfg.Version)
	if err != nil {
		s.log.Warn("invalid manager version, using default", "version", s.cfg.Version, "default", DefaultVersion, "error", err)
		s.cfg.Version = DefaultVersion
		v, _ = parseVersion(DefaultVersion)
	}
	s.ver = v
	seed := cfg.Seed
	if seed == 0 {
		seed = 1
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for u, p := range cfg.Users {
		s.users[u] = p
	}
	if len(s.users) == 0 {
		s.users["admin"] = "admin"
	}
	for _, t := range cfg.Tenants {
		s.tenants[t] = true
	}
	if len(s.tenants) == 0 {
		s.tenants["default_tenant"] = true
	}
	if cfg.LoadSamples {
		for _, raw := range SampleBlueprints() {
			if err := s.AddBlueprint(raw); err != nil {
				s.log.Warn("sample blueprint not loaded", "error", err)
			}
		}
	}
	s.log.Debug("simulator created", "version", s.ver.String(), "tenants", len(s.tenants), "users", len(s.users))
	return s
}

// Version returns the simulated manager release as given in Config.
func (s *Simulator) Version() string { return s.cfg.Version }

// Now returns the simulator clock's time.
func (s *Simulator) Now() time.Time { return s.clock.Now().UTC() }

// Tick advances every execution whose time has come, as a request would.
func (s *Simulator) Tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now().UTC())
}

// request is one API call as handlers see it.
type request struct {
	r      *http.Request
	method string
	params map[string]string
	body   []byte
	user   string
	tenant string
	now    time.Time
}

// query returns the request's query values.
func (rq *request) query() map[string][]string { return rq.r.URL.Query() }

// apiPrefixes are the versioned prefixes served.
var apiPrefixes = []string{"/api/v3.1", "/api/v3"}

// relPath strips the API prefix, or reports that the path is not under it.
func relPath(p string) (string, bool) {
	if p == "/api/version" {
		return "/version", true
	}
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre+"/") {
			return p[len(pre):], true
		}
	}
	return "", false
}

// ServeHTTP serves the manager REST API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return
	}
	rel, okPrefix := relPath(r.URL.Path)
	var rt *route
	var params map[string]string
	var allowed []string
	if okPrefix {
		rt, params, allowed = s.match(r.Method, rel)
	}
	key := r.Method + " <unmatched>"
	if rt != nil {
		key = r.Method + " " + rt.pattern
	}
	if s.injectFault(w, r, rel, key, body) {
		return
	}
	var resp *response
	switch {
	case rt != nil:
		resp = s.handle(r, rt, params, body)
	case len(allowed) > 0:
		resp = methodNotAllowed(allowed)
	default:
		resp = flaskNotFound()
	}
	if resp.wait != nil {
		resp = s.awaitSyncCreate(r.Context(), resp.wait)
	}
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", key, "status", resp.status, "error_code", resp.errCode)
	resp.write(w)
}

// handle runs a matched route under the lock: advance time, authenticate,
// check the tenant and content type, then call the handler.
func (s *Simulator) handle(r *http.Request, rt *route, params map[string]string, body []byte) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.persistLocked()
	now := s.clock.Now().UTC()
	s.advance(now)
	rq := &request{r: r, method: r.Method, params: params, body: body, now: now}
	if rt.auth {
		user, errResp := s.authenticate(r, now)
		if errResp != nil {
			return errResp
		}
		rq.user = user
	}
	if rt.tenant {
		t := r.Header.Get("Tenant")
		if t == "" {
			return apiErr("forbidden_error", "Authorization failed: tenant not provided")
		}
		if !s.tenants[t] {
			return apiErr("forbidden_error", "Authorization failed: Tried to authenticate with invalid tenant name: %s", t)
		}
		rq.tenant = t
	}
	if rt.body && r.Header.Get("Content-Type") != "application/json" {
		return apiErr("unsupported_content_type_error", "Content type must be application/json")
	}
	return rt.h(s, rq)
}

// authenticate checks Basic auth, then Authentication-Token (7.x order).
func (s *Simulator) authenticate(r *http.Request, now time.Time) (string, *response) {
	if user, pass, ok := basicAuth(r); ok && (!s.ver.atLeast(7, 0, 0) || startsWithLetter(user)) {
		want, known := s.users[user]
		if !known || want != pass {
			s.log.Debug("authentication failed", "username", user)
			return "", apiErr("unauthorized_error",
				"User unauthorized: Authentication failed for <User username=`%s`>. Wrong credentials or locked account", user)
		}
		return user, nil
	}
	if tok := r.Header.Get("Authentication-Token"); tok != "" {
		return s.checkToken(tok, now)
	}
	return "", apiErr("unauthorized_error", "User unauthorized: No authentication info provided")
}

// basicAuth parses an Authorization: Basic header.
func basicAuth(r *http.Request) (string, string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	return user, pass, ok
}

// startsWithLetter reports whether s begins with an ASCII letter.
func startsWithLetter(s string) bool {
	return s != "" && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))
}

// awaitSyncCreate waits, on the real clock, for a synchronous create's
// execution to end, polling without holding the lock.
func (s *Simulator) awaitSyncCreate(ctx context.Context, w *syncWait) *response {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := s.clock.Now().UTC()
		s.advance(now)
		resp := s.syncCreateResult(w, now)
		s.mu.Unlock()
		if resp != nil {
			return resp
		}
		select {
		case <-ctx.Done():
			return internalError("RuntimeError", "request cancelled")
		case <-t.C:
		}
	}
}

// newID returns a random UUID (version 4) from the seeded generator.
func (s *Simulator) newID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		x := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}

// randString returns n characters from alphabet.
func (s *Simulator) randString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}
