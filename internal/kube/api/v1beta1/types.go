package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ConditionType names a condition of a broker, instance or binding.
type ConditionType string

// The condition types, as the archived service catalog named them.
const (
	// ConditionReady is True when the object is usable: a broker whose catalog was read,
	// a provisioned instance, a bound binding whose Secret exists.
	ConditionReady ConditionType = "Ready"
	// ConditionFailed is True when the last operation failed for good: retrying the same
	// spec will not help (a 400 or 409 from the broker, a failed provision).
	ConditionFailed ConditionType = "Failed"
	// ConditionOrphanMitigation is True while the controller deprovisions or unbinds
	// after a provision or bind whose outcome is unknown (a timeout or a 5xx).
	ConditionOrphanMitigation ConditionType = "OrphanMitigation"
)

// ConditionStatus is True, False or Unknown.
type ConditionStatus string

// The condition statuses.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition is one observation of an object's state.
type Condition struct {
	// Type is Ready, Failed or OrphanMitigation.
	Type ConditionType `json:"type"`
	// Status is True, False or Unknown.
	Status ConditionStatus `json:"status"`
	// LastTransitionTime is when Status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// Reason is a one-word CamelCase cause, for machines.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a sentence for people: for operations, the broker's description.
	// +optional
	Message string `json:"message,omitempty"`
}

// ObjectReference names a namespaced object.
type ObjectReference struct {
	// Namespace of the object.
	Namespace string `json:"namespace,omitempty"`
	// Name of the object.
	Name string `json:"name,omitempty"`
}

// LocalObjectReference names an object in the referrer's namespace.
type LocalObjectReference struct {
	// Name of the object.
	Name string `json:"name,omitempty"`
}

// ClusterObjectReference names a cluster-scoped object.
type ClusterObjectReference struct {
	// Name of the object.
	Name string `json:"name,omitempty"`
}

// ---------------------------------------------------------------------------------------
// ClusterServiceBroker

// ServiceBrokerRelistBehavior says when the controller reads the broker's catalog again.
// +kubebuilder:validation:Enum=Duration;Manual
type ServiceBrokerRelistBehavior string

// The relist behaviours.
const (
	// RelistDuration reads the catalog every relistDuration.
	RelistDuration ServiceBrokerRelistBehavior = "Duration"
	// RelistManual reads the catalog when relistRequests grows (and at registration).
	RelistManual ServiceBrokerRelistBehavior = "Manual"
)

// ClusterBasicAuthConfig points at a Secret with the keys username and password.
type ClusterBasicAuthConfig struct {
	// SecretRef names the Secret.
	SecretRef *ObjectReference `json:"secretRef,omitempty"`
}

// ClusterBearerTokenAuthConfig points at a Secret with the key token.
type ClusterBearerTokenAuthConfig struct {
	// SecretRef names the Secret.
	SecretRef *ObjectReference `json:"secretRef,omitempty"`
}

// ClusterServiceBrokerAuthInfo is how the controller authenticates to the broker: one of
// basic or bearer.
// +kubebuilder:validation:XValidation:rule="!(has(self.basic) && has(self.bearer))",message="set one of basic or bearer"
type ClusterServiceBrokerAuthInfo struct {
	// Basic is HTTP Basic authentication.
	// +optional
	Basic *ClusterBasicAuthConfig `json:"basic,omitempty"`
	// Bearer is a bearer token.
	// +optional
	Bearer *ClusterBearerTokenAuthConfig `json:"bearer,omitempty"`
}

// ClusterServiceBrokerSpec is a broker's registration.
type ClusterServiceBrokerSpec struct {
	// URL is the broker's base URL (the OSB routes are under /v2).
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url"`
	// InsecureSkipTLSVerify skips the verification of the broker's certificate.
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
	// CABundle is a PEM bundle of the authorities that sign the broker's certificate.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// RelistBehavior is Duration (the default) or Manual.
	// +kubebuilder:default=Duration
	// +optional
	RelistBehavior ServiceBrokerRelistBehavior `json:"relistBehavior,omitempty"`
	// RelistDuration is the time between two catalog reads with relistBehavior Duration
	// (default 15m).
	// +optional
	RelistDuration *metav1.Duration `json:"relistDuration,omitempty"`
	// RelistRequests is bumped by a person to have the catalog read now.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RelistRequests int64 `json:"relistRequests,omitempty"`
	// AuthInfo is how the controller authenticates to the broker.
	// +optional
	AuthInfo *ClusterServiceBrokerAuthInfo `json:"authInfo,omitempty"`
}

// ClusterServiceBrokerStatus is what the controller last saw of the broker.
type ClusterServiceBrokerStatus struct {
	// Conditions are Ready and Failed.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// ReconciledGeneration is the generation whose catalog was last read.
	// +optional
	ReconciledGeneration int64 `json:"reconciledGeneration,omitempty"`
	// LastCatalogRetrievalTime is when the catalog was last read successfully.
	// +optional
	LastCatalogRetrievalTime *metav1.Time `json:"lastCatalogRetrievalTime,omitempty"`
	// ObservedRelistRequests is the relistRequests value last acted on.
	// +optional
	ObservedRelistRequests int64 `json:"observedRelistRequests,omitempty"`
	// LastConditionState is the reason of the last condition, for kubectl get.
	// +optional
	LastConditionState string `json:"lastConditionState,omitempty"`
}

// ClusterServiceBroker registers an OSB broker with the cluster; its catalog becomes
// ClusterServiceClasses and ClusterServicePlans.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=servicecatalog
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.lastConditionState`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterServiceBroker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterServiceBrokerSpec   `json:"spec,omitempty"`
	Status ClusterServiceBrokerStatus `json:"status,omitempty"`
}

// ClusterServiceBrokerList is a list of brokers.
// +kubebuilder:object:root=true
type ClusterServiceBrokerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterServiceBroker `json:"items"`
}

// ---------------------------------------------------------------------------------------
// ClusterServiceClass and ClusterServicePlan

// ClusterServiceClassSpec is one service of a broker's catalog.
type ClusterServiceClassSpec struct {
	// ClusterServiceBrokerName is the broker that offers the service.
	ClusterServiceBrokerName string `json:"clusterServiceBrokerName"`
	// ExternalName is the service's name in the catalog.
	ExternalName string `json:"externalName"`
	// ExternalID is the service's id in the catalog.
	ExternalID string `json:"externalID"`
	// Description is the service's description.
	// +optional
	Description string `json:"description,omitempty"`
	// Bindable says whether instances of the service can be bound.
	Bindable bool `json:"bindable"`
	// BindingRetrievable says whether the broker answers a binding fetch.
	// +optional
	BindingRetrievable bool `json:"bindingRetrievable,omitempty"`
	// PlanUpdatable says whether an instance may change plans.
	// +optional
	PlanUpdatable bool `json:"planUpdatable,omitempty"`
	// Tags are the service's tags.
	// +optional
	Tags []string `json:"tags,omitempty"`
	// Requires lists the platform features the service needs.
	// +optional
	Requires []string `json:"requires,omitempty"`
	// ExternalMetadata is the service's metadata object from the catalog.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	ExternalMetadata *runtime.RawExtension `json:"externalMetadata,omitempty"`
}

// ClusterServiceClassStatus says whether the broker still offers the service.
type ClusterServiceClassStatus struct {
	// RemovedFromBrokerCatalog is true once the broker's catalog no longer lists the
	// service; the class stays while instances use it.
	// +optional
	RemovedFromBrokerCatalog bool `json:"removedFromBrokerCatalog,omitempty"`
}

// ClusterServiceClass is a service of a registered broker. Its name is the service's id.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=servicecatalog
// +kubebuilder:printcolumn:name="External-Name",type=string,JSONPath=`.spec.externalName`
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=`.spec.clusterServiceBrokerName`
// +kubebuilder:printcolumn:name="Bindable",type=boolean,JSONPath=`.spec.bindable`
// +kubebuilder:printcolumn:name="Removed",type=boolean,JSONPath=`.status.removedFromBrokerCatalog`,priority=1
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
type ClusterServiceClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterServiceClassSpec   `json:"spec,omitempty"`
	Status ClusterServiceClassStatus `json:"status,omitempty"`
}

// ClusterServiceClassList is a list of classes.
// +kubebuilder:object:root=true
type ClusterServiceClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterServiceClass `json:"items"`
}

// ClusterServicePlanSpec is one plan of a service of a broker's catalog.
type ClusterServicePlanSpec struct {
	// ClusterServiceBrokerName is the broker that offers the plan.
	ClusterServiceBrokerName string `json:"clusterServiceBrokerName"`
	// ExternalName is the plan's name in the catalog.
	ExternalName string `json:"externalName"`
	// ExternalID is the plan's id in the catalog.
	ExternalID string `json:"externalID"`
	// Description is the plan's description.
	// +optional
	Description string `json:"description,omitempty"`
	// Bindable overrides the class's bindable when set.
	// +optional
	Bindable *bool `json:"bindable,omitempty"`
	// Free says whether the plan costs nothing.
	Free bool `json:"free"`
	// ExternalMetadata is the plan's metadata object from the catalog.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	ExternalMetadata *runtime.RawExtension `json:"externalMetadata,omitempty"`
	// InstanceCreateParameterSchema is the JSON Schema of provision parameters.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	InstanceCreateParameterSchema *runtime.RawExtension `json:"instanceCreateParameterSchema,omitempty"`
	// InstanceUpdateParameterSchema is the JSON Schema of update parameters.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	InstanceUpdateParameterSchema *runtime.RawExtension `json:"instanceUpdateParameterSchema,omitempty"`
	// ServiceBindingCreateParameterSchema is the JSON Schema of bind parameters.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	ServiceBindingCreateParameterSchema *runtime.RawExtension `json:"serviceBindingCreateParameterSchema,omitempty"`
	// ClusterServiceClassRef names the plan's class.
	ClusterServiceClassRef ClusterObjectReference `json:"clusterServiceClassRef"`
}

// ClusterServicePlanStatus says whether the broker still offers the plan.
type ClusterServicePlanStatus struct {
	// RemovedFromBrokerCatalog is true once the broker's catalog no longer lists the plan.
	// +optional
	RemovedFromBrokerCatalog bool `json:"removedFromBrokerCatalog,omitempty"`
}

// ClusterServicePlan is a plan of a registered broker's service. Its name is the plan's id.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=servicecatalog
// +kubebuilder:printcolumn:name="External-Name",type=string,JSONPath=`.spec.externalName`
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=`.spec.clusterServiceBrokerName`
// +kubebuilder:printcolumn:name="Class",type=string,JSONPath=`.spec.clusterServiceClassRef.name`
// +kubebuilder:printcolumn:name="Free",type=boolean,JSONPath=`.spec.free`
// +kubebuilder:printcolumn:name="Removed",type=boolean,JSONPath=`.status.removedFromBrokerCatalog`,priority=1
type ClusterServicePlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterServicePlanSpec   `json:"spec,omitempty"`
	Status ClusterServicePlanStatus `json:"status,omitempty"`
}

// ClusterServicePlanList is a list of plans.
// +kubebuilder:object:root=true
type ClusterServicePlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterServicePlan `json:"items"`
}

// ---------------------------------------------------------------------------------------
// ServiceInstance

// ParametersFromSource is a source of parameters merged into an instance's or binding's
// parameters.
type ParametersFromSource struct {
	// SecretKeyRef names a key of a Secret in the object's namespace whose value is a
	// JSON object.
	// +optional
	SecretKeyRef *SecretKeyReference `json:"secretKeyRef,omitempty"`
}

// SecretKeyReference names one key of a Secret in the referrer's namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret.
	Key string `json:"key"`
}

// UserInfo is the Kubernetes user on whose behalf an operation runs; the controller
// sends it to the broker as the originating identity.
type UserInfo struct {
	// Username of the user.
	Username string `json:"username"`
	// UID of the user.
	// +optional
	UID string `json:"uid,omitempty"`
	// Groups of the user.
	// +optional
	Groups []string `json:"groups,omitempty"`
	// Extra attributes of the user.
	// +optional
	Extra map[string][]string `json:"extra,omitempty"`
}

// PlanReference names the class and plan of an instance: by external names (the OSB
// service and plan names, what people write) or by Kubernetes names (the ids).
type PlanReference struct {
	// ClusterServiceClassExternalName is the OSB service name.
	// +optional
	ClusterServiceClassExternalName string `json:"clusterServiceClassExternalName,omitempty"`
	// ClusterServicePlanExternalName is the OSB plan name.
	// +optional
	ClusterServicePlanExternalName string `json:"clusterServicePlanExternalName,omitempty"`
	// ClusterServiceClassExternalID is the OSB service id.
	// +optional
	ClusterServiceClassExternalID string `json:"clusterServiceClassExternalID,omitempty"`
	// ClusterServicePlanExternalID is the OSB plan id.
	// +optional
	ClusterServicePlanExternalID string `json:"clusterServicePlanExternalID,omitempty"`
	// ClusterServiceClassName is the ClusterServiceClass's name.
	// +optional
	ClusterServiceClassName string `json:"clusterServiceClassName,omitempty"`
	// ClusterServicePlanName is the ClusterServicePlan's name.
	// +optional
	ClusterServicePlanName string `json:"clusterServicePlanName,omitempty"`
}

// ServiceInstanceSpec is what a developer asks for.
//
// +kubebuilder:validation:XValidation:rule="has(self.clusterServiceClassExternalName) || has(self.clusterServiceClassExternalID) || has(self.clusterServiceClassName)",message="name the class: clusterServiceClassExternalName, clusterServiceClassExternalID or clusterServiceClassName"
// +kubebuilder:validation:XValidation:rule="has(self.clusterServicePlanExternalName) || has(self.clusterServicePlanExternalID) || has(self.clusterServicePlanName)",message="name the plan: clusterServicePlanExternalName, clusterServicePlanExternalID or clusterServicePlanName"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.externalID) || size(oldSelf.externalID) == 0 || (has(self.externalID) && self.externalID == oldSelf.externalID)",message="externalID is immutable once set"
// +kubebuilder:validation:XValidation:rule="has(self.clusterServiceClassExternalName) == has(oldSelf.clusterServiceClassExternalName) && (!has(self.clusterServiceClassExternalName) || self.clusterServiceClassExternalName == oldSelf.clusterServiceClassExternalName) && has(self.clusterServiceClassExternalID) == has(oldSelf.clusterServiceClassExternalID) && (!has(self.clusterServiceClassExternalID) || self.clusterServiceClassExternalID == oldSelf.clusterServiceClassExternalID) && has(self.clusterServiceClassName) == has(oldSelf.clusterServiceClassName) && (!has(self.clusterServiceClassName) || self.clusterServiceClassName == oldSelf.clusterServiceClassName)",message="the class is immutable; change the plan, or create another instance"
type ServiceInstanceSpec struct {
	PlanReference `json:",inline"`

	// ClusterServiceClassRef is the resolved class, set by the controller.
	// +optional
	ClusterServiceClassRef *ClusterObjectReference `json:"clusterServiceClassRef,omitempty"`
	// ClusterServicePlanRef is the resolved plan, set by the controller.
	// +optional
	ClusterServicePlanRef *ClusterObjectReference `json:"clusterServicePlanRef,omitempty"`
	// Parameters are the provision or update parameters (a JSON object).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
	// ParametersFrom are Secret keys holding JSON objects merged into the parameters.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	ParametersFrom []ParametersFromSource `json:"parametersFrom,omitempty"`
	// ExternalID is the OSB instance id: generated when empty, then immutable.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ExternalID string `json:"externalID,omitempty"`
	// UserInfo is who asked for the instance, sent to the broker as the originating
	// identity. Set it with an admission policy (see infra/kubernetes); the controller
	// never invents one.
	// +optional
	UserInfo *UserInfo `json:"userInfo,omitempty"`
	// UpdateRequests is bumped to send an update with the same spec.
	// +kubebuilder:validation:Minimum=0
	// +optional
	UpdateRequests int64 `json:"updateRequests,omitempty"`
}

// ServiceInstanceOperation is an operation the controller runs on an instance.
type ServiceInstanceOperation string

// The instance operations.
const (
	OperationProvision   ServiceInstanceOperation = "Provision"
	OperationUpdate      ServiceInstanceOperation = "Update"
	OperationDeprovision ServiceInstanceOperation = "Deprovision"
)

// ServiceInstanceProvisionStatus says whether the broker has the instance.
type ServiceInstanceProvisionStatus string

// The provision statuses.
const (
	ProvisionStatusProvisioned    ServiceInstanceProvisionStatus = "Provisioned"
	ProvisionStatusNotProvisioned ServiceInstanceProvisionStatus = "NotProvisioned"
)

// ServiceInstanceDeprovisionStatus says whether the instance must be deprovisioned.
type ServiceInstanceDeprovisionStatus string

// The deprovision statuses.
const (
	DeprovisionStatusNotRequired ServiceInstanceDeprovisionStatus = "NotRequired"
	DeprovisionStatusRequired    ServiceInstanceDeprovisionStatus = "Required"
	DeprovisionStatusSucceeded   ServiceInstanceDeprovisionStatus = "Succeeded"
	DeprovisionStatusFailed      ServiceInstanceDeprovisionStatus = "Failed"
)

// ServiceInstancePropertiesState is what the broker was sent (or is being sent): the
// plan and a checksum of the parameters, never the parameters themselves.
type ServiceInstancePropertiesState struct {
	// ClusterServicePlanExternalName is the plan's OSB name.
	// +optional
	ClusterServicePlanExternalName string `json:"clusterServicePlanExternalName,omitempty"`
	// ClusterServicePlanExternalID is the plan's OSB id.
	// +optional
	ClusterServicePlanExternalID string `json:"clusterServicePlanExternalID,omitempty"`
	// ParameterChecksum is the SHA-256 of the parameters sent.
	// +optional
	ParameterChecksum string `json:"parameterChecksum,omitempty"`
	// UserInfo is who asked.
	// +optional
	UserInfo *UserInfo `json:"userInfo,omitempty"`
}

// ServiceInstanceStatus is what the controller last saw of the instance.
type ServiceInstanceStatus struct {
	// Conditions are Ready, Failed and OrphanMitigation.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// AsyncOpInProgress is true while the broker runs an operation the controller polls.
	// +optional
	AsyncOpInProgress bool `json:"asyncOpInProgress,omitempty"`
	// OrphanMitigationInProgress is true while a failed provision is being cleaned up.
	// +optional
	OrphanMitigationInProgress bool `json:"orphanMitigationInProgress,omitempty"`
	// LastOperation is the broker's operation value of the operation in progress.
	// +optional
	LastOperation *string `json:"lastOperation,omitempty"`
	// CurrentOperation is Provision, Update or Deprovision while one runs.
	// +optional
	CurrentOperation ServiceInstanceOperation `json:"currentOperation,omitempty"`
	// ReconciledGeneration is the generation the broker last completed an operation for.
	// +optional
	ReconciledGeneration int64 `json:"reconciledGeneration,omitempty"`
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// OperationStartTime is when the operation in progress started.
	// +optional
	OperationStartTime *metav1.Time `json:"operationStartTime,omitempty"`
	// InProgressProperties is what the operation in progress sent.
	// +optional
	InProgressProperties *ServiceInstancePropertiesState `json:"inProgressProperties,omitempty"`
	// ExternalProperties is what the broker last accepted.
	// +optional
	ExternalProperties *ServiceInstancePropertiesState `json:"externalProperties,omitempty"`
	// ObservedUpdateRequests is the updateRequests value last sent.
	// +optional
	ObservedUpdateRequests int64 `json:"observedUpdateRequests,omitempty"`
	// ProvisionStatus is Provisioned once the broker has the instance.
	// +optional
	ProvisionStatus ServiceInstanceProvisionStatus `json:"provisionStatus,omitempty"`
	// DeprovisionStatus says whether a deprovision is needed before the object goes.
	// +optional
	DeprovisionStatus ServiceInstanceDeprovisionStatus `json:"deprovisionStatus,omitempty"`
	// DashboardURL is the broker's dashboard for the instance.
	// +optional
	DashboardURL *string `json:"dashboardURL,omitempty"`
	// LastConditionState is the reason of the last condition, for kubectl get.
	// +optional
	LastConditionState string `json:"lastConditionState,omitempty"`
}

// ServiceInstance is an instance of a service, provisioned by its broker.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=servicecatalog
// +kubebuilder:printcolumn:name="Class",type=string,JSONPath=`.spec.clusterServiceClassExternalName`
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.spec.clusterServicePlanExternalName`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.lastConditionState`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ServiceInstanceSpec   `json:"spec,omitempty"`
	Status ServiceInstanceStatus `json:"status,omitempty"`
}

// ServiceInstanceList is a list of instances.
// +kubebuilder:object:root=true
type ServiceInstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceInstance `json:"items"`
}

// ---------------------------------------------------------------------------------------
// ServiceBinding

// ServiceBindingSpec is a request for credentials to an instance.
//
// +kubebuilder:validation:XValidation:rule="self.instanceRef.name == oldSelf.instanceRef.name",message="instanceRef is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.externalID) || size(oldSelf.externalID) == 0 || (has(self.externalID) && self.externalID == oldSelf.externalID)",message="externalID is immutable once set"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.secretName) || size(oldSelf.secretName) == 0 || (has(self.secretName) && self.secretName == oldSelf.secretName)",message="secretName is immutable once set"
// +kubebuilder:validation:XValidation:rule="has(self.parameters) == has(oldSelf.parameters) && (!has(self.parameters) || self.parameters == oldSelf.parameters) && has(self.parametersFrom) == has(oldSelf.parametersFrom) && (!has(self.parametersFrom) || self.parametersFrom == oldSelf.parametersFrom)",message="a binding's parameters are immutable; create another binding"
type ServiceBindingSpec struct {
	// InstanceRef names the ServiceInstance in the binding's namespace.
	InstanceRef LocalObjectReference `json:"instanceRef"`
	// Parameters are the bind parameters (a JSON object).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
	// ParametersFrom are Secret keys holding JSON objects merged into the parameters.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	ParametersFrom []ParametersFromSource `json:"parametersFrom,omitempty"`
	// SecretName is the Secret that receives the credentials (default: the binding's
	// name).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// ExternalID is the OSB binding id: generated when empty, then immutable.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ExternalID string `json:"externalID,omitempty"`
	// UserInfo is who asked for the binding, sent as the originating identity.
	// +optional
	UserInfo *UserInfo `json:"userInfo,omitempty"`
}

// ServiceBindingOperation is an operation the controller runs on a binding.
type ServiceBindingOperation string

// The binding operations.
const (
	OperationBind   ServiceBindingOperation = "Bind"
	OperationUnbind ServiceBindingOperation = "Unbind"
)

// ServiceBindingUnbindStatus says whether the binding must be unbound.
type ServiceBindingUnbindStatus string

// The unbind statuses.
const (
	UnbindStatusNotRequired ServiceBindingUnbindStatus = "NotRequired"
	UnbindStatusRequired    ServiceBindingUnbindStatus = "Required"
	UnbindStatusSucceeded   ServiceBindingUnbindStatus = "Succeeded"
	UnbindStatusFailed      ServiceBindingUnbindStatus = "Failed"
)

// SecretReference names the binding's Secret, as the Service Binding for Kubernetes
// specification (servicebinding.io) expects of a Provisioned Service.
type SecretReference struct {
	// Name of the Secret in the binding's namespace.
	Name string `json:"name"`
}

// ServiceBindingStatus is what the controller last saw of the binding.
type ServiceBindingStatus struct {
	// Conditions are Ready, Failed and OrphanMitigation.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// AsyncOpInProgress is true while the broker runs an operation the controller polls.
	// +optional
	AsyncOpInProgress bool `json:"asyncOpInProgress,omitempty"`
	// LastOperation is the broker's operation value of the operation in progress.
	// +optional
	LastOperation *string `json:"lastOperation,omitempty"`
	// CurrentOperation is Bind or Unbind while one runs.
	// +optional
	CurrentOperation ServiceBindingOperation `json:"currentOperation,omitempty"`
	// ReconciledGeneration is the generation the broker last completed a bind for.
	// +optional
	ReconciledGeneration int64 `json:"reconciledGeneration,omitempty"`
	// OperationStartTime is when the operation in progress started.
	// +optional
	OperationStartTime *metav1.Time `json:"operationStartTime,omitempty"`
	// OrphanMitigationInProgress is true while a failed bind is being cleaned up.
	// +optional
	OrphanMitigationInProgress bool `json:"orphanMitigationInProgress,omitempty"`
	// UnbindStatus says whether an unbind is needed before the object goes.
	// +optional
	UnbindStatus ServiceBindingUnbindStatus `json:"unbindStatus,omitempty"`
	// Binding names the Secret with the credentials once the binding is ready.
	// +optional
	Binding *SecretReference `json:"binding,omitempty"`
	// LastConditionState is the reason of the last condition, for kubectl get.
	// +optional
	LastConditionState string `json:"lastConditionState,omitempty"`
}

// ServiceBinding asks the broker for credentials to an instance and keeps them in a
// Secret.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=servicecatalog
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceRef.name`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.binding.name`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.lastConditionState`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ServiceBindingSpec   `json:"spec,omitempty"`
	Status ServiceBindingStatus `json:"status,omitempty"`
}

// ServiceBindingList is a list of bindings.
// +kubebuilder:object:root=true
type ServiceBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceBinding `json:"items"`
}
