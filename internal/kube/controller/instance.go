package controller

import (
	"context"
	"errors"
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

// Instance condition reasons (also the reasons of the Events).
const (
	ReasonProvisioning                      = "Provisioning"
	ReasonProvisionedSuccessfully           = "ProvisionedSuccessfully"
	ReasonProvisionCallFailed               = "ProvisionCallFailed"
	ReasonProvisionFailed                   = "ProvisionFailed"
	ReasonUpdatingInstance                  = "UpdatingInstance"
	ReasonInstanceUpdatedSuccessfully       = "InstanceUpdatedSuccessfully"
	ReasonUpdateInstanceCallFailed          = "UpdateInstanceCallFailed"
	ReasonUpdateInstanceFailed              = "UpdateInstanceFailed"
	ReasonDeprovisioning                    = "Deprovisioning"
	ReasonDeprovisionedSuccessfully         = "DeprovisionedSuccessfully"
	ReasonDeprovisionCallFailed             = "DeprovisionCallFailed"
	ReasonDeprovisionBlockedByBindings      = "DeprovisionBlockedByExistingBindings"
	ReasonReferencesNonexistentServiceClass = "ReferencesNonexistentServiceClass"
	ReasonReferencesNonexistentServicePlan  = "ReferencesNonexistentServicePlan"
	ReasonReferencesRemovedServicePlan      = "ReferencesRemovedServicePlan"
	ReasonErrorWithParameters               = "ErrorWithParameters"
	ReasonErrorReachingBroker               = "ErrorReachingBroker"
	ReasonErrorBrokerNotReady               = "ErrorBrokerNotReady"
	ReasonOrphanMitigationStarted           = "StartingOrphanMitigation"
	ReasonOrphanMitigationSucceeded         = "OrphanMitigationSuccessful"
	ReasonConcurrentOperation               = "ConcurrentOperationInProgress"
	messageProvisioning                     = "The instance is being provisioned asynchronously"
	messageDeprovisionBlocked               = "The instance has bindings; it is deprovisioned once they are deleted"
	messageOrphanMitigation                 = "The broker's answer to the provision was lost or a server error: deprovisioning what it may have created"
)

// InstanceReconciler drives provision, update and deprovision of ServiceInstances.
type InstanceReconciler struct{ *shared }

// resolved is an instance's class, plan and broker.
type resolved struct {
	class  *v1beta1.ClusterServiceClass
	plan   *v1beta1.ClusterServicePlan
	broker Broker
}

// Reconcile moves one instance one step towards its spec.
func (r *InstanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var in v1beta1.ServiceInstance
	// Read past the cache: a cached copy may lag behind this controller's own last
	// write, and acting on it would repeat a call (a second PUT, a second unbind).
	if err := r.APIReader.Get(ctx, req.NamespacedName, &in); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !in.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &in)
	}
	if in.Spec.ExternalID == "" || !controllerutil.ContainsFinalizer(&in, InstanceFinalizer) {
		if in.Spec.ExternalID == "" {
			in.Spec.ExternalID = r.Opts.NewID()
		}
		controllerutil.AddFinalizer(&in, InstanceFinalizer)
		// A finalizer alone leaves the generation as it was, so no event follows: look again.
		return ctrl.Result{RequeueAfter: soon}, r.Update(ctx, &in)
	}
	if in.Status.AsyncOpInProgress {
		if wait := r.pollDue(in.UID); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.poll(ctx, &in)
	}
	if in.Status.OrphanMitigationInProgress {
		return r.orphanMitigation(ctx, &in)
	}

	// A refusal or a failed operation is final for this generation: a spec change (or
	// updateRequests) is what asks again.
	if conditionTrue(in.Status.Conditions, v1beta1.ConditionFailed) &&
		in.Status.ObservedGeneration == in.Generation && in.Status.ObservedUpdateRequests == in.Spec.UpdateRequests {
		return ctrl.Result{}, nil
	}

	res, result, err := r.resolve(ctx, &in)
	if res == nil {
		return result, err
	}
	params, sum, err := r.parameters(ctx, in.Namespace, in.Spec.Parameters, in.Spec.ParametersFrom)
	if err != nil {
		return r.waiting(ctx, instanceState(&in), ReasonErrorWithParameters, err.Error(), err)
	}

	if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned {
		if res.plan.Status.RemovedFromBrokerCatalog || res.class.Status.RemovedFromBrokerCatalog {
			return r.waiting(ctx, instanceState(&in), ReasonReferencesRemovedServicePlan,
				fmt.Sprintf("plan %q of class %q is no longer offered by the broker", res.plan.Spec.ExternalName, res.class.Spec.ExternalName), nil)
		}
		return r.provision(ctx, &in, res, params, sum)
	}
	ext := in.Status.ExternalProperties
	if ext == nil || ext.ClusterServicePlanExternalID != res.plan.Spec.ExternalID || ext.ParameterChecksum != sum ||
		in.Status.ObservedUpdateRequests != in.Spec.UpdateRequests {
		return r.update(ctx, &in, res, params, sum)
	}
	// Nothing to do: make the status say so (e.g. after a Failed update that a spec
	// change reverted).
	now := r.Opts.Now()
	changed := setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, ReasonProvisionedSuccessfully, "", now)
	if c := condition(in.Status.Conditions, v1beta1.ConditionReady); c == nil || c.Status != v1beta1.ConditionTrue {
		changed = setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonProvisionedSuccessfully, "The instance was provisioned successfully", now) || changed
		in.Status.LastConditionState = ReasonProvisionedSuccessfully
	}
	if in.Status.ObservedGeneration != in.Generation {
		in.Status.ObservedGeneration = in.Generation
		changed = true
	}
	if changed {
		return ctrl.Result{}, r.Status().Update(ctx, &in)
	}
	return ctrl.Result{}, nil
}

// resolve finds the instance's class, plan and broker client, writing the resolved
// references into the spec. A nil resolved means the caller returns result and err.
func (r *InstanceReconciler) resolve(ctx context.Context, in *v1beta1.ServiceInstance) (*resolved, ctrl.Result, error) {
	class, err := r.findClass(ctx, in)
	if err != nil {
		res, err := r.waiting(ctx, instanceState(in), ReasonReferencesNonexistentServiceClass, err.Error(), nil)
		return nil, res, err
	}
	plan, err := r.findPlan(ctx, in, class)
	if err != nil {
		res, err := r.waiting(ctx, instanceState(in), ReasonReferencesNonexistentServicePlan, err.Error(), nil)
		return nil, res, err
	}
	if in.Spec.ClusterServiceClassRef == nil || in.Spec.ClusterServiceClassRef.Name != class.Name ||
		in.Spec.ClusterServicePlanRef == nil || in.Spec.ClusterServicePlanRef.Name != plan.Name {
		in.Spec.ClusterServiceClassRef = &v1beta1.ClusterObjectReference{Name: class.Name}
		in.Spec.ClusterServicePlanRef = &v1beta1.ClusterObjectReference{Name: plan.Name}
		if err := r.Update(ctx, in); err != nil {
			return nil, ctrl.Result{}, err
		}
	}
	bc, _, err := r.brokerClient(ctx, class.Spec.ClusterServiceBrokerName)
	if err != nil {
		res, err2 := r.waiting(ctx, instanceState(in), ReasonErrorBrokerNotReady, err.Error(), err)
		return nil, res, err2
	}
	return &resolved{class: class, plan: plan, broker: bc}, ctrl.Result{}, nil
}

func (r *InstanceReconciler) findClass(ctx context.Context, in *v1beta1.ServiceInstance) (*v1beta1.ClusterServiceClass, error) {
	s := in.Spec
	if s.ClusterServiceClassName != "" {
		var c v1beta1.ClusterServiceClass
		if err := r.Get(ctx, types.NamespacedName{Name: s.ClusterServiceClassName}, &c); err != nil {
			return nil, fmt.Errorf("ClusterServiceClass %q: %w", s.ClusterServiceClassName, err)
		}
		return &c, nil
	}
	if s.ClusterServiceClassExternalID != "" {
		var c v1beta1.ClusterServiceClass
		if err := r.Get(ctx, types.NamespacedName{Name: s.ClusterServiceClassExternalID}, &c); err != nil {
			return nil, fmt.Errorf("no ClusterServiceClass with external id %q", s.ClusterServiceClassExternalID)
		}
		return &c, nil
	}
	var list v1beta1.ClusterServiceClassList
	if err := r.List(ctx, &list); err != nil {
		return nil, err
	}
	var found *v1beta1.ClusterServiceClass
	for i := range list.Items {
		c := &list.Items[i]
		if c.Spec.ExternalName != s.ClusterServiceClassExternalName {
			continue
		}
		// The class the instance already uses wins over a namesake of another broker.
		if in.Spec.ClusterServiceClassRef != nil && in.Spec.ClusterServiceClassRef.Name == c.Name {
			return c, nil
		}
		if found != nil {
			return nil, fmt.Errorf("two brokers offer a class named %q: name it by clusterServiceClassName", s.ClusterServiceClassExternalName)
		}
		found = c
	}
	if found == nil {
		return nil, fmt.Errorf("no ClusterServiceClass named %q (kubectl get clusterserviceclasses lists them)", s.ClusterServiceClassExternalName)
	}
	return found, nil
}

func (r *InstanceReconciler) findPlan(ctx context.Context, in *v1beta1.ServiceInstance, class *v1beta1.ClusterServiceClass) (*v1beta1.ClusterServicePlan, error) {
	s := in.Spec
	name := s.ClusterServicePlanName
	if name == "" {
		name = s.ClusterServicePlanExternalID
	}
	if name != "" {
		var p v1beta1.ClusterServicePlan
		if err := r.Get(ctx, types.NamespacedName{Name: name}, &p); err != nil {
			return nil, fmt.Errorf("ClusterServicePlan %q: %w", name, err)
		}
		if p.Spec.ClusterServiceClassRef.Name != class.Name {
			return nil, fmt.Errorf("plan %q is not a plan of class %q", name, class.Spec.ExternalName)
		}
		return &p, nil
	}
	var list v1beta1.ClusterServicePlanList
	if err := r.List(ctx, &list, client.MatchingLabels{LabelBroker: class.Spec.ClusterServiceBrokerName}); err != nil {
		return nil, err
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.ClusterServiceClassRef.Name == class.Name && p.Spec.ExternalName == s.ClusterServicePlanExternalName {
			return p, nil
		}
	}
	return nil, fmt.Errorf("class %q has no plan named %q", class.Spec.ExternalName, s.ClusterServicePlanExternalName)
}

// k8sContext is the OSB context of the kubernetes platform for an instance.
func (r *InstanceReconciler) k8sContext(in *v1beta1.ServiceInstance) map[string]any {
	return map[string]any{"platform": "kubernetes", "namespace": in.Namespace, "clusterid": r.Opts.ClusterID, "instance_name": in.Name}
}

// namespaceUID is the space_guid of the kubernetes profile: the namespace's uid.
func (r *InstanceReconciler) namespaceUID(ctx context.Context, ns string) string {
	var n corev1.Namespace
	if err := r.APIReader.Get(ctx, types.NamespacedName{Name: ns}, &n); err == nil && n.UID != "" {
		return string(n.UID)
	}
	return ns
}

// beginOperation writes the status of an operation about to be sent, before it is sent:
// a crash after the call then repeats the call, which the broker answers idempotently.
func (r *InstanceReconciler) beginOperation(ctx context.Context, in *v1beta1.ServiceInstance, op v1beta1.ServiceInstanceOperation, res *resolved, sum, reason, msg string) error {
	now := r.Opts.Now()
	in.Status.CurrentOperation = op
	in.Status.OperationStartTime = ptr(metav1.NewTime(now))
	in.Status.InProgressProperties = &v1beta1.ServiceInstancePropertiesState{
		ClusterServicePlanExternalName: res.plan.Spec.ExternalName,
		ClusterServicePlanExternalID:   res.plan.Spec.ExternalID,
		ParameterChecksum:              sum,
		UserInfo:                       in.Spec.UserInfo,
	}
	in.Status.ObservedGeneration = in.Generation
	if op == v1beta1.OperationProvision {
		in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusRequired
		in.Status.ProvisionStatus = v1beta1.ProvisionStatusNotProvisioned
	}
	setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, now)
	setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, reason, "", now)
	in.Status.LastConditionState = reason
	return r.Status().Update(ctx, in)
}

func (r *InstanceReconciler) provision(ctx context.Context, in *v1beta1.ServiceInstance, res *resolved, params map[string]any, sum string) (ctrl.Result, error) {
	if in.Status.CurrentOperation != v1beta1.OperationProvision {
		if err := r.beginOperation(ctx, in, v1beta1.OperationProvision, res, sum, ReasonProvisioning, messageProvisioning); err != nil {
			return ctrl.Result{}, err
		}
		r.Events.Eventf(in, nil, corev1.EventTypeNormal, ReasonProvisioning, "Provision", "Provisioning %s/%s", res.class.Spec.ExternalName, res.plan.Spec.ExternalName)
	}
	resp, err := res.broker.Provision(ctx, in.Spec.ExternalID, &osbclient.ProvisionRequest{
		ServiceID:        res.class.Spec.ExternalID,
		PlanID:           res.plan.Spec.ExternalID,
		OrganizationGUID: r.Opts.ClusterID,
		SpaceGUID:        r.namespaceUID(ctx, in.Namespace),
		Context:          r.k8sContext(in),
		Parameters:       params,
	}, identity(in.Spec.UserInfo))
	if err != nil {
		switch {
		case osbclient.IsConcurrencyError(err):
			return r.retryLater(ctx, in, ReasonConcurrentOperation, describe(err))
		case osbclient.Unreached(err):
			return r.brokerUnreachable(ctx, in, err)
		case osbclient.IsServerError(err) || osbclient.StatusOf(err) == 0:
			// A 5xx or a lost answer: the broker may have created something.
			return r.startOrphanMitigation(ctx, in, describe(err))
		default:
			// Any other refusal (400, 409, 422): nothing was created.
			in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusNotRequired
			return r.failed(ctx, in, ReasonProvisionCallFailed, "Provision call failed: "+describe(err))
		}
	}
	return r.accepted(ctx, in, resp)
}

// accepted records a provision or update the broker took: done (200, 201) or running
// in the background (202, polled from now on).
func (r *InstanceReconciler) accepted(ctx context.Context, in *v1beta1.ServiceInstance, resp *osbclient.Response) (ctrl.Result, error) {
	if resp.DashboardURL != nil && *resp.DashboardURL != "" {
		in.Status.DashboardURL = resp.DashboardURL
	}
	if resp.Async {
		return r.startPolling(ctx, instanceState(in), resp.Operation)
	}
	return r.succeeded(ctx, in, "")
}

func (r *InstanceReconciler) update(ctx context.Context, in *v1beta1.ServiceInstance, res *resolved, params map[string]any, sum string) (ctrl.Result, error) {
	if in.Status.CurrentOperation != v1beta1.OperationUpdate {
		if err := r.beginOperation(ctx, in, v1beta1.OperationUpdate, res, sum, ReasonUpdatingInstance, "The instance is being updated asynchronously"); err != nil {
			return ctrl.Result{}, err
		}
		r.Events.Eventf(in, nil, corev1.EventTypeNormal, ReasonUpdatingInstance, "Update", "Updating the instance (plan %s)", res.plan.Spec.ExternalName)
	}
	req := &osbclient.UpdateRequest{
		ServiceID:  res.class.Spec.ExternalID,
		PlanID:     res.plan.Spec.ExternalID,
		Context:    r.k8sContext(in),
		Parameters: params,
	}
	if ext := in.Status.ExternalProperties; ext != nil && ext.ClusterServicePlanExternalID != "" {
		req.PreviousValues = &osbclient.PreviousValues{PlanID: ext.ClusterServicePlanExternalID}
	}
	resp, err := res.broker.Update(ctx, in.Spec.ExternalID, req, identity(in.Spec.UserInfo))
	if err != nil {
		switch {
		case osbclient.IsConcurrencyError(err):
			return r.retryLater(ctx, in, ReasonConcurrentOperation, describe(err))
		case osbclient.StatusOf(err) == 0 || osbclient.IsServerError(err):
			// No orphan mitigation for updates (OSB): ask again with backoff.
			return r.brokerUnreachable(ctx, in, err)
		default:
			return r.updateFailed(ctx, in, ReasonUpdateInstanceCallFailed, "Update call failed: "+describe(err), true) // refused: the instance is as it was
		}
	}
	return r.accepted(ctx, in, resp)
}

// poll asks the broker about the operation in progress.
func (r *InstanceReconciler) poll(ctx context.Context, in *v1beta1.ServiceInstance) (ctrl.Result, error) {
	svc, plan, bc, err := r.idsOf(ctx, in)
	if err != nil {
		return ctrl.Result{}, err
	}
	req := osbclient.LastOperationRequest{ServiceID: svc, PlanID: plan}
	if in.Status.LastOperation != nil {
		req.Operation = *in.Status.LastOperation
	}
	lo, err := bc.InstanceLastOperation(ctx, in.Spec.ExternalID, req)
	op := in.Status.CurrentOperation
	if err != nil {
		if osbclient.IsGone(err) && (op == v1beta1.OperationDeprovision) {
			return r.deprovisioned(ctx, in)
		}
		r.Opts.Log.Warn("last_operation failed; retrying with backoff", "namespace", in.Namespace, "instance", in.Name, "error", describe(err))
		return ctrl.Result{}, err
	}
	switch lo.State {
	case osbclient.StateInProgress:
		msg := lo.Description
		if msg == "" {
			msg = fmt.Sprintf("%s in progress", op)
		}
		reason := map[v1beta1.ServiceInstanceOperation]string{
			v1beta1.OperationProvision: ReasonProvisioning, v1beta1.OperationUpdate: ReasonUpdatingInstance,
			v1beta1.OperationDeprovision: ReasonDeprovisioning,
		}[op]
		if in.Status.OrphanMitigationInProgress {
			reason = ReasonOrphanMitigationStarted
		}
		if setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, r.Opts.Now()) {
			in.Status.LastConditionState = reason
			if err := r.Status().Update(ctx, in); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{RequeueAfter: r.schedulePoll(in.UID, r.pollWait(in.Status.OperationStartTime, lo.RetryAfter))}, nil
	case osbclient.StateSucceeded:
		r.forgetPoll(in.UID)
		if op == v1beta1.OperationDeprovision {
			return r.deprovisioned(ctx, in)
		}
		return r.succeeded(ctx, in, lo.Description)
	default: // failed
		r.forgetPoll(in.UID)
		in.Status.AsyncOpInProgress = false
		in.Status.LastOperation = nil
		desc := lo.Description
		if desc == "" {
			desc = "the broker gave no description"
		}
		switch op {
		case v1beta1.OperationProvision:
			// OSB: a failed provision is followed by orphan mitigation; Failed stays.
			now := r.Opts.Now()
			setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonProvisionFailed, "Provision failed: "+desc, now)
			r.Events.Eventf(in, nil, corev1.EventTypeWarning, ReasonProvisionFailed, "Provision", "Provision failed: %s", desc)
			return r.startOrphanMitigation(ctx, in, "Provision failed: "+desc)
		case v1beta1.OperationUpdate:
			usable := lo.InstanceUsable == nil || *lo.InstanceUsable
			return r.updateFailed(ctx, in, ReasonUpdateInstanceFailed, "Update failed: "+desc, usable)
		default:
			in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusFailed
			in.Status.CurrentOperation = ""
			now := r.Opts.Now()
			setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, ReasonDeprovisionCallFailed, "Deprovision failed: "+desc, now)
			setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonDeprovisionCallFailed, "Deprovision failed: "+desc, now)
			in.Status.LastConditionState = ReasonDeprovisionCallFailed
			r.Events.Eventf(in, nil, corev1.EventTypeWarning, ReasonDeprovisionCallFailed, "Deprovision", "Deprovision failed: %s", desc)
			if err := r.Status().Update(ctx, in); err != nil {
				return ctrl.Result{}, err
			}
			// Keep trying: the object cannot go before the broker lets it.
			return ctrl.Result{RequeueAfter: r.Opts.PollMax}, nil
		}
	}
}

// idsOf returns the service and plan ids the broker knows the instance by, and its
// broker's client.
func (r *InstanceReconciler) idsOf(ctx context.Context, in *v1beta1.ServiceInstance) (svc, plan string, bc Broker, err error) {
	if in.Spec.ClusterServiceClassRef == nil {
		return "", "", nil, errors.New("the instance has no resolved class")
	}
	var class v1beta1.ClusterServiceClass
	if err := r.Get(ctx, types.NamespacedName{Name: in.Spec.ClusterServiceClassRef.Name}, &class); err != nil {
		return "", "", nil, fmt.Errorf("class %s: %w", in.Spec.ClusterServiceClassRef.Name, err)
	}
	switch {
	case in.Status.ExternalProperties != nil && in.Status.CurrentOperation != v1beta1.OperationProvision:
		// During a plan change the broker is asked about the old plan (OSB).
		plan = in.Status.ExternalProperties.ClusterServicePlanExternalID
	case in.Status.InProgressProperties != nil:
		plan = in.Status.InProgressProperties.ClusterServicePlanExternalID
	}
	bc, _, err = r.brokerClient(ctx, class.Spec.ClusterServiceBrokerName)
	if err != nil {
		return "", "", nil, err
	}
	return class.Spec.ExternalID, plan, bc, nil
}

// succeeded records a finished provision or update.
func (r *InstanceReconciler) succeeded(ctx context.Context, in *v1beta1.ServiceInstance, desc string) (ctrl.Result, error) {
	now := r.Opts.Now()
	op := in.Status.CurrentOperation
	reason, msg := ReasonProvisionedSuccessfully, "The instance was provisioned successfully"
	if op == v1beta1.OperationUpdate {
		reason, msg = ReasonInstanceUpdatedSuccessfully, "The instance was updated successfully"
	}
	if desc != "" {
		msg += ": " + desc
	}
	in.Status.AsyncOpInProgress = false
	in.Status.LastOperation = nil
	in.Status.CurrentOperation = ""
	in.Status.OperationStartTime = nil
	in.Status.ProvisionStatus = v1beta1.ProvisionStatusProvisioned
	in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusRequired
	in.Status.ExternalProperties = in.Status.InProgressProperties
	in.Status.InProgressProperties = nil
	in.Status.ReconciledGeneration = in.Status.ObservedGeneration
	in.Status.ObservedUpdateRequests = in.Spec.UpdateRequests
	setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, reason, msg, now)
	setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, reason, "", now)
	setCondition(&in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, reason, "", now)
	in.Status.LastConditionState = reason
	if err := r.Status().Update(ctx, in); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(in, nil, corev1.EventTypeNormal, reason, string(op), "%s", msg)
	r.Opts.Log.Info("instance operation succeeded", "namespace", in.Namespace, "instance", in.Name, "instance_id", in.Spec.ExternalID, "operation", op)
	// Look again: the spec may have changed while the operation ran.
	return ctrl.Result{RequeueAfter: soon}, nil
}

// failed records a refusal or failed operation as final for this generation.
func (r *InstanceReconciler) failed(ctx context.Context, in *v1beta1.ServiceInstance, reason, msg string) (ctrl.Result, error) {
	now := r.Opts.Now()
	in.Status.AsyncOpInProgress = false
	in.Status.LastOperation = nil
	in.Status.CurrentOperation = ""
	in.Status.OperationStartTime = nil
	in.Status.InProgressProperties = nil
	in.Status.ObservedGeneration = in.Generation
	in.Status.ObservedUpdateRequests = in.Spec.UpdateRequests
	setCondition(&in.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, reason, msg, now)
	if in.Status.ProvisionStatus != v1beta1.ProvisionStatusProvisioned {
		setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, now)
	}
	in.Status.LastConditionState = reason
	if err := r.Status().Update(ctx, in); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(in, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
	r.Opts.Log.Info("instance operation failed", "namespace", in.Namespace, "instance", in.Name, "instance_id", in.Spec.ExternalID, "reason", reason)
	return ctrl.Result{}, nil
}

// updateFailed records a failed update; the instance stays Ready when the broker says it
// is still usable.
func (r *InstanceReconciler) updateFailed(ctx context.Context, in *v1beta1.ServiceInstance, reason, msg string, usable bool) (ctrl.Result, error) {
	now := r.Opts.Now()
	st := v1beta1.ConditionTrue
	if !usable {
		st = v1beta1.ConditionFalse
	}
	setCondition(&in.Status.Conditions, v1beta1.ConditionReady, st, reason, msg, now)
	return r.failed(ctx, in, reason, msg)
}

// retryLater keeps the operation pending and asks again with backoff.
func (r *InstanceReconciler) retryLater(ctx context.Context, in *v1beta1.ServiceInstance, reason, msg string) (ctrl.Result, error) {
	if setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, r.Opts.Now()) {
		in.Status.LastConditionState = reason
		if err := r.Status().Update(ctx, in); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: r.pollWait(in.Status.OperationStartTime, 0)}, nil
}

// brokerUnreachable leaves the object as it is and retries with the workqueue's backoff.
func (r *InstanceReconciler) brokerUnreachable(ctx context.Context, in *v1beta1.ServiceInstance, err error) (ctrl.Result, error) {
	msg := "The broker could not be reached; retrying: " + describe(err)
	if setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonErrorReachingBroker, msg, r.Opts.Now()) {
		in.Status.LastConditionState = ReasonErrorReachingBroker
		if uerr := r.Status().Update(ctx, in); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	return ctrl.Result{}, err
}

// startOrphanMitigation records that the provision's outcome is unknown or failed and
// that a deprovision must clean up.
func (r *InstanceReconciler) startOrphanMitigation(ctx context.Context, in *v1beta1.ServiceInstance, msg string) (ctrl.Result, error) {
	now := r.Opts.Now()
	in.Status.OrphanMitigationInProgress = true
	in.Status.AsyncOpInProgress = false
	in.Status.LastOperation = nil
	in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusRequired
	setCondition(&in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionTrue, ReasonOrphanMitigationStarted, msg, now)
	setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonOrphanMitigationStarted, msg, now)
	in.Status.LastConditionState = ReasonOrphanMitigationStarted
	if err := r.Status().Update(ctx, in); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(in, nil, corev1.EventTypeWarning, ReasonOrphanMitigationStarted, "Deprovision", "%s", msg)
	return ctrl.Result{RequeueAfter: soon}, nil
}

// orphanMitigation deprovisions after a provision whose outcome is unknown or failed.
func (r *InstanceReconciler) orphanMitigation(ctx context.Context, in *v1beta1.ServiceInstance) (ctrl.Result, error) {
	done, result, err := r.sendDeprovision(ctx, in)
	if !done {
		return result, err
	}
	now := r.Opts.Now()
	in.Status.OrphanMitigationInProgress = false
	in.Status.ProvisionStatus = v1beta1.ProvisionStatusNotProvisioned
	in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusNotRequired
	in.Status.CurrentOperation = ""
	in.Status.OperationStartTime = nil
	setCondition(&in.Status.Conditions, v1beta1.ConditionOrphanMitigation, v1beta1.ConditionFalse, ReasonOrphanMitigationSucceeded, "", now)
	r.Events.Eventf(in, nil, corev1.EventTypeNormal, ReasonOrphanMitigationSucceeded, "Deprovision", "Orphan mitigation finished")
	if conditionTrue(in.Status.Conditions, v1beta1.ConditionFailed) {
		// A failed provision: final for this generation; keep its message in Ready.
		c := condition(in.Status.Conditions, v1beta1.ConditionFailed)
		setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, c.Reason, c.Message, now)
		in.Status.LastConditionState = c.Reason
		in.Status.ObservedGeneration = in.Generation
		in.Status.ObservedUpdateRequests = in.Spec.UpdateRequests
		in.Status.InProgressProperties = nil
		return ctrl.Result{}, r.Status().Update(ctx, in)
	}
	// An unknown outcome: provision again, after a pause.
	if err := r.Status().Update(ctx, in); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.Opts.PollMin}, nil
}

// sendDeprovision sends (or polls) a deprovision; done reports that the broker no longer
// has the instance.
func (r *InstanceReconciler) sendDeprovision(ctx context.Context, in *v1beta1.ServiceInstance) (done bool, _ ctrl.Result, _ error) {
	svc, plan, bc, err := r.idsOf(ctx, in)
	if err != nil {
		return false, ctrl.Result{}, err
	}
	if in.Status.CurrentOperation != v1beta1.OperationDeprovision {
		in.Status.CurrentOperation = v1beta1.OperationDeprovision
		in.Status.OperationStartTime = ptr(metav1.NewTime(r.Opts.Now()))
		if err := r.Status().Update(ctx, in); err != nil {
			return false, ctrl.Result{}, err
		}
	}
	resp, err := bc.Deprovision(ctx, in.Spec.ExternalID, svc, plan, identity(in.Spec.UserInfo))
	return r.deleteAnswered(ctx, instanceState(in), resp, err, ReasonDeprovisionCallFailed, "Deprovision")
}

// reconcileDelete deprovisions an instance being deleted, once its bindings are gone.
func (r *InstanceReconciler) reconcileDelete(ctx context.Context, in *v1beta1.ServiceInstance) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(in, InstanceFinalizer) {
		return ctrl.Result{}, nil
	}
	var bindings v1beta1.ServiceBindingList
	if err := r.List(ctx, &bindings, client.InNamespace(in.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	n := 0
	for _, b := range bindings.Items {
		if b.Spec.InstanceRef.Name == in.Name {
			n++
		}
	}
	now := r.Opts.Now()
	if n > 0 {
		if setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonDeprovisionBlockedByBindings,
			fmt.Sprintf("%s (%d left)", messageDeprovisionBlocked, n), now) {
			in.Status.LastConditionState = ReasonDeprovisionBlockedByBindings
			r.Events.Eventf(in, nil, corev1.EventTypeWarning, ReasonDeprovisionBlockedByBindings, "Deprovision", "%s", messageDeprovisionBlocked)
			if err := r.Status().Update(ctx, in); err != nil {
				return ctrl.Result{}, err
			}
		}
		// The bindings' deletion wakes the instance up (watch); look again anyway.
		return ctrl.Result{RequeueAfter: r.Opts.PollMax}, nil
	}
	if in.Status.DeprovisionStatus == "" || in.Status.DeprovisionStatus == v1beta1.DeprovisionStatusNotRequired ||
		in.Status.DeprovisionStatus == v1beta1.DeprovisionStatusSucceeded {
		return ctrl.Result{}, r.removeFinalizer(ctx, in)
	}
	if in.Status.AsyncOpInProgress && in.Status.CurrentOperation == v1beta1.OperationDeprovision {
		if wait := r.pollDue(in.UID); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.poll(ctx, in)
	}
	// A provision or update in progress is halted by the deprovision (OSB): send it now.
	if in.Status.CurrentOperation != v1beta1.OperationDeprovision {
		in.Status.AsyncOpInProgress = false
		in.Status.LastOperation = nil
		setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonDeprovisioning, "The instance is being deprovisioned", now)
		in.Status.LastConditionState = ReasonDeprovisioning
		r.Events.Eventf(in, nil, corev1.EventTypeNormal, ReasonDeprovisioning, "Deprovision", "Deprovisioning the instance")
	}
	done, result, err := r.sendDeprovision(ctx, in)
	if !done {
		return result, err
	}
	return r.deprovisioned(ctx, in)
}

// deprovisioned records the end of a deprovision: for an instance being deleted, the
// finalizer goes; otherwise (orphan mitigation) the caller goes on.
func (r *InstanceReconciler) deprovisioned(ctx context.Context, in *v1beta1.ServiceInstance) (ctrl.Result, error) {
	r.forgetPoll(in.UID)
	if in.DeletionTimestamp.IsZero() && in.Status.OrphanMitigationInProgress {
		in.Status.AsyncOpInProgress = false
		in.Status.LastOperation = nil
		return r.orphanMitigation(ctx, in) // sends a deprovision that answers 410: done
	}
	in.Status.AsyncOpInProgress = false
	in.Status.LastOperation = nil
	in.Status.CurrentOperation = ""
	in.Status.ProvisionStatus = v1beta1.ProvisionStatusNotProvisioned
	in.Status.DeprovisionStatus = v1beta1.DeprovisionStatusSucceeded
	setCondition(&in.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, ReasonDeprovisionedSuccessfully, "The instance was deprovisioned successfully", r.Opts.Now())
	in.Status.LastConditionState = ReasonDeprovisionedSuccessfully
	if err := r.Status().Update(ctx, in); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(in, nil, corev1.EventTypeNormal, ReasonDeprovisionedSuccessfully, "Deprovision", "The instance was deprovisioned successfully")
	r.Opts.Log.Info("instance deprovisioned", "namespace", in.Namespace, "instance", in.Name, "instance_id", in.Spec.ExternalID)
	if in.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.removeFinalizer(ctx, in)
}

func (r *InstanceReconciler) removeFinalizer(ctx context.Context, in *v1beta1.ServiceInstance) error {
	r.forgetPoll(in.UID)
	if controllerutil.RemoveFinalizer(in, InstanceFinalizer) {
		return client.IgnoreNotFound(r.Update(ctx, in))
	}
	return nil
}
