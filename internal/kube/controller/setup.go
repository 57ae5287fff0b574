package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// EventSource is the reporting controller of the Events the controller records.
const EventSource = "cfybroker-controller"

// NewScheme returns a scheme with the Kubernetes built-in kinds and this controller's.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// CacheOptions restrict the manager's cache of Secrets to those the controller writes
// (labelled with LabelBinding): the controller reads any other Secret directly, so a
// cluster's Secrets are not all held in its memory.
func CacheOptions() cache.Options {
	req, err := labels.NewRequirement(LabelBinding, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid label key
	}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.NewSelector().Add(*req)},
	}}
}

// SetupWithManager registers the broker, instance and binding reconcilers with mgr.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	s := newShared(mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder(EventSource), opts)
	// Failures (a broker outage, a write conflict) are retried with capped exponential
	// backoff: from half the shortest poll to the longest.
	limiter := func() workqueue.TypedRateLimiter[reconcile.Request] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](s.Opts.PollMin/2, s.Opts.PollMax)
	}
	// Status-only changes (the controller's own writes) do not wake a reconciler: polls
	// run on their own schedule, at the broker's Retry-After.
	changed := builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))

	if err := ctrl.NewControllerManagedBy(mgr).Named("clusterservicebroker").
		For(&v1beta1.ClusterServiceBroker{}, changed).
		WithOptions(crcontroller.Options{RateLimiter: limiter()}).
		Complete(&BrokerReconciler{s}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("serviceinstance").
		For(&v1beta1.ServiceInstance{}, changed).
		Watches(&v1beta1.ServiceBinding{}, handler.EnqueueRequestsFromMapFunc(bindingToInstance),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return !e.ObjectNew.GetDeletionTimestamp().IsZero() }})).
		WithOptions(crcontroller.Options{RateLimiter: limiter(), MaxConcurrentReconciles: 4}).
		Complete(&InstanceReconciler{s}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("servicebinding").
		For(&v1beta1.ServiceBinding{}, changed).
		Owns(&corev1.Secret{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
		})).
		Watches(&v1beta1.ServiceInstance{}, handler.EnqueueRequestsFromMapFunc(instanceToBindings(mgr.GetClient()))).
		WithOptions(crcontroller.Options{RateLimiter: limiter(), MaxConcurrentReconciles: 4}).
		Complete(&BindingReconciler{s})
}

// bindingToInstance wakes the instance of a binding (its deletion may unblock the
// instance's deprovision).
func bindingToInstance(_ context.Context, o client.Object) []reconcile.Request {
	b, ok := o.(*v1beta1.ServiceBinding)
	if !ok || b.Spec.InstanceRef.Name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.InstanceRef.Name}}}
}

// instanceToBindings wakes the bindings of an instance (they wait for it to be ready).
func instanceToBindings(c client.Client) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1beta1.ServiceBindingList
		if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for _, b := range list.Items {
			if b.Spec.InstanceRef.Name == o.GetName() {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
			}
		}
		return reqs
	}
}
