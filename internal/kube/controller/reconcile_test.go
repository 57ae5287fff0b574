package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
)

func httpError(status int, code, desc string) error {
	return &osbclient.HTTPError{Method: "PUT", Route: "/v2/service_instances/:instance_id", StatusCode: status, ErrorCode: code, Description: desc}
}

func respond(status int) func() (*osbclient.Response, error) {
	return func() (*osbclient.Response, error) { return &osbclient.Response{StatusCode: status}, nil }
}

// wantRequeue checks that a result asks for another Reconcile.
func wantRequeue(t *testing.T, res ctrl.Result) {
	t.Helper()
	if res.RequeueAfter <= 0 {
		t.Errorf("Reconcile result %+v: want a requeue", res)
	}
}

func wantContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}

// TestInstanceOrphanMitigation: a provision answered with a 5xx or lost to a timeout
// is followed by a deprovision (200 and 410 both end it), then provisioned again.
func TestInstanceOrphanMitigation(t *testing.T) {
	t.Parallel()
	timeout := fmt.Errorf("osbclient: PUT /v2/service_instances/:instance_id (request r-1): %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name         string
		provisionErr error
		deprovision  func() (*osbclient.Response, error)
	}{
		{"500 then deprovision 200", httpError(500, "", "internal error"), respond(200)},
		{"500 then deprovision 410", httpError(500, "", "internal error"), func() (*osbclient.Response, error) { return nil, httpError(410, "", "") }},
		{"timeout then deprovision 200", timeout, respond(200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := "pw-" + randSuffix()
			params := map[string]any{"password": secret, "size": "small"}
			in := f.newInstance(params)

			f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
				return nil, tc.provisionErr
			}
			wantRequeue(t, f.mustInstance(in.Name))
			f.wantCalls("Provision")
			f.get(in)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionTrue, ReasonOrphanMitigationStarted)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonOrphanMitigationStarted)
			wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionFailed)
			if !in.Status.OrphanMitigationInProgress {
				t.Errorf("status.orphanMitigationInProgress = false, want true")
			}

			f.broker.ProvisionFn = nil
			var deprovisioned []string
			f.broker.DeprovisionFn = func(_ context.Context, instanceID, serviceID, planID string, _ *osbclient.Identity) (*osbclient.Response, error) {
				deprovisioned = []string{instanceID, serviceID, planID}
				return tc.deprovision()
			}
			f.mustInstance(in.Name)
			f.wantCalls("Deprovision")
			if diff := cmp.Diff([]string{in.Spec.ExternalID, f.class.Spec.ExternalID, f.plan.Spec.ExternalID}, deprovisioned); diff != "" {
				t.Errorf("Deprovision(instance, service, plan) (-want +got):\n%s", diff)
			}
			f.get(in)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonOrphanMitigationSucceeded)
			wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionFailed)
			if in.Status.OrphanMitigationInProgress {
				t.Errorf("status.orphanMitigationInProgress = true after the deprovision")
			}

			// Provisioned again: 202, then last_operation succeeded.
			f.broker.DeprovisionFn = nil
			var sent map[string]any
			f.broker.ProvisionFn = func(_ context.Context, instanceID string, r *osbclient.ProvisionRequest, _ *osbclient.Identity) (*osbclient.Response, error) {
				sent = r.Parameters
				return &osbclient.Response{StatusCode: 202, Async: true, Operation: "op-2"}, nil
			}
			res := f.mustInstance(in.Name)
			f.wantCalls("Provision")
			if diff := cmp.Diff(params, sent); diff != "" {
				t.Errorf("parameters of the second provision (-want +got):\n%s", diff)
			}
			if res.RequeueAfter <= 0 {
				t.Fatalf("after a 202: result %+v, want a RequeueAfter", res)
			}
			f.clock.Advance(res.RequeueAfter)
			f.broker.ProvisionFn = nil
			f.broker.InstanceLastOperationFn = func(_ context.Context, _ string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
				if r.Operation != "op-2" {
					t.Errorf("last_operation operation = %q, want op-2", r.Operation)
				}
				return &osbclient.LastOperation{State: osbclient.StateSucceeded}, nil
			}
			f.mustInstance(in.Name)
			f.wantCalls("InstanceLastOperation")
			f.get(in)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonProvisionedSuccessfully)
			if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned {
				t.Errorf("provisionStatus = %q, want Provisioned", in.Status.ProvisionStatus)
			}
			events := f.events.reasons(in.Name)
			for _, r := range []string{ReasonOrphanMitigationStarted, ReasonOrphanMitigationSucceeded, ReasonProvisionedSuccessfully} {
				if !contains(events, r) {
					t.Errorf("no Event %s among %v", r, events)
				}
			}
			f.noLeak(secret)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInstanceProvisionRefused: a 400 or 409 is final for the generation: Failed with
// the broker's description, no orphan mitigation; a spec change asks again.
func TestInstanceProvisionRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		code   string
	}{{409, ""}, {400, "BadRequest"}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := "pw-" + randSuffix()
			in := f.newInstance(map[string]any{"password": secret, "size": "small"})
			const desc = "plan small is sold out in this region"
			f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
				return nil, httpError(tc.status, tc.code, desc)
			}
			f.mustInstance(in.Name)
			f.wantCalls("Provision")
			f.get(in)
			c := wantCondition(t, in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonProvisionCallFailed)
			wantContains(t, "Failed message", c.Message, desc)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonProvisionCallFailed)
			wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation)
			if in.Status.DeprovisionStatus != v1beta1.DeprovisionStatusNotRequired {
				t.Errorf("deprovisionStatus = %q, want NotRequired (nothing was created)", in.Status.DeprovisionStatus)
			}

			// Final for this generation: nothing is sent (no Deprovision either).
			f.broker.ProvisionFn = nil
			f.mustInstance(in.Name)
			f.clock.Advance(time.Hour)
			f.mustInstance(in.Name)
			f.wantCalls()

			// New parameters, new generation: provisioned again.
			want := map[string]any{"password": secret, "size": "large"}
			modify(f, in, func(in *v1beta1.ServiceInstance) { in.Spec.Parameters = rawParams(t, want) })
			var sent map[string]any
			f.broker.ProvisionFn = func(_ context.Context, _ string, r *osbclient.ProvisionRequest, _ *osbclient.Identity) (*osbclient.Response, error) {
				sent = r.Parameters
				return &osbclient.Response{StatusCode: 201}, nil
			}
			f.mustInstance(in.Name)
			f.wantCalls("Provision")
			if diff := cmp.Diff(want, sent); diff != "" {
				t.Errorf("parameters of the provision after the spec change (-want +got):\n%s", diff)
			}
			f.get(in)
			wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
			wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionFailed)
			f.noLeak(secret)
		})
	}
}

// TestInstanceProvisionConcurrencyError: a 422 ConcurrencyError is neither Failed nor
// an orphan; the provision is sent again later.
func TestInstanceProvisionConcurrencyError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.newInstance(map[string]any{"password": secret})
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return nil, httpError(422, "ConcurrencyError", "another operation for this instance is in progress")
	}
	res := f.mustInstance(in.Name)
	f.wantCalls("Provision")
	if res.RequeueAfter <= 0 {
		t.Errorf("after a ConcurrencyError: result %+v, want a RequeueAfter > 0", res)
	}
	f.get(in)
	wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionFailed)
	wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonConcurrentOperation)

	f.clock.Advance(res.RequeueAfter)
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 201}, nil
	}
	f.mustInstance(in.Name)
	f.wantCalls("Provision")
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
	f.noLeak(secret)
}

// TestInstanceBrokerUnreachable: a refused connection proves the broker got nothing:
// an error for the workqueue's backoff, no orphan mitigation, the provision sent again.
func TestInstanceBrokerUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.newInstance(map[string]any{"password": secret})
	dial := fmt.Errorf("osbclient: PUT /v2/service_instances/:instance_id (request r-2): %w",
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return nil, dial
	}
	if _, err := f.reconcileInstance(in.Name); err == nil {
		t.Errorf("Reconcile with the broker unreachable: no error, want one (workqueue backoff)")
	}
	f.wantCalls("Provision")
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonErrorReachingBroker)
	wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation)
	wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionFailed)
	if in.Status.OrphanMitigationInProgress {
		t.Errorf("status.orphanMitigationInProgress = true for a request the broker never received")
	}

	// The retry provisions (no Deprovision: DeprovisionFn is unset).
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 201}, nil
	}
	f.mustInstance(in.Name)
	f.wantCalls("Provision")
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
	f.noLeak(secret)
}

// TestInstancePollRetryAfter: an operation in progress is polled no sooner than the
// broker's Retry-After, even when the object is reconciled in between.
func TestInstancePollRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.newInstance(map[string]any{"password": secret})
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 202, Async: true, Operation: "op-7"}, nil
	}
	res := f.mustInstance(in.Name)
	f.wantCalls("Provision")
	f.broker.ProvisionFn = nil
	f.clock.Advance(res.RequeueAfter)

	var polls []osbclient.LastOperationRequest
	state := osbclient.StateInProgress
	f.broker.InstanceLastOperationFn = func(_ context.Context, instanceID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
		if instanceID != in.Spec.ExternalID {
			t.Errorf("last_operation of instance %q, want %q", instanceID, in.Spec.ExternalID)
		}
		polls = append(polls, r)
		return &osbclient.LastOperation{State: state, Description: "creating the VM", RetryAfter: 30 * time.Second}, nil
	}
	res = f.mustInstance(in.Name)
	f.wantCalls("InstanceLastOperation")
	if res.RequeueAfter < 30*time.Second {
		t.Errorf("after Retry-After 30s: RequeueAfter %v, want at least 30s", res.RequeueAfter)
	}
	f.get(in)
	c := wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonProvisioning)
	wantContains(t, "Ready message", c.Message, "creating the VM")

	// Reconciled again at once (an event about the object): no poll.
	again := f.mustInstance(in.Name)
	f.wantCalls()
	if again.RequeueAfter <= 0 {
		t.Errorf("Reconcile before the poll is due: result %+v, want a RequeueAfter", again)
	}

	f.clock.Advance(res.RequeueAfter)
	state = osbclient.StateSucceeded
	f.mustInstance(in.Name)
	f.wantCalls("InstanceLastOperation")
	want := osbclient.LastOperationRequest{ServiceID: f.class.Spec.ExternalID, PlanID: f.plan.Spec.ExternalID, Operation: "op-7"}
	if diff := cmp.Diff([]osbclient.LastOperationRequest{want, want}, polls); diff != "" {
		t.Errorf("last_operation requests (-want +got):\n%s", diff)
	}
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
	f.noLeak(secret)
}

// TestInstanceProvisionOperationFailed: last_operation failed ends in Failed with the
// broker's description and an orphan-mitigation deprovision; no further provision for
// this generation.
func TestInstanceProvisionOperationFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.newInstance(map[string]any{"password": secret})
	f.broker.ProvisionFn = func(context.Context, string, *osbclient.ProvisionRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 202, Async: true, Operation: "op-f"}, nil
	}
	res := f.mustInstance(in.Name)
	f.wantCalls("Provision")
	f.broker.ProvisionFn = nil
	f.clock.Advance(res.RequeueAfter)

	const desc = "quota of VMs exceeded"
	f.broker.InstanceLastOperationFn = func(context.Context, string, osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
		return &osbclient.LastOperation{State: osbclient.StateFailed, Description: desc}, nil
	}
	f.mustInstance(in.Name)
	f.wantCalls("InstanceLastOperation")
	f.get(in)
	c := wantCondition(t, in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonProvisionFailed)
	wantContains(t, "Failed message", c.Message, desc)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionTrue, ReasonOrphanMitigationStarted)

	f.broker.InstanceLastOperationFn = nil
	f.broker.DeprovisionFn = func(context.Context, string, string, string, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 200}, nil
	}
	f.mustInstance(in.Name)
	f.wantCalls("Deprovision")
	f.get(in)
	c = wantCondition(t, in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonProvisionFailed)
	wantContains(t, "Failed message", c.Message, desc)
	c = wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonProvisionFailed)
	wantContains(t, "Ready message", c.Message, desc)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonOrphanMitigationSucceeded)

	// No more attempts for this generation, now or later.
	f.broker.DeprovisionFn = nil
	f.mustInstance(in.Name)
	f.clock.Advance(time.Hour)
	f.mustInstance(in.Name)
	f.wantCalls()
	f.noLeak(secret)
}

// TestInstanceUpdate: new parameters of a provisioned instance are sent as an update
// with the previous plan; a refused update is Failed but leaves the instance Ready.
func TestInstanceUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.provisioned(map[string]any{"password": secret, "size": "small"})

	want := map[string]any{"password": secret, "size": "medium"}
	modify(f, in, func(in *v1beta1.ServiceInstance) { in.Spec.Parameters = rawParams(t, want) })
	var sent *osbclient.UpdateRequest
	f.broker.UpdateFn = func(_ context.Context, instanceID string, r *osbclient.UpdateRequest, _ *osbclient.Identity) (*osbclient.Response, error) {
		sent = r
		return &osbclient.Response{StatusCode: 200}, nil
	}
	f.mustInstance(in.Name)
	f.wantCalls("Update")
	if sent == nil {
		t.Fatal("no Update sent")
	}
	got := map[string]any{"service_id": sent.ServiceID, "plan_id": sent.PlanID, "parameters": sent.Parameters, "previous_values": sent.PreviousValues}
	wantReq := map[string]any{"service_id": f.class.Spec.ExternalID, "plan_id": f.plan.Spec.ExternalID, "parameters": want,
		"previous_values": &osbclient.PreviousValues{PlanID: f.plan.Spec.ExternalID}}
	if diff := cmp.Diff(wantReq, got); diff != "" {
		t.Errorf("update request (-want +got):\n%s", diff)
	}
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonInstanceUpdatedSuccessfully)

	// Refused (400): Failed, still usable, no orphan mitigation, not sent again.
	modify(f, in, func(in *v1beta1.ServiceInstance) {
		in.Spec.Parameters = rawParams(t, map[string]any{"password": secret, "size": "huge"})
	})
	const desc = "size huge is not offered"
	f.broker.UpdateFn = func(context.Context, string, *osbclient.UpdateRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return nil, httpError(400, "BadRequest", desc)
	}
	f.mustInstance(in.Name)
	f.wantCalls("Update")
	f.get(in)
	c := wantCondition(t, in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonUpdateInstanceCallFailed)
	wantContains(t, "Failed message", c.Message, desc)
	if c := condition(in.Status.Conditions, v1beta1.ConditionReady); c == nil || c.Status != v1beta1.ConditionTrue {
		t.Errorf("Ready after a refused update = %+v, want True (the instance is as it was)", c)
	}
	wantNotTrue(t, in.Status.Conditions, v1beta1.ConditionOrphanMitigation)
	if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned {
		t.Errorf("provisionStatus = %q, want Provisioned", in.Status.ProvisionStatus)
	}
	f.broker.UpdateFn = nil
	f.mustInstance(in.Name)
	f.wantCalls()
	f.noLeak(secret)
}

// TestInstanceDeleteWaitsForBindings: an instance with a binding is not deprovisioned;
// once the binding is gone it is, and a 410 lets the object go.
func TestInstanceDeleteWaitsForBindings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	secret := "pw-" + randSuffix()
	in := f.provisioned(map[string]any{"password": secret})
	b := &v1beta1.ServiceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bind-" + randSuffix(), Namespace: f.ns},
		Spec:       v1beta1.ServiceBindingSpec{InstanceRef: v1beta1.LocalObjectReference{Name: in.Name}},
	}
	f.create(b)
	f.delete(in)

	res := f.mustInstance(in.Name)
	f.wantCalls()
	if res.RequeueAfter <= 0 {
		t.Errorf("blocked deletion: result %+v, want a RequeueAfter", res)
	}
	f.get(in)
	wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonDeprovisionBlockedByBindings)

	f.delete(b)
	var ids []string
	f.broker.DeprovisionFn = func(_ context.Context, instanceID, serviceID, planID string, _ *osbclient.Identity) (*osbclient.Response, error) {
		ids = []string{instanceID, serviceID, planID}
		return nil, httpError(410, "", "")
	}
	f.mustInstance(in.Name)
	f.wantCalls("Deprovision")
	if diff := cmp.Diff([]string{in.Spec.ExternalID, f.class.Spec.ExternalID, f.plan.Spec.ExternalID}, ids); diff != "" {
		t.Errorf("Deprovision(instance, service, plan) (-want +got):\n%s", diff)
	}
	if !f.gone(in) {
		t.Errorf("instance still there after the deprovision: finalizers %v", in.Finalizers)
	}
	if diff := cmp.Diff([]string{ReasonProvisioning, ReasonProvisionedSuccessfully, ReasonDeprovisionBlockedByBindings,
		ReasonDeprovisioning, ReasonDeprovisionedSuccessfully}, f.events.reasons(in.Name)); diff != "" {
		t.Errorf("Events of the instance (-want +got):\n%s", diff)
	}
	f.noLeak(secret)
}

// TestInstanceParametersFrom: parametersFrom Secrets are merged into the parameters;
// a missing or malformed one stops the provision with a message that names it, never
// a value.
func TestInstanceParametersFrom(t *testing.T) {
	t.Parallel()
	t.Run("merged", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		pw, key := "pw-"+randSuffix(), "key-"+randSuffix()
		f.create(&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "params", Namespace: f.ns},
			Data:       map[string][]byte{"extra": []byte(`{"apiKey":"` + key + `","size":"large"}`)},
		})
		in := f.newInstance(map[string]any{"password": pw, "size": "small"},
			v1beta1.ParametersFromSource{SecretKeyRef: &v1beta1.SecretKeyReference{Name: "params", Key: "extra"}})
		var sent map[string]any
		f.broker.ProvisionFn = func(_ context.Context, _ string, r *osbclient.ProvisionRequest, _ *osbclient.Identity) (*osbclient.Response, error) {
			sent = r.Parameters
			return &osbclient.Response{StatusCode: 201}, nil
		}
		f.mustInstance(in.Name)
		f.wantCalls("Provision")
		if diff := cmp.Diff(map[string]any{"password": pw, "size": "large", "apiKey": key}, sent); diff != "" {
			t.Errorf("provision parameters (-want +got):\n%s", diff)
		}
		f.get(in)
		wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully)
		if in.Status.ExternalProperties == nil || len(in.Status.ExternalProperties.ParameterChecksum) != 64 {
			t.Errorf("status.externalProperties = %+v, want a SHA-256 checksum of the parameters", in.Status.ExternalProperties)
		}
		f.noLeak(pw, key)
	})
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret // nil: none
		want   []string       // in the message
	}{
		{"missing Secret", nil, []string{`Secret "params"`, "not found"}},
		{"not a JSON object", &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "params"},
			Data:       map[string][]byte{"extra": []byte("hunter2-" + randSuffix())},
		}, []string{`Secret "params"`, `key "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			pw := "pw-" + randSuffix()
			secrets := []string{pw}
			if tc.secret != nil {
				tc.secret.Namespace = f.ns
				f.create(tc.secret)
				secrets = append(secrets, string(tc.secret.Data["extra"]))
			}
			in := f.newInstance(map[string]any{"password": pw},
				v1beta1.ParametersFromSource{SecretKeyRef: &v1beta1.SecretKeyReference{Name: "params", Key: "extra"}})
			// ProvisionFn is unset: a provision fails the test.
			if _, err := f.reconcileInstance(in.Name); err == nil {
				t.Errorf("Reconcile: no error, want one (retried with backoff until the Secret is right)")
			}
			f.wantCalls()
			f.get(in)
			c := wantCondition(t, in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonErrorWithParameters)
			for _, w := range tc.want {
				wantContains(t, "Ready message", c.Message, w)
			}
			f.noLeak(secrets...)
		})
	}
}

// bindingFixture is a fixture with a provisioned instance and a binding of it that has
// its external id, Secret name and finalizer.
func bindingFixture(t *testing.T) (*fixture, *v1beta1.ServiceInstance, *v1beta1.ServiceBinding) {
	t.Helper()
	f := newFixture(t)
	in := f.provisioned(map[string]any{"size": "small"})
	token := "bindtok-" + randSuffix()
	f.secrets = append(f.secrets, token)
	b := &v1beta1.ServiceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bind-" + randSuffix(), Namespace: f.ns},
		Spec: v1beta1.ServiceBindingSpec{
			InstanceRef: v1beta1.LocalObjectReference{Name: in.Name},
			Parameters:  rawParams(t, map[string]any{"role": "reader", "token": token}),
		},
	}
	f.create(b)
	f.mustBinding(b.Name)
	f.get(b)
	if b.Spec.ExternalID == "" || b.Spec.SecretName != b.Name || len(b.Finalizers) == 0 {
		t.Fatalf("after the first Reconcile: externalID %q, secretName %q, finalizers %v", b.Spec.ExternalID, b.Spec.SecretName, b.Finalizers)
	}
	return f, in, b
}

// credentials are a bind's credentials: a string, a number and an object, as the OSB
// client decodes them.
func credentials(pw string) map[string]any {
	return map[string]any{
		"uri":  "postgresql://app:" + pw + "@db.example:5432/app",
		"port": float64(5432),
		"tls":  map[string]any{"verify": true, "ca": "ca-" + pw},
	}
}

// wantBindingSecret checks the binding's Secret: owned by the binding, typed by the
// class's first tag, every credential an entry, with type and provider added.
func wantBindingSecret(f *fixture, b *v1beta1.ServiceBinding, pw string) {
	f.t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: b.Spec.SecretName, Namespace: f.ns}}
	f.get(sec)
	data := map[string]string{}
	for k, v := range sec.Data {
		data[k] = string(v)
	}
	want := map[string]string{
		"uri":      "postgresql://app:" + pw + "@db.example:5432/app",
		"port":     "5432",
		"tls":      `{"ca":"ca-` + pw + `","verify":true}`,
		"type":     "postgresql",
		"provider": "cloudify",
	}
	if diff := cmp.Diff(want, data); diff != "" {
		f.t.Errorf("Secret data (-want +got):\n%s", diff)
	}
	if sec.Type != "servicebinding.io/postgresql" {
		f.t.Errorf("Secret type = %q, want servicebinding.io/postgresql", sec.Type)
	}
	owners := []metav1.OwnerReference{{
		APIVersion: v1beta1.GroupVersion.String(), Kind: "ServiceBinding", Name: b.Name, UID: b.UID,
		Controller: ptr(true), BlockOwnerDeletion: ptr(true),
	}}
	if diff := cmp.Diff(owners, sec.OwnerReferences); diff != "" {
		f.t.Errorf("Secret owner references (-want +got):\n%s", diff)
	}
	if sec.Labels[LabelBinding] != b.Name {
		f.t.Errorf("Secret labels = %v, want %s=%s", sec.Labels, LabelBinding, b.Name)
	}
}

// TestBindingSync: a synchronous bind writes the Secret; deleting the binding unbinds,
// deletes the Secret and lets the binding go.
func TestBindingSync(t *testing.T) {
	t.Parallel()
	f, in, b := bindingFixture(t)
	pw := "pw-" + randSuffix()
	var req *osbclient.BindRequest
	var ids []string
	f.broker.BindFn = func(_ context.Context, instanceID, bindingID string, r *osbclient.BindRequest, _ *osbclient.Identity) (*osbclient.Response, error) {
		req, ids = r, []string{instanceID, bindingID}
		return &osbclient.Response{StatusCode: 201, Credentials: credentials(pw)}, nil
	}
	f.mustBinding(b.Name)
	f.wantCalls("Bind")
	if diff := cmp.Diff([]string{in.Spec.ExternalID, b.Spec.ExternalID}, ids); diff != "" {
		t.Errorf("Bind(instance, binding) (-want +got):\n%s", diff)
	}
	if req != nil {
		got := map[string]any{"service_id": req.ServiceID, "plan_id": req.PlanID, "parameters": req.Parameters}
		want := map[string]any{"service_id": f.class.Spec.ExternalID, "plan_id": f.plan.Spec.ExternalID,
			"parameters": map[string]any{"role": "reader", "token": f.secrets[0]}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("bind request (-want +got):\n%s", diff)
		}
	}
	f.get(b)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonInjectedBindResult)
	if b.Status.Binding == nil || b.Status.Binding.Name != b.Name {
		t.Errorf("status.binding = %+v, want the Secret %s", b.Status.Binding, b.Name)
	}
	wantBindingSecret(f, b, pw)
	f.noLeak(pw)

	// Bound: reconciling again sends nothing.
	f.broker.BindFn = nil
	f.mustBinding(b.Name)
	f.wantCalls()

	f.delete(b)
	f.broker.UnbindFn = func(_ context.Context, instanceID, bindingID, serviceID, planID string, _ *osbclient.Identity) (*osbclient.Response, error) {
		ids = []string{instanceID, bindingID, serviceID, planID}
		return &osbclient.Response{StatusCode: 200}, nil
	}
	f.mustBinding(b.Name)
	f.wantCalls("Unbind")
	if diff := cmp.Diff([]string{in.Spec.ExternalID, b.Spec.ExternalID, f.class.Spec.ExternalID, f.plan.Spec.ExternalID}, ids); diff != "" {
		t.Errorf("Unbind(instance, binding, service, plan) (-want +got):\n%s", diff)
	}
	if !f.gone(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: b.Spec.SecretName, Namespace: f.ns}}) {
		t.Errorf("Secret %s still there after the unbind", b.Spec.SecretName)
	}
	if !f.gone(b) {
		t.Errorf("binding still there after the unbind: finalizers %v", b.Finalizers)
	}
	f.noLeak(pw)
}

// TestBindingServerError: a bind answered 500 is followed by an unbind (orphan
// mitigation), then bound again.
func TestBindingServerError(t *testing.T) {
	t.Parallel()
	f, _, b := bindingFixture(t)
	f.broker.BindFn = func(context.Context, string, string, *osbclient.BindRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return nil, httpError(500, "", "internal error")
	}
	wantRequeue(t, f.mustBinding(b.Name))
	f.wantCalls("Bind")
	f.get(b)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionTrue, ReasonBindingOrphanMitigation)
	wantNotTrue(t, b.Status.Conditions, v1beta1.ConditionReady)

	f.broker.BindFn = nil
	f.broker.UnbindFn = func(context.Context, string, string, string, string, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 200}, nil
	}
	f.mustBinding(b.Name)
	f.wantCalls("Unbind")
	f.get(b)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonBindingOrphanMitigationDone)
	wantNotTrue(t, b.Status.Conditions, v1beta1.ConditionFailed)

	pw := "pw-" + randSuffix()
	f.broker.UnbindFn = nil
	f.broker.BindFn = func(context.Context, string, string, *osbclient.BindRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 201, Credentials: credentials(pw)}, nil
	}
	f.mustBinding(b.Name)
	f.wantCalls("Bind")
	f.get(b)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonInjectedBindResult)
	wantBindingSecret(f, b, pw)
	f.noLeak(pw)
}

// TestBindingRefused: a bind answered 400 is Failed, not unbound, not sent again; its
// deletion sends no unbind either.
func TestBindingRefused(t *testing.T) {
	t.Parallel()
	f, _, b := bindingFixture(t)
	const desc = "role reader does not exist"
	f.broker.BindFn = func(context.Context, string, string, *osbclient.BindRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return nil, httpError(400, "BadRequest", desc)
	}
	f.mustBinding(b.Name)
	f.wantCalls("Bind")
	f.get(b)
	c := wantCondition(t, b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonBindCallFailed)
	wantContains(t, "Failed message", c.Message, desc)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonBindCallFailed)
	wantNotTrue(t, b.Status.Conditions, v1beta1.ConditionOrphanMitigation)

	f.broker.BindFn = nil
	f.mustBinding(b.Name)
	f.wantCalls()

	f.delete(b)
	f.mustBinding(b.Name)
	f.wantCalls()
	if !f.gone(b) {
		t.Errorf("binding still there after its deletion: finalizers %v", b.Finalizers)
	}
}

// TestBindingAsync: a 202 bind is polled, then its credentials fetched.
func TestBindingAsync(t *testing.T) {
	t.Parallel()
	f, in, b := bindingFixture(t)
	f.broker.BindFn = func(context.Context, string, string, *osbclient.BindRequest, *osbclient.Identity) (*osbclient.Response, error) {
		return &osbclient.Response{StatusCode: 202, Async: true, Operation: "bop-1"}, nil
	}
	res := f.mustBinding(b.Name)
	f.wantCalls("Bind")
	if res.RequeueAfter <= 0 {
		t.Fatalf("after a 202: result %+v, want a RequeueAfter", res)
	}
	f.broker.BindFn = nil
	f.mustBinding(b.Name) // not due yet
	f.wantCalls()

	f.clock.Advance(res.RequeueAfter)
	pw := "pw-" + randSuffix()
	f.broker.BindingLastOperationFn = func(_ context.Context, instanceID, bindingID string, r osbclient.LastOperationRequest) (*osbclient.LastOperation, error) {
		want := []any{in.Spec.ExternalID, b.Spec.ExternalID, osbclient.LastOperationRequest{ServiceID: f.class.Spec.ExternalID, PlanID: f.plan.Spec.ExternalID, Operation: "bop-1"}}
		if diff := cmp.Diff(want, []any{instanceID, bindingID, r}); diff != "" {
			t.Errorf("binding last_operation (-want +got):\n%s", diff)
		}
		return &osbclient.LastOperation{State: osbclient.StateSucceeded}, nil
	}
	f.broker.GetBindingFn = func(_ context.Context, instanceID, bindingID string) (map[string]any, error) {
		return credentials(pw), nil
	}
	f.mustBinding(b.Name)
	f.wantCalls("BindingLastOperation", "GetBinding")
	f.get(b)
	wantCondition(t, b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonInjectedBindResult)
	wantBindingSecret(f, b, pw)
	f.noLeak(pw)
}

// rawJSONEqual compares raw JSON by value.
var rawJSONEqual = cmp.Comparer(func(a, b *runtime.RawExtension) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb any
	if json.Unmarshal(a.Raw, &va) != nil || json.Unmarshal(b.Raw, &vb) != nil {
		return false
	}
	return cmp.Equal(va, vb)
})

// TestBrokerCatalog: the catalog becomes classes and plans; a service the catalog drops
// is deleted when unused and marked removed while an instance uses it; a catalog error
// makes the broker not Ready.
func TestBrokerCatalog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	service := func(name string, plans ...osbclient.Plan) osbclient.Service {
		return osbclient.Service{
			ID: uuid.NewString(), Name: name + "-" + randSuffix(), Description: "the " + name + " service",
			Bindable: true, BindingsRetrievable: true, PlanUpdateable: true,
			Tags: []string{name, "ctlunit"}, Requires: []string{"volume_mount"},
			Metadata: json.RawMessage(`{"displayName":"` + name + `"}`), Plans: plans,
		}
	}
	plan := func(name string, free *bool) osbclient.Plan {
		p := osbclient.Plan{ID: uuid.NewString(), Name: name, Description: "plan " + name, Free: free, Bindable: ptr(false),
			Metadata: json.RawMessage(`{"bullets":["one"]}`), Schemas: &osbclient.Schemas{}}
		p.Schemas.ServiceInstance.Create = &osbclient.SchemaParameters{Parameters: json.RawMessage(`{"type":"object","properties":{"size":{"type":"string"}}}`)}
		return p
	}
	a := service("alpha", plan("small", nil), plan("large", ptr(false)))
	b := service("beta", plan("default", ptr(true)))
	c := service("gamma", plan("default", nil))
	catalog := &osbclient.Catalog{Services: []osbclient.Service{a, b, c}}
	var catalogErr error
	f.broker.CatalogFn = func(context.Context) (*osbclient.Catalog, error) { return catalog, catalogErr }

	res := f.mustBroker()
	f.wantCalls("Catalog")
	if res.RequeueAfter <= 0 {
		t.Errorf("result %+v, want a RequeueAfter (the relist)", res)
	}
	br := &v1beta1.ClusterServiceBroker{ObjectMeta: metav1.ObjectMeta{Name: f.brokerName}}
	f.get(br)
	wantCondition(t, br.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonFetchedCatalog)
	if br.Status.LastCatalogRetrievalTime == nil {
		t.Errorf("status.lastCatalogRetrievalTime not set")
	}

	wantClasses := map[string]v1beta1.ClusterServiceClassSpec{}
	wantPlans := map[string]v1beta1.ClusterServicePlanSpec{}
	for _, s := range catalog.Services {
		wantClasses[s.ID] = v1beta1.ClusterServiceClassSpec{
			ClusterServiceBrokerName: f.brokerName, ExternalName: s.Name, ExternalID: s.ID, Description: s.Description,
			Bindable: true, BindingRetrievable: true, PlanUpdatable: true, Tags: s.Tags, Requires: s.Requires,
			ExternalMetadata: &runtime.RawExtension{Raw: s.Metadata},
		}
		for _, p := range s.Plans {
			free := p.Free == nil || *p.Free
			wantPlans[p.ID] = v1beta1.ClusterServicePlanSpec{
				ClusterServiceBrokerName: f.brokerName, ExternalName: p.Name, ExternalID: p.ID, Description: p.Description,
				Bindable: ptr(false), Free: free, ExternalMetadata: &runtime.RawExtension{Raw: p.Metadata},
				InstanceCreateParameterSchema: &runtime.RawExtension{Raw: p.Schemas.ServiceInstance.Create.Parameters},
				ClusterServiceClassRef:        v1beta1.ClusterObjectReference{Name: s.ID},
			}
		}
	}
	classes, plans, removed := f.catalogObjects()
	if diff := cmp.Diff(wantClasses, classes, rawJSONEqual); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantPlans, plans, rawJSONEqual); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	// The fixture's own class and plan are not in the catalog and unused: deleted.
	if !f.gone(f.class.DeepCopy()) || !f.gone(f.plan.DeepCopy()) {
		t.Errorf("class %s or plan %s, unused and absent from the catalog, still there", f.class.Name, f.plan.Name)
	}
	if len(removed) > 0 {
		t.Errorf("marked removed: %v, want none", removed)
	}

	// An instance uses beta; the catalog drops beta and gamma.
	in := &v1beta1.ServiceInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "inst-" + randSuffix(), Namespace: f.ns},
		Spec: v1beta1.ServiceInstanceSpec{
			PlanReference:          v1beta1.PlanReference{ClusterServiceClassName: b.ID, ClusterServicePlanName: b.Plans[0].ID},
			ClusterServiceClassRef: &v1beta1.ClusterObjectReference{Name: b.ID},
			ClusterServicePlanRef:  &v1beta1.ClusterObjectReference{Name: b.Plans[0].ID},
		},
	}
	f.create(in)
	catalog = &osbclient.Catalog{Services: []osbclient.Service{a}}
	modify(f, br, func(br *v1beta1.ClusterServiceBroker) { br.Spec.RelistRequests++ })
	f.mustBroker()
	f.wantCalls("Catalog")
	classes, plans, removed = f.catalogObjects()
	delete(wantClasses, c.ID)
	delete(wantPlans, c.Plans[0].ID)
	if diff := cmp.Diff(wantClasses, classes, rawJSONEqual); diff != "" {
		t.Errorf("classes after gamma and beta left the catalog (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantPlans, plans, rawJSONEqual); diff != "" {
		t.Errorf("plans after gamma and beta left the catalog (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{b.ID: true, b.Plans[0].ID: true}, removed); diff != "" {
		t.Errorf("marked removedFromBrokerCatalog (-want +got):\n%s", diff)
	}

	// The catalog cannot be read.
	catalogErr = fmt.Errorf("osbclient: GET /v2/catalog: %w", httpError(503, "", "down for maintenance"))
	modify(f, br, func(br *v1beta1.ClusterServiceBroker) { br.Spec.RelistRequests++ })
	if _, err := f.reconcileBroker(); err == nil {
		t.Errorf("Reconcile with a failing catalog: no error, want one (backoff)")
	}
	f.wantCalls("Catalog")
	f.get(br)
	cd := wantCondition(t, br.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonErrorFetchingCatalog)
	wantContains(t, "Ready message", cd.Message, "down for maintenance")
	if classes2, _, _ := f.catalogObjects(); len(classes2) != len(classes) {
		t.Errorf("after a catalog error: %d classes, want the %d there were", len(classes2), len(classes))
	}
	f.noLeak()
}

// catalogObjects returns the specs of the broker's classes and plans by name, and the
// names of those marked removedFromBrokerCatalog.
func (f *fixture) catalogObjects() (map[string]v1beta1.ClusterServiceClassSpec, map[string]v1beta1.ClusterServicePlanSpec, map[string]bool) {
	f.t.Helper()
	var classes v1beta1.ClusterServiceClassList
	var plans v1beta1.ClusterServicePlanList
	if err := f.c.List(f.ctx, &classes, client.MatchingLabels{LabelBroker: f.brokerName}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.List(f.ctx, &plans, client.MatchingLabels{LabelBroker: f.brokerName}); err != nil {
		f.t.Fatal(err)
	}
	cs, ps, removed := map[string]v1beta1.ClusterServiceClassSpec{}, map[string]v1beta1.ClusterServicePlanSpec{}, map[string]bool{}
	for _, c := range classes.Items {
		cs[c.Name] = c.Spec
		if c.Status.RemovedFromBrokerCatalog {
			removed[c.Name] = true
		}
	}
	for _, p := range plans.Items {
		ps[p.Name] = p.Spec
		if p.Status.RemovedFromBrokerCatalog {
			removed[p.Name] = true
		}
	}
	return cs, ps, removed
}
