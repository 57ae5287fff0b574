// Package v1beta1 holds the Kubernetes API types of cfybroker's service catalog, group
// servicecatalog.cfybroker.io, version v1beta1.
//
// The kinds and their field names are those of the Kubernetes service catalog
// (servicecatalog.k8s.io/v1beta1, archived in 2022): ClusterServiceBroker,
// ClusterServiceClass, ClusterServicePlan, ServiceInstance and ServiceBinding. A manifest
// written for that catalog moves here by changing its apiVersion alone. Fields of the old
// catalog that cfybroker does not act on (namespaced brokers, catalog restrictions,
// secret transforms) are left out; unknown fields are pruned by the API server.
//
// The CRDs under infra/kubernetes/crd are generated from these types with controller-gen
// (`make generate`); the deepcopy functions in zz_generated.deepcopy.go likewise.
//
// +kubebuilder:object:generate=true
// +groupName=servicecatalog.cfybroker.io
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every kind in this package.
const GroupName = "servicecatalog.cfybroker.io"

// GroupVersion is the group and version of every kind in this package.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta1"}

// AddToScheme registers every kind of this package with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ClusterServiceBroker{}, &ClusterServiceBrokerList{},
		&ClusterServiceClass{}, &ClusterServiceClassList{},
		&ClusterServicePlan{}, &ClusterServicePlanList{},
		&ServiceInstance{}, &ServiceInstanceList{},
		&ServiceBinding{}, &ServiceBindingList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
