package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cfybroker/cfybroker/internal/kube/api/v1beta1"
)

// Provider is the Secret's provider entry when the broker sends none.
const Provider = "cloudify"

// secretData turns a broker's credentials into the entries of a binding Secret, as the
// Service Binding for Kubernetes specification wants them: every credential an entry
// (strings as they are, anything else JSON-encoded), plus type and provider when the
// broker sent none. It also returns the type.
//
// The type is the credential "type" when it is a string, else the class's first tag,
// else its name; it is lowercased to what a Secret type may carry.
func secretData(creds map[string]any, class *v1beta1.ClusterServiceClass) (map[string][]byte, string, error) {
	data := make(map[string][]byte, len(creds)+2)
	keys := make([]string, 0, len(creds))
	for k := range creds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			return nil, "", fmt.Errorf("credential key %q cannot be a Secret key", k)
		}
		switch v := creds[k].(type) {
		case string:
			data[k] = []byte(v)
		case nil:
			data[k] = []byte("null")
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, "", fmt.Errorf("credential %q cannot be encoded", k)
			}
			data[k] = b
		}
	}
	typ, _ := creds["type"].(string)
	if typ == "" {
		if len(class.Spec.Tags) > 0 && class.Spec.Tags[0] != "" {
			typ = class.Spec.Tags[0]
		} else {
			typ = class.Spec.ExternalName
		}
		data["type"] = []byte(typ)
	}
	if _, ok := creds["provider"].(string); !ok {
		data["provider"] = []byte(Provider)
	}
	return data, secretTypeSuffix(typ), nil
}

// secretTypeSuffix keeps what a Secret type's path segment may hold.
func secretTypeSuffix(t string) string {
	t = strings.ToLower(t)
	var b strings.Builder
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// writeSecret creates or updates the binding's Secret, owned by the binding. A Secret of
// that name that the binding does not own is left alone: an error.
func (r *BindingReconciler) writeSecret(ctx context.Context, b *v1beta1.ServiceBinding, class *v1beta1.ClusterServiceClass, creds map[string]any) error {
	data, typ, err := secretData(creds, class)
	if err != nil {
		return err
	}
	secType := corev1.SecretType("servicebinding.io/" + typ)
	owner := metav1.OwnerReference{
		APIVersion: v1beta1.GroupVersion.String(), Kind: "ServiceBinding", Name: b.Name, UID: b.UID,
		Controller: ptr(true), BlockOwnerDeletion: ptr(true),
	}
	fresh := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: b.Spec.SecretName, Namespace: b.Namespace,
				Labels:          map[string]string{LabelBinding: b.Name},
				OwnerReferences: []metav1.OwnerReference{owner},
			},
			Type: secType,
			Data: data,
		}
	}
	var sec corev1.Secret
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.SecretName}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		return r.Create(ctx, fresh())
	case err != nil:
		return err
	}
	if !ownedBy(&sec, b) {
		return fmt.Errorf("a Secret named %q exists and does not belong to this binding", sec.Name)
	}
	if sec.Type != secType {
		// A Secret's type cannot change: replace it.
		if err := r.Delete(ctx, &sec, client.Preconditions{UID: &sec.UID}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return r.Create(ctx, fresh())
	}
	sec.Data = data
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels[LabelBinding] = b.Name
	return r.Update(ctx, &sec)
}

// deleteSecret deletes the binding's Secret if the binding owns it.
func (r *BindingReconciler) deleteSecret(ctx context.Context, b *v1beta1.ServiceBinding) error {
	name := b.Spec.SecretName
	if name == "" {
		return nil
	}
	var sec corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, &sec); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ownedBy(&sec, b) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, &sec, client.Preconditions{UID: &sec.UID}))
}

func ownedBy(sec *corev1.Secret, b *v1beta1.ServiceBinding) bool {
	for _, o := range sec.OwnerReferences {
		if o.UID == b.UID {
			return true
		}
	}
	return false
}
