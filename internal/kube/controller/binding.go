package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
)

// Binding condition reasons (also the reasons of the Events).
const (
	ReasonBinding                     = "Binding"
	ReasonInjectedBindResult          = "InjectedBindResult"
	ReasonBindCallFailed              = "BindCallFailed"
	ReasonBindFailed                  = "BindFailed"
	ReasonErrorInjectingBindResult    = "ErrorInjectingBindResult"
	ReasonErrorNonexistentInstance    = "ReferencesNonexistentInstance"
	ReasonErrorInstanceNotReady       = "ErrorInstanceNotReady"
	ReasonErrorNotBindable            = "ErrorNonbindableServiceClass"
	ReasonUnbinding                   = "Unbinding"
	ReasonUnboundSuccessfully         = "UnboundSuccessfully"
	ReasonUnbindCallFailed            = "UnbindCallFailed"
	ReasonBindingOrphanMitigation     = "StartingOrphanMitigation"
	ReasonBindingOrphanMitigationDone = "OrphanMitigationSuccessful"
)

// BindingReconciler drives bind and unbind of ServiceBindings and keeps their Secrets.
type BindingReconciler struct{ *shared }

// bindTarget is what a bind or unbind needs of the instance.
type bindTarget struct {
	instance *v1beta1.ServiceInstance
	class    *v1beta1.ClusterServiceClass
	planID   string
	broker   Broker
}

// Reconcile moves one binding one step towards its spec.
func (r *BindingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var b v1beta1.ServiceBinding
	// Read past the cache: a cached copy may lag behind this controller's own last
	// write, and acting on it would repeat a call (a second PUT, a second unbind).
	if err := r.APIReader.Get(ctx, req.NamespacedName, &b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &b)
	}
	if b.Spec.ExternalID == "" || b.Spec.SecretName == "" || !controllerutil.ContainsFinalizer(&b, BindingFinalizer) {
		if b.Spec.ExternalID == "" {
			b.Spec.ExternalID = r.Opts.NewID()
		}
		if b.Spec.SecretName == "" {
			b.Spec.SecretName = b.Name
		}
		controllerutil.AddFinalizer(&b, BindingFinalizer)
		// A finalizer alone leaves the generation as it was, so no event follows: look again.
		return ctrl.Result{RequeueAfter: soon}, r.Update(ctx, &b)
	}
	if b.Status.AsyncOpInProgress {
		if wait := r.pollDue(b.UID); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.poll(ctx, &b)
	}
	if b.Status.OrphanMitigationInProgress {
		return r.orphanMitigation(ctx, &b)
	}
	if conditionTrue(b.Status.Conditions, v1beta1.ConditionFailed) && b.Status.ReconciledGeneration == b.Generation {
		return ctrl.Result{}, nil
	}
	if conditionTrue(b.Status.Conditions, v1beta1.ConditionReady) && b.Status.ReconciledGeneration == b.Generation {
		// Bound: make sure the Secret is still there; a deleted one is recovered by a
		// repeated bind, which the broker answers with the same credentials.
		var sec corev1.Secret
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.SecretName}, &sec)
		if err == nil {
			return ctrl.Result{}, nil
		}
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.Opts.Log.Info("binding Secret missing; binding again to restore it", "namespace", b.Namespace, "binding", b.Name)
	}

	t, result, err := r.target(ctx, &b)
	if t == nil {
		return result, err
	}
	params, _, err := r.parameters(ctx, b.Namespace, b.Spec.Parameters, b.Spec.ParametersFrom)
	if err != nil {
		return r.waiting(ctx, bindingState(&b), ReasonErrorWithParameters, err.Error(), err)
	}
	if b.Status.CurrentOperation != v1beta1.OperationBind {
		now := r.Opts.Now()
		b.Status.CurrentOperation = v1beta1.OperationBind
		b.Status.OperationStartTime = ptr(metav1.NewTime(now))
		b.Status.UnbindStatus = v1beta1.UnbindStatusRequired
		setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonBinding, "The binding is being created", now)
		setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, ReasonBinding, "", now)
		b.Status.LastConditionState = ReasonBinding
		if err := r.Status().Update(ctx, &b); err != nil {
			return ctrl.Result{}, err
		}
		r.Events.Eventf(&b, nil, corev1.EventTypeNormal, ReasonBinding, "Bind", "Binding to instance %s", t.instance.Name)
	}
	resp, err := t.broker.Bind(ctx, t.instance.Spec.ExternalID, b.Spec.ExternalID, &osbclient.BindRequest{
		ServiceID:  t.class.Spec.ExternalID,
		PlanID:     t.planID,
		Context:    map[string]any{"platform": "kubernetes", "namespace": b.Namespace, "clusterid": r.Opts.ClusterID},
		Parameters: params,
	}, identity(b.Spec.UserInfo))
	if err != nil {
		switch {
		case osbclient.IsConcurrencyError(err):
			return ctrl.Result{RequeueAfter: r.pollWait(b.Status.OperationStartTime, 0)}, nil
		case osbclient.Unreached(err):
			return r.waiting(ctx, bindingState(&b), ReasonErrorReachingBroker, "The broker could not be reached; retrying: "+describe(err), err)
		case osbclient.IsServerError(err) || osbclient.StatusOf(err) == 0:
			return r.startOrphanMitigation(ctx, &b, "Bind call failed: "+describe(err))
		default:
			b.Status.UnbindStatus = v1beta1.UnbindStatusNotRequired
			return r.failed(ctx, &b, ReasonBindCallFailed, "Bind call failed: "+describe(err))
		}
	}
	if resp.Async {
		return r.startPolling(ctx, bindingState(&b), resp.Operation)
	}
	return r.inject(ctx, &b, t, resp.Credentials)
}

// target resolves the binding's instance, class, plan and broker. A nil target means
// the caller returns result and err.
func (r *BindingReconciler) target(ctx context.Context, b *v1beta1.ServiceBinding) (*bindTarget, ctrl.Result, error) {
	var in v1beta1.ServiceInstance
	if err := r.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.InstanceRef.Name}, &in); err != nil {
		if apierrors.IsNotFound(err) {
			res, err := r.waiting(ctx, bindingState(b), ReasonErrorNonexistentInstance, fmt.Sprintf("ServiceInstance %q does not exist", b.Spec.InstanceRef.Name), nil)
			return nil, res, err
		}
		return nil, ctrl.Result{}, err
	}
	if b.DeletionTimestamp.IsZero() {
		if !in.DeletionTimestamp.IsZero() {
			res, err := r.waiting(ctx, bindingState(b), ReasonErrorInstanceNotReady, fmt.Sprintf("ServiceInstance %q is being deleted", in.Name), nil)
			return nil, res, err
		}
		if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned ||
			(in.Status.AsyncOpInProgress && in.Status.CurrentOperation == v1beta1.OperationProvision) {
			res, err := r.waiting(ctx, bindingState(b), ReasonErrorInstanceNotReady, fmt.Sprintf("ServiceInstance %q is not provisioned yet", in.Name), nil)
			return nil, res, err
		}
	}
	if in.Spec.ClusterServiceClassRef == nil {
		return nil, ctrl.Result{}, fmt.Errorf("instance %s has no resolved class", in.Name)
	}
	var class v1beta1.ClusterServiceClass
	if err := r.Get(ctx, types.NamespacedName{Name: in.Spec.ClusterServiceClassRef.Name}, &class); err != nil {
		return nil, ctrl.Result{}, fmt.Errorf("class %s: %w", in.Spec.ClusterServiceClassRef.Name, err)
	}
	planID := ""
	if ext := in.Status.ExternalProperties; ext != nil {
		planID = ext.ClusterServicePlanExternalID
	}
	if b.DeletionTimestamp.IsZero() && in.Spec.ClusterServicePlanRef != nil {
		var plan v1beta1.ClusterServicePlan
		if err := r.Get(ctx, types.NamespacedName{Name: in.Spec.ClusterServicePlanRef.Name}, &plan); err == nil {
			bindable := class.Spec.Bindable
			if plan.Spec.Bindable != nil {
				bindable = *plan.Spec.Bindable
			}
			if !bindable {
				b.Status.UnbindStatus = v1beta1.UnbindStatusNotRequired
				res, err := r.failed(ctx, b, ReasonErrorNotBindable, fmt.Sprintf("plan %q of class %q is not bindable", plan.Spec.ExternalName, class.Spec.ExternalName))
				return nil, res, err
			}
		}
	}
	bc, _, err := r.brokerClient(ctx, class.Spec.ClusterServiceBrokerName)
	if err != nil {
		res, err2 := r.waiting(ctx, bindingState(b), ReasonErrorBrokerNotReady, err.Error(), err)
		return nil, res, err2
	}
	return &bindTarget{instance: &in, class: &class, planID: planID, broker: bc}, ctrl.Result{}, nil
}

// failed records a refused or failed bind as final for this generation.
func (r *BindingReconciler) failed(ctx context.Context, b *v1beta1.ServiceBinding, reason, msg string) (ctrl.Result, error) {
	now := r.Opts.Now()
	b.Status.AsyncOpInProgress = false
	b.Status.LastOperation = nil
	b.Status.CurrentOperation = ""
	b.Status.ReconciledGeneration = b.Generation
	setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, reason, msg, now)
	setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, now)
	b.Status.LastConditionState = reason
	if err := r.Status().Update(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(b, nil, corev1.EventTypeWarning, reason, "Bind", "%s", msg)
	return ctrl.Result{}, nil
}

// poll asks the broker about the bind or unbind in progress.
func (r *BindingReconciler) poll(ctx context.Context, b *v1beta1.ServiceBinding) (ctrl.Result, error) {
	t, result, err := r.target(ctx, b)
	if t == nil {
		return result, err
	}
	req := osbclient.LastOperationRequest{ServiceID: t.class.Spec.ExternalID, PlanID: t.planID}
	if b.Status.LastOperation != nil {
		req.Operation = *b.Status.LastOperation
	}
	op := b.Status.CurrentOperation
	lo, err := t.broker.BindingLastOperation(ctx, t.instance.Spec.ExternalID, b.Spec.ExternalID, req)
	if err != nil {
		if osbclient.IsGone(err) && op == v1beta1.OperationUnbind {
			return r.unbound(ctx, b)
		}
		return ctrl.Result{}, err
	}
	switch lo.State {
	case osbclient.StateInProgress:
		return ctrl.Result{RequeueAfter: r.schedulePoll(b.UID, r.pollWait(b.Status.OperationStartTime, lo.RetryAfter))}, nil
	case osbclient.StateSucceeded:
		r.forgetPoll(b.UID)
		b.Status.AsyncOpInProgress = false
		b.Status.LastOperation = nil
		if op == v1beta1.OperationUnbind {
			return r.unbound(ctx, b)
		}
		creds, err := t.broker.GetBinding(ctx, t.instance.Spec.ExternalID, b.Spec.ExternalID)
		if err != nil {
			return ctrl.Result{}, err
		}
		return r.inject(ctx, b, t, creds)
	default:
		r.forgetPoll(b.UID)
		b.Status.AsyncOpInProgress = false
		b.Status.LastOperation = nil
		desc := lo.Description
		if desc == "" {
			desc = "the broker gave no description"
		}
		if op == v1beta1.OperationUnbind {
			b.Status.UnbindStatus = v1beta1.UnbindStatusFailed
			b.Status.CurrentOperation = ""
			setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonUnbindCallFailed, "Unbind failed: "+desc, r.Opts.Now())
			b.Status.LastConditionState = ReasonUnbindCallFailed
			r.Events.Eventf(b, nil, corev1.EventTypeWarning, ReasonUnbindCallFailed, "Unbind", "Unbind failed: %s", desc)
			if err := r.Status().Update(ctx, b); err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{RequeueAfter: r.Opts.PollMax}, nil
		}
		setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonBindFailed, "Bind failed: "+desc, r.Opts.Now())
		return r.startOrphanMitigation(ctx, b, "Bind failed: "+desc)
	}
}

// inject writes the credentials into the binding's Secret and marks the binding Ready.
func (r *BindingReconciler) inject(ctx context.Context, b *v1beta1.ServiceBinding, t *bindTarget, creds map[string]any) (ctrl.Result, error) {
	if err := r.writeSecret(ctx, b, t.class, creds); err != nil {
		msg := "The credentials could not be written: " + err.Error()
		if setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonErrorInjectingBindResult, msg, r.Opts.Now()) {
			b.Status.LastConditionState = ReasonErrorInjectingBindResult
			r.Events.Eventf(b, nil, corev1.EventTypeWarning, ReasonErrorInjectingBindResult, "Bind", "%s", msg)
			_ = r.Status().Update(ctx, b)
		}
		return ctrl.Result{}, err
	}
	now := r.Opts.Now()
	b.Status.AsyncOpInProgress = false
	b.Status.LastOperation = nil
	b.Status.CurrentOperation = ""
	b.Status.OperationStartTime = nil
	b.Status.ReconciledGeneration = b.Generation
	b.Status.UnbindStatus = v1beta1.UnbindStatusRequired
	b.Status.Binding = &v1beta1.SecretReference{Name: b.Spec.SecretName}
	setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonInjectedBindResult, "Injected bind result", now)
	setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, ReasonInjectedBindResult, "", now)
	b.Status.LastConditionState = ReasonInjectedBindResult
	if err := r.Status().Update(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(b, nil, corev1.EventTypeNormal, ReasonInjectedBindResult, "Bind", "Injected the bind result into Secret %s", b.Spec.SecretName)
	r.Opts.Log.Info("binding ready", "namespace", b.Namespace, "binding", b.Name, "binding_id", b.Spec.ExternalID, "secret", b.Spec.SecretName)
	return ctrl.Result{}, nil
}

// startOrphanMitigation records that the bind's outcome is unknown or failed and that
// an unbind must clean up.
func (r *BindingReconciler) startOrphanMitigation(ctx context.Context, b *v1beta1.ServiceBinding, msg string) (ctrl.Result, error) {
	now := r.Opts.Now()
	b.Status.OrphanMitigationInProgress = true
	b.Status.AsyncOpInProgress = false
	b.Status.LastOperation = nil
	setCondition(&b.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionTrue, ReasonBindingOrphanMitigation, msg, now)
	setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonBindingOrphanMitigation, msg, now)
	b.Status.LastConditionState = ReasonBindingOrphanMitigation
	if err := r.Status().Update(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(b, nil, corev1.EventTypeWarning, ReasonBindingOrphanMitigation, "Unbind", "%s", msg)
	return ctrl.Result{RequeueAfter: soon}, nil
}

// orphanMitigation unbinds after a bind whose outcome is unknown or failed.
func (r *BindingReconciler) orphanMitigation(ctx context.Context, b *v1beta1.ServiceBinding) (ctrl.Result, error) {
	done, result, err := r.sendUnbind(ctx, b)
	if !done {
		return result, err
	}
	return r.orphanMitigated(ctx, b)
}

func (r *BindingReconciler) orphanMitigated(ctx context.Context, b *v1beta1.ServiceBinding) (ctrl.Result, error) {
	now := r.Opts.Now()
	b.Status.OrphanMitigationInProgress = false
	b.Status.AsyncOpInProgress = false
	b.Status.LastOperation = nil
	b.Status.CurrentOperation = ""
	b.Status.UnbindStatus = v1beta1.UnbindStatusNotRequired
	setCondition(&b.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonBindingOrphanMitigationDone, "", now)
	r.Events.Eventf(b, nil, corev1.EventTypeNormal, ReasonBindingOrphanMitigationDone, "Unbind", "Orphan mitigation finished")
	if c := condition(b.Status.Conditions, v1beta1.ConditionFailed); c != nil && c.Status == v1beta1.ConditionTrue {
		b.Status.ReconciledGeneration = b.Generation
		setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, c.Reason, c.Message, now)
		b.Status.LastConditionState = c.Reason
		return ctrl.Result{}, r.Status().Update(ctx, b)
	}
	if err := r.Status().Update(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.Opts.PollMin}, nil
}

// sendUnbind sends (or polls) an unbind; done reports that the broker no longer has the
// binding.
func (r *BindingReconciler) sendUnbind(ctx context.Context, b *v1beta1.ServiceBinding) (done bool, _ ctrl.Result, _ error) {
	t, result, err := r.target(ctx, b)
	if t == nil {
		return false, result, err
	}
	if b.Status.CurrentOperation != v1beta1.OperationUnbind {
		b.Status.CurrentOperation = v1beta1.OperationUnbind
		b.Status.OperationStartTime = ptr(metav1.NewTime(r.Opts.Now()))
		if err := r.Status().Update(ctx, b); err != nil {
			return false, ctrl.Result{}, err
		}
	}
	resp, err := t.broker.Unbind(ctx, t.instance.Spec.ExternalID, b.Spec.ExternalID, t.class.Spec.ExternalID, t.planID, identity(b.Spec.UserInfo))
	return r.deleteAnswered(ctx, bindingState(b), resp, err, ReasonUnbindCallFailed, "Unbind")
}

// reconcileDelete unbinds a binding being deleted, deletes its Secret, and lets it go.
func (r *BindingReconciler) reconcileDelete(ctx context.Context, b *v1beta1.ServiceBinding) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(b, BindingFinalizer) {
		return ctrl.Result{}, nil
	}
	if b.Status.UnbindStatus == "" || b.Status.UnbindStatus == v1beta1.UnbindStatusNotRequired ||
		b.Status.UnbindStatus == v1beta1.UnbindStatusSucceeded {
		return r.unbound(ctx, b)
	}
	if b.Status.AsyncOpInProgress && b.Status.CurrentOperation == v1beta1.OperationUnbind {
		if wait := r.pollDue(b.UID); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.poll(ctx, b)
	}
	if b.Status.CurrentOperation != v1beta1.OperationUnbind {
		b.Status.AsyncOpInProgress = false
		b.Status.LastOperation = nil
		setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonUnbinding, "The binding is being deleted", r.Opts.Now())
		b.Status.LastConditionState = ReasonUnbinding
		r.Events.Eventf(b, nil, corev1.EventTypeNormal, ReasonUnbinding, "Unbind", "Unbinding")
	}
	done, result, err := r.sendUnbind(ctx, b)
	if !done {
		return result, err
	}
	return r.unbound(ctx, b)
}

// unbound deletes the Secret (credentials must not outlive the binding; a garbage
// collector may lag or be absent) and removes the finalizer of a binding being
// deleted; for orphan mitigation it goes back to binding.
func (r *BindingReconciler) unbound(ctx context.Context, b *v1beta1.ServiceBinding) (ctrl.Result, error) {
	r.forgetPoll(b.UID)
	if err := r.deleteSecret(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	if b.DeletionTimestamp.IsZero() {
		return r.orphanMitigated(ctx, b)
	}
	if b.Status.UnbindStatus == v1beta1.UnbindStatusRequired || b.Status.CurrentOperation == v1beta1.OperationUnbind {
		r.Events.Eventf(b, nil, corev1.EventTypeNormal, ReasonUnboundSuccessfully, "Unbind", "Unbound; Secret %s deleted", b.Spec.SecretName)
		r.Opts.Log.Info("binding unbound", "namespace", b.Namespace, "binding", b.Name, "binding_id", b.Spec.ExternalID)
	}
	if controllerutil.RemoveFinalizer(b, BindingFinalizer) {
		return ctrl.Result{}, client.IgnoreNotFound(r.Update(ctx, b))
	}
	return ctrl.Result{}, nil
}
