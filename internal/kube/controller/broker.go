package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
	"github.com/cfybroker/cfybroker/internal/kube/osbclient"
)

// Broker condition reasons.
const (
	ReasonFetchedCatalog              = "FetchedCatalog"
	ReasonErrorFetchingCatalog        = "ErrorFetchingCatalog"
	ReasonErrorGettingAuthCredentials = "ErrorGettingAuthCredentials"
	ReasonErrorSyncingCatalog         = "ErrorSyncingCatalog"
	ReasonDeletingBroker              = "DeletingBroker"
)

// BrokerReconciler keeps a ClusterServiceBroker's classes and plans equal to its catalog.
type BrokerReconciler struct{ *shared }

// Reconcile reads the broker's catalog when it is due and writes its classes and plans.
func (r *BrokerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var b v1beta1.ClusterServiceBroker
	// Read past the cache: a cached copy may lag behind this controller's own last
	// write, and acting on it would repeat a call (a second PUT, a second unbind).
	if err := r.APIReader.Get(ctx, req.NamespacedName, &b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := r.Opts.Log.With("broker", b.Name)
	if !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.delete(ctx, &b)
	}
	if controllerutil.AddFinalizer(&b, BrokerFinalizer) {
		if err := r.Update(ctx, &b); err != nil {
			return ctrl.Result{}, err
		}
	}

	now := r.Opts.Now()
	relist := r.Opts.DefaultRelist
	if b.Spec.RelistDuration != nil && b.Spec.RelistDuration.Duration > 0 {
		relist = b.Spec.RelistDuration.Duration
	}
	manual := b.Spec.RelistBehavior == v1beta1.RelistManual
	due := b.Status.ReconciledGeneration != b.Generation ||
		b.Status.ObservedRelistRequests != b.Spec.RelistRequests ||
		!conditionTrue(b.Status.Conditions, v1beta1.ConditionReady) ||
		b.Status.LastCatalogRetrievalTime == nil
	if !due && !manual {
		if left := b.Status.LastCatalogRetrievalTime.Add(relist).Sub(now); left > 0 {
			return ctrl.Result{RequeueAfter: left}, nil
		}
		due = true
	}
	if !due {
		return ctrl.Result{}, nil
	}

	bc, _, err := r.brokerClient(ctx, b.Name)
	if err != nil {
		r.brokerFailed(ctx, &b, ReasonErrorGettingAuthCredentials, err.Error())
		return ctrl.Result{}, err
	}
	cat, err := bc.Catalog(ctx)
	if err != nil {
		msg := "cannot read the catalog: " + describe(err)
		r.brokerFailed(ctx, &b, ReasonErrorFetchingCatalog, msg)
		log.Warn("catalog fetch failed", "error", msg)
		return ctrl.Result{}, err
	}
	if err := r.syncCatalog(ctx, &b, cat); err != nil {
		r.brokerFailed(ctx, &b, ReasonErrorSyncingCatalog, err.Error())
		return ctrl.Result{}, err
	}
	b.Status.ReconciledGeneration = b.Generation
	b.Status.ObservedRelistRequests = b.Spec.RelistRequests
	b.Status.LastCatalogRetrievalTime = ptr(metav1.NewTime(now))
	msg := fmt.Sprintf("the catalog lists %d services", len(cat.Services))
	if setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionTrue, ReasonFetchedCatalog, msg, now) {
		r.Events.Eventf(&b, nil, corev1.EventTypeNormal, ReasonFetchedCatalog, "FetchCatalog", "Fetched the catalog: %d services", len(cat.Services))
	}
	setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionFalse, ReasonFetchedCatalog, "", now)
	b.Status.LastConditionState = ReasonFetchedCatalog
	if err := r.Status().Update(ctx, &b); err != nil {
		return ctrl.Result{}, err
	}
	log.Info("catalog synced", "services", len(cat.Services))
	if manual {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: relist}, nil
}

// brokerFailed records a failed catalog read; the caller returns the error so the
// workqueue retries with backoff.
func (r *BrokerReconciler) brokerFailed(ctx context.Context, b *v1beta1.ClusterServiceBroker, reason, msg string) {
	now := r.Opts.Now()
	changed := setCondition(&b.Status.Conditions, v1beta1.ConditionReady, v1beta1.ConditionFalse, reason, msg, now)
	setCondition(&b.Status.Conditions, v1beta1.ConditionFailed, v1beta1.ConditionTrue, reason, msg, now)
	b.Status.LastConditionState = reason
	if changed {
		r.Events.Eventf(b, nil, corev1.EventTypeWarning, reason, "FetchCatalog", "%s", msg)
	}
	if err := r.Status().Update(ctx, b); err != nil {
		r.Opts.Log.Warn("broker status update failed", "broker", b.Name, "error", err)
	}
}

// syncCatalog creates or updates a class and a plan for every service and plan of the
// catalog, and marks (or deletes, when nothing uses them) those the catalog dropped.
func (r *BrokerReconciler) syncCatalog(ctx context.Context, b *v1beta1.ClusterServiceBroker, cat *osbclient.Catalog) error {
	wantClasses := map[string]bool{}
	wantPlans := map[string]bool{}
	for _, s := range cat.Services {
		if errs := validation.IsDNS1123Subdomain(s.ID); len(errs) > 0 {
			return fmt.Errorf("service %q: its id %q is not a valid object name", s.Name, s.ID)
		}
		wantClasses[s.ID] = true
		if err := r.upsertClass(ctx, b, s); err != nil {
			return err
		}
		for _, p := range s.Plans {
			if errs := validation.IsDNS1123Subdomain(p.ID); len(errs) > 0 {
				return fmt.Errorf("plan %q of service %q: its id %q is not a valid object name", p.Name, s.Name, p.ID)
			}
			wantPlans[p.ID] = true
			if err := r.upsertPlan(ctx, b, s, p); err != nil {
				return err
			}
		}
	}
	inUse, err := r.referenced(ctx)
	if err != nil {
		return err
	}
	var plans v1beta1.ClusterServicePlanList
	if err := r.List(ctx, &plans, client.MatchingLabels{LabelBroker: b.Name}); err != nil {
		return err
	}
	for i := range plans.Items {
		p := &plans.Items[i]
		if wantPlans[p.Name] {
			continue
		}
		if err := r.retire(ctx, p, &p.Status.RemovedFromBrokerCatalog, inUse[p.Name]); err != nil {
			return err
		}
	}
	var classes v1beta1.ClusterServiceClassList
	if err := r.List(ctx, &classes, client.MatchingLabels{LabelBroker: b.Name}); err != nil {
		return err
	}
	for i := range classes.Items {
		c := &classes.Items[i]
		if wantClasses[c.Name] {
			continue
		}
		if err := r.retire(ctx, c, &c.Status.RemovedFromBrokerCatalog, inUse[c.Name]); err != nil {
			return err
		}
	}
	return nil
}

// retire deletes a class or plan the catalog no longer lists, or only marks it while an
// instance uses it.
func (r *BrokerReconciler) retire(ctx context.Context, obj client.Object, removed *bool, used bool) error {
	if !used {
		return client.IgnoreNotFound(r.Delete(ctx, obj))
	}
	if *removed {
		return nil
	}
	*removed = true
	return r.Status().Update(ctx, obj)
}

// referenced returns the names of the classes and plans that instances use.
func (r *BrokerReconciler) referenced(ctx context.Context) (map[string]bool, error) {
	var insts v1beta1.ServiceInstanceList
	if err := r.List(ctx, &insts); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, in := range insts.Items {
		if ref := in.Spec.ClusterServiceClassRef; ref != nil {
			used[ref.Name] = true
		}
		if ref := in.Spec.ClusterServicePlanRef; ref != nil {
			used[ref.Name] = true
		}
	}
	return used, nil
}

func rawJSON(b []byte) *runtime.RawExtension {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return &runtime.RawExtension{Raw: append([]byte(nil), b...)}
}

func (r *BrokerReconciler) upsertClass(ctx context.Context, b *v1beta1.ClusterServiceBroker, s osbclient.Service) error {
	spec := v1beta1.ClusterServiceClassSpec{
		ClusterServiceBrokerName: b.Name,
		ExternalName:             s.Name,
		ExternalID:               s.ID,
		Description:              s.Description,
		Bindable:                 s.Bindable,
		BindingRetrievable:       s.BindingsRetrievable,
		PlanUpdatable:            s.PlanUpdateable,
		Tags:                     s.Tags,
		Requires:                 s.Requires,
		ExternalMetadata:         rawJSON(s.Metadata),
	}
	var c v1beta1.ClusterServiceClass
	err := r.Get(ctx, types.NamespacedName{Name: s.ID}, &c)
	switch {
	case apierrors.IsNotFound(err):
		c = v1beta1.ClusterServiceClass{ObjectMeta: metav1.ObjectMeta{Name: s.ID, Labels: map[string]string{LabelBroker: b.Name}}, Spec: spec}
		return r.Create(ctx, &c)
	case err != nil:
		return err
	}
	if c.Spec.ClusterServiceBrokerName != b.Name {
		return fmt.Errorf("service %q (id %s) is already offered by broker %q", s.Name, s.ID, c.Spec.ClusterServiceBrokerName)
	}
	if !equalJSON(c.Spec, spec) || c.Labels[LabelBroker] != b.Name {
		c.Spec = spec
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[LabelBroker] = b.Name
		if err := r.Update(ctx, &c); err != nil {
			return err
		}
	}
	if c.Status.RemovedFromBrokerCatalog {
		c.Status.RemovedFromBrokerCatalog = false
		return r.Status().Update(ctx, &c)
	}
	return nil
}

func (r *BrokerReconciler) upsertPlan(ctx context.Context, b *v1beta1.ClusterServiceBroker, s osbclient.Service, p osbclient.Plan) error {
	free := true // the OSB default
	if p.Free != nil {
		free = *p.Free
	}
	spec := v1beta1.ClusterServicePlanSpec{
		ClusterServiceBrokerName: b.Name,
		ExternalName:             p.Name,
		ExternalID:               p.ID,
		Description:              p.Description,
		Bindable:                 p.Bindable,
		Free:                     free,
		ExternalMetadata:         rawJSON(p.Metadata),
		ClusterServiceClassRef:   v1beta1.ClusterObjectReference{Name: s.ID},
	}
	if sc := p.Schemas; sc != nil {
		if c := sc.ServiceInstance.Create; c != nil {
			spec.InstanceCreateParameterSchema = rawJSON(c.Parameters)
		}
		if u := sc.ServiceInstance.Update; u != nil {
			spec.InstanceUpdateParameterSchema = rawJSON(u.Parameters)
		}
		if c := sc.ServiceBinding.Create; c != nil {
			spec.ServiceBindingCreateParameterSchema = rawJSON(c.Parameters)
		}
	}
	var pl v1beta1.ClusterServicePlan
	err := r.Get(ctx, types.NamespacedName{Name: p.ID}, &pl)
	switch {
	case apierrors.IsNotFound(err):
		pl = v1beta1.ClusterServicePlan{ObjectMeta: metav1.ObjectMeta{Name: p.ID, Labels: map[string]string{LabelBroker: b.Name}}, Spec: spec}
		return r.Create(ctx, &pl)
	case err != nil:
		return err
	}
	if pl.Spec.ClusterServiceBrokerName != b.Name {
		return fmt.Errorf("plan %q (id %s) is already offered by broker %q", p.Name, p.ID, pl.Spec.ClusterServiceBrokerName)
	}
	if !equalJSON(pl.Spec, spec) || pl.Labels[LabelBroker] != b.Name {
		pl.Spec = spec
		if pl.Labels == nil {
			pl.Labels = map[string]string{}
		}
		pl.Labels[LabelBroker] = b.Name
		if err := r.Update(ctx, &pl); err != nil {
			return err
		}
	}
	if pl.Status.RemovedFromBrokerCatalog {
		pl.Status.RemovedFromBrokerCatalog = false
		return r.Status().Update(ctx, &pl)
	}
	return nil
}

// equalJSON compares two values by their JSON form (schemas are raw JSON objects whose
// key order the API server may change).
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	na, _ := json.Marshal(va)
	nb, _ := json.Marshal(vb)
	return string(na) == string(nb)
}

// delete removes the broker's classes and plans (a bare API server has no garbage
// collector, and a cluster's may lag), then the finalizer.
func (r *BrokerReconciler) delete(ctx context.Context, b *v1beta1.ClusterServiceBroker) error {
	if !controllerutil.ContainsFinalizer(b, BrokerFinalizer) {
		return nil
	}
	var errs []error
	if err := r.DeleteAllOf(ctx, &v1beta1.ClusterServicePlan{}, client.MatchingLabels{LabelBroker: b.Name}); err != nil {
		errs = append(errs, err)
	}
	if err := r.DeleteAllOf(ctx, &v1beta1.ClusterServiceClass{}, client.MatchingLabels{LabelBroker: b.Name}); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.brokers, b.Name)
	r.mu.Unlock()
	controllerutil.RemoveFinalizer(b, BrokerFinalizer)
	if err := r.Update(ctx, b); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.Opts.Log.Info("broker removed with its classes and plans", "broker", b.Name)
	return nil
}
