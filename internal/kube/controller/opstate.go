package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
)

// opState points at the status fields that a ServiceInstance and a ServiceBinding share,
// so that what both record the same way is written once.
type opState struct {
	obj       client.Object
	conds     *[]v1beta1.Condition
	lastState *string
	async     *bool
	lastOp    **string
	start     **metav1.Time
}

func instanceState(in *v1beta1.ServiceInstance) opState {
	s := &in.Status
	return opState{in, &s.Conditions, &s.LastConditionState, &s.AsyncOpInProgress, &s.LastOperation, &s.OperationStartTime}
}

func bindingState(b *v1beta1.ServiceBinding) opState {
	s := &b.Status
	return opState{b, &s.Conditions, &s.LastConditionState, &s.AsyncOpInProgress, &s.LastOperation, &s.OperationStartTime}
}

// waiting records that the object cannot go on yet (Ready False with reason); with
// cause it returns the error so the workqueue retries with backoff, without it the
// object is looked at again after a quarter of PollMax at the latest.
func (s *shared) waiting(ctx context.Context, st opState, reason, msg string, cause error) (ctrl.Result, error) {
	if setCondition(st.conds, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, s.Opts.Now()) {
		s.Events.Eventf(st.obj, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
		*st.lastState = reason
		if err := s.Status().Update(ctx, st.obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	if cause != nil {
		return ctrl.Result{}, cause
	}
	return ctrl.Result{RequeueAfter: s.pollWait(nil, s.Opts.PollMax/4)}, nil
}

// deleteAnswered records the broker's answer to a deprovision or unbind; done reports
// that the broker no longer has the instance or binding (200, or 410). A 202 starts the
// polling, a ConcurrencyError asks again later, any other error is shown in Ready
// (reason, action name the call) and retried with backoff.
func (s *shared) deleteAnswered(ctx context.Context, st opState, resp *osbclient.Response, err error, reason, action string) (done bool, _ ctrl.Result, _ error) {
	switch {
	case osbclient.IsGone(err):
		return true, ctrl.Result{}, nil
	case osbclient.IsConcurrencyError(err):
		return false, ctrl.Result{RequeueAfter: s.pollWait(*st.start, 0)}, nil
	case err != nil:
		msg := action + " call failed: " + describe(err)
		if setCondition(st.conds, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, s.Opts.Now()) {
			*st.lastState = reason
			s.Events.Eventf(st.obj, nil, corev1.EventTypeWarning, reason, action, "%s", msg)
			_ = s.Status().Update(ctx, st.obj)
		}
		return false, ctrl.Result{}, err
	case resp.Async:
		res, err := s.startPolling(ctx, st, resp.Operation)
		return false, res, err
	}
	return true, ctrl.Result{}, nil
}

// startPolling records an operation the broker runs in the background (202) and
// schedules its first poll.
func (s *shared) startPolling(ctx context.Context, st opState, operation string) (ctrl.Result, error) {
	*st.async = true
	*st.lastOp = ptr(operation)
	if err := s.Status().Update(ctx, st.obj); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.schedulePoll(st.obj.GetUID(), s.Opts.PollMin)}, nil
}
