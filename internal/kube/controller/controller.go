// Package controller is cfybroker's Kubernetes controller: the platform side of the Open
// Service Broker API for a cluster. It reads the kinds of
// servicecatalog.cfybroker.io/v1beta1 (package v1beta1) and drives a registered broker:
//
//   - ClusterServiceBroker: the catalog is read at registration, every relistDuration or
//     when relistRequests grows, and written as ClusterServiceClasses and
//     ClusterServicePlans (BrokerReconciler);
//   - ServiceInstance: provision, update and deprovision, always asynchronous, polled
//     through last_operation (InstanceReconciler);
//   - ServiceBinding: bind and unbind; the credentials go into a Secret that the binding
//     owns and that the controller deletes after the unbind (BindingReconciler).
//
// Deletion goes through finalizers: an instance with bindings is not deprovisioned until
// they are gone. Orphan mitigation follows the OSB specification: a provision or bind
// answered with a 5xx or lost to a timeout is followed by a deprovision or unbind.
// Parameters and credentials never go into status, events or logs; the status keeps a
// checksum of the parameters sent.
//
// Errors: reconcilers return an error only for what a later attempt may fix (the broker
// unreachable, a write conflict); the workqueue then retries with capped exponential
// backoff. A broker's refusal (400, 409, a failed operation) is recorded as the Failed
// condition and not retried until the spec changes.
package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/google/uuid"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
)

// soon is the wait before a reconciler looks again at an object it just moved on
// (the next step of an orphan mitigation, a spec that changed during an operation).
const soon = 100 * time.Millisecond

// Finalizers the controller puts on the objects whose deletion it must act on.
const (
	BrokerFinalizer   = v1beta1.GroupName + "/broker"
	InstanceFinalizer = v1beta1.GroupName + "/instance"
	BindingFinalizer  = v1beta1.GroupName + "/binding"
)

// Labels the controller puts on what it writes.
const (
	// LabelBroker names the broker of a class or plan.
	LabelBroker = v1beta1.GroupName + "/broker"
	// LabelBinding names the binding that owns a Secret.
	LabelBinding = v1beta1.GroupName + "/binding"
)

// Broker is the part of the OSB API the controller calls; *osbclient.Client implements
// it. Errors follow osbclient: *osbclient.HTTPError for refusals, wrapped transport
// errors otherwise.
type Broker interface {
	Catalog(ctx context.Context) (*osbclient.Catalog, error)
	Provision(ctx context.Context, instanceID string, r *osbclient.ProvisionRequest, id *osbclient.Identity) (*osbclient.Response, error)
	Update(ctx context.Context, instanceID string, r *osbclient.UpdateRequest, id *osbclient.Identity) (*osbclient.Response, error)
	Deprovision(ctx context.Context, instanceID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error)
	InstanceLastOperation(ctx context.Context, instanceID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error)
	Bind(ctx context.Context, instanceID, bindingID string, r *osbclient.BindRequest, id *osbclient.Identity) (*osbclient.Response, error)
	Unbind(ctx context.Context, instanceID, bindingID, serviceID, planID string, id *osbclient.Identity) (*osbclient.Response, error)
	BindingLastOperation(ctx context.Context, instanceID, bindingID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error)
	GetBinding(ctx context.Context, instanceID, bindingID string) (map[string]any, error)
}

// EventRecorder records a Kubernetes Event about an object (events.k8s.io semantics).
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Options configure the reconcilers.
type Options struct {
	// ClusterID is sent as context.clusterid and as organization_guid.
	ClusterID string
	// PollMin and PollMax bound the wait between two last_operation polls (defaults 2 s
	// and 5 min). A broker's Retry-After is honoured within them.
	PollMin, PollMax time.Duration
	// BrokerTimeout bounds each request to a broker (default 60 s).
	BrokerTimeout time.Duration
	// DefaultRelist is the relistDuration of brokers that set none (default 15 min).
	DefaultRelist time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewID generates external ids (default: a random UUID).
	NewID func() string
	// NewBroker builds the client of a broker (default: osbclient.New).
	NewBroker func(osbclient.Config) (Broker, error)
	// Log receives the controller's own log lines.
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.PollMin <= 0 {
		o.PollMin = 2 * time.Second
	}
	if o.PollMax < o.PollMin {
		o.PollMax = 5 * time.Minute
		if o.PollMax < o.PollMin {
			o.PollMax = o.PollMin
		}
	}
	if o.BrokerTimeout <= 0 {
		o.BrokerTimeout = 60 * time.Second
	}
	if o.DefaultRelist <= 0 {
		o.DefaultRelist = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = uuid.NewString
	}
	if o.NewBroker == nil {
		o.NewBroker = func(c osbclient.Config) (Broker, error) { return osbclient.New(c) }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ClusterID == "" {
		o.ClusterID = "unknown"
	}
}

// shared is what the three reconcilers have in common.
type shared struct {
	client.Client
	// APIReader reads without the cache: Secrets are not cached except the binding
	// Secrets the controller owns.
	APIReader client.Reader
	Events    EventRecorder
	Opts      Options

	mu      sync.Mutex
	brokers map[string]cachedBroker
	// nextPoll keeps the earliest time an object's operation may be polled again, so
	// that an event about the object does not make the controller poll before the
	// broker's Retry-After.
	nextPoll map[types.UID]time.Time
}

type cachedBroker struct {
	key    string
	broker Broker
}

func newShared(c client.Client, r client.Reader, ev EventRecorder, opts Options) *shared {
	opts.defaults()
	return &shared{Client: c, APIReader: r, Events: ev, Opts: opts, brokers: map[string]cachedBroker{}, nextPoll: map[types.UID]time.Time{}}
}

// errBrokerNotReady wraps why a broker's client cannot be built.
var errBrokerNotReady = errors.New("broker not usable")

// brokerClient returns the client of the named broker, rebuilt when its spec or its
// credentials Secret changes.
func (s *shared) brokerClient(ctx context.Context, name string) (Broker, *v1beta1.ClusterServiceBroker, error) {
	var b v1beta1.ClusterServiceBroker
	if err := s.Get(ctx, types.NamespacedName{Name: name}, &b); err != nil {
		return nil, nil, fmt.Errorf("%w: get ClusterServiceBroker %s: %w", errBrokerNotReady, name, err)
	}
	cfg := osbclient.Config{
		URL: b.Spec.URL, CABundle: b.Spec.CABundle, InsecureSkipTLSVerify: b.Spec.InsecureSkipTLSVerify,
		Timeout: s.Opts.BrokerTimeout,
	}
	key := b.ResourceVersion
	if ai := b.Spec.AuthInfo; ai != nil {
		var ref *v1beta1.ObjectReference
		switch {
		case ai.Basic != nil:
			ref = ai.Basic.SecretRef
		case ai.Bearer != nil:
			ref = ai.Bearer.SecretRef
		}
		if ref == nil || ref.Name == "" || ref.Namespace == "" {
			return nil, &b, fmt.Errorf("%w: authInfo names no secretRef {namespace, name}", errBrokerNotReady)
		}
		var sec corev1.Secret
		if err := s.APIReader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &sec); err != nil {
			return nil, &b, fmt.Errorf("%w: get auth Secret %s/%s: %w", errBrokerNotReady, ref.Namespace, ref.Name, err)
		}
		key += "/" + sec.ResourceVersion
		if ai.Basic != nil {
			cfg.Username, cfg.Password = string(sec.Data["username"]), string(sec.Data["password"])
			if cfg.Username == "" || cfg.Password == "" {
				return nil, &b, fmt.Errorf("%w: auth Secret %s/%s lacks the key username or password", errBrokerNotReady, ref.Namespace, ref.Name)
			}
		} else {
			cfg.Token = string(sec.Data["token"])
			if cfg.Token == "" {
				return nil, &b, fmt.Errorf("%w: auth Secret %s/%s lacks the key token", errBrokerNotReady, ref.Namespace, ref.Name)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.brokers[name]; ok && c.key == key {
		return c.broker, &b, nil
	}
	if old, ok := s.brokers[name]; ok {
		if cl, ok := old.broker.(interface{ Close() }); ok {
			cl.Close()
		}
	}
	bc, err := s.Opts.NewBroker(cfg)
	if err != nil {
		return nil, &b, fmt.Errorf("%w: %w", errBrokerNotReady, err)
	}
	s.brokers[name] = cachedBroker{key: key, broker: bc}
	return bc, &b, nil
}

// pollWait is how long to wait before the next poll of an operation that started at
// start: a quarter of its age, within [PollMin, PollMax], and never less than the
// broker's Retry-After (itself capped at PollMax).
func (s *shared) pollWait(start *metav1.Time, retryAfter time.Duration) time.Duration {
	wait := s.Opts.PollMin
	if start != nil {
		if age := s.Opts.Now().Sub(start.Time); age/4 > wait {
			wait = age / 4
		}
	}
	if retryAfter > wait {
		wait = retryAfter
	}
	if wait > s.Opts.PollMax {
		wait = s.Opts.PollMax
	}
	return wait
}

// schedulePoll records the earliest next poll of uid and returns the wait.
func (s *shared) schedulePoll(uid types.UID, wait time.Duration) time.Duration {
	s.mu.Lock()
	s.nextPoll[uid] = s.Opts.Now().Add(wait)
	s.mu.Unlock()
	return wait
}

// pollDue returns how long to wait before uid may be polled (0: now).
func (s *shared) pollDue(uid types.UID) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.nextPoll[uid]
	if !ok {
		return 0
	}
	if d := t.Sub(s.Opts.Now()); d > 0 {
		return d
	}
	delete(s.nextPoll, uid)
	return 0
}

func (s *shared) forgetPoll(uid types.UID) {
	s.mu.Lock()
	delete(s.nextPoll, uid)
	s.mu.Unlock()
}

// parameters merges spec parameters and parametersFrom (later sources win) and returns
// them with their checksum. Errors name the Secret and key, never a value.
func (s *shared) parameters(ctx context.Context, namespace string, raw *runtime.RawExtension, from []v1beta1.ParametersFromSource) (map[string]any, string, error) {
	params := map[string]any{}
	if raw != nil && len(raw.Raw) > 0 {
		if err := json.Unmarshal(raw.Raw, &params); err != nil {
			return nil, "", errors.New("spec.parameters is not a JSON object")
		}
	}
	for i, src := range from {
		ref := src.SecretKeyRef
		if ref == nil {
			return nil, "", fmt.Errorf("parametersFrom[%d] names no secretKeyRef", i)
		}
		var sec corev1.Secret
		if err := s.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &sec); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "", fmt.Errorf("parametersFrom[%d]: Secret %q not found", i, ref.Name)
			}
			return nil, "", fmt.Errorf("parametersFrom[%d]: get Secret %q: %w", i, ref.Name, err)
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			return nil, "", fmt.Errorf("parametersFrom[%d]: Secret %q has no key %q", i, ref.Name, ref.Key)
		}
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil || m == nil {
			return nil, "", fmt.Errorf("parametersFrom[%d]: key %q of Secret %q is not a JSON object", i, ref.Key, ref.Name)
		}
		for k, val := range m {
			params[k] = val
		}
	}
	b, _ := json.Marshal(params) // map keys are sorted: a stable checksum
	sum := sha256.Sum256(b)
	if len(params) == 0 {
		params = nil
	}
	return params, hex.EncodeToString(sum[:]), nil
}

// identity converts a spec's userInfo to the originating identity; nil when unset.
func identity(u *v1beta1.UserInfo) *osbclient.Identity {
	if u == nil || u.Username == "" {
		return nil
	}
	return &osbclient.Identity{Username: u.Username, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}

// setCondition sets one condition, keeping its transition time when the status does
// not change, and returns whether anything changed.
func setCondition(conds *[]v1beta1.Condition, t v1beta1.ConditionType, st v1beta1.ConditionStatus, reason, msg string, now time.Time) bool {
	for i := range *conds {
		c := &(*conds)[i]
		if c.Type != t {
			continue
		}
		if c.Status == st && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != st {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message = st, reason, msg
		return true
	}
	*conds = append(*conds, v1beta1.Condition{Type: t, Status: st, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)})
	return true
}

// conditionTrue reports whether the condition of type t is True.
func conditionTrue(conds []v1beta1.Condition, t v1beta1.ConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == v1beta1.ConditionTrue
		}
	}
	return false
}

func condition(conds []v1beta1.Condition, t v1beta1.ConditionType) *v1beta1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// describe turns a broker error into a sentence for a condition message: the broker's
// own description when it gave one.
func describe(err error) string {
	var he *osbclient.HTTPError
	if errors.As(err, &he) {
		s := fmt.Sprintf("the broker answered %d", he.StatusCode)
		if he.ErrorCode != "" {
			s += " " + he.ErrorCode
		}
		if he.Description != "" {
			s += ": " + he.Description
		}
		return s
	}
	return err.Error()
}

func ptr[T any](v T) *T { return &v }
