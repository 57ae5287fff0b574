package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/cloudify"
)

// bindingSecretPrefix starts every binding secret key, as broker.BindingSecretKey
// spells it: osb-<deployment id>-<binding id or its hash>.
const bindingSecretPrefix = "osb-"

// secretOwners is what reconcile knows of the instances that may own binding secrets.
type secretOwners struct {
	// deployments maps the deployment id of every recorded instance, deprovisioned
	// ones included, to the instance.
	deployments map[string]broker.Instance
	// ready are the ready instances, in id order: their bindings' secrets must exist.
	ready []broker.Instance
	// binding holds the instances with a bind or unbind in progress.
	binding map[string]bool
}

// candidates returns the known deployments whose binding secret key could be key,
// longest first. A key may fit several: osb-a-b-x is deployment a-b's key of binding
// x, and deployment a's of binding b-x.
func (o secretOwners) candidates(key string) []string {
	if !strings.HasPrefix(key, bindingSecretPrefix) {
		return nil
	}
	var out []string
	for i := len(key) - 2; i > len(bindingSecretPrefix); i-- {
		if key[i] != '-' {
			continue
		}
		d, ok := strings.CutPrefix(key[:i], bindingSecretPrefix)
		if _, known := o.deployments[d]; ok && known {
			out = append(out, d)
		}
	}
	return out
}

// reconcileSecrets checks the binding secrets against the bindings recorded.
//
// The secrets were listed before any binding is read here, and a binding is recorded
// before its bind workflow starts and removed only after its secret is deleted. So a
// listed secret that no binding recorded afterwards claims, while no bind or unbind
// runs on its instance, is one nothing will claim: deleting it cannot take credentials
// from a binding. The other way round, a ready binding whose secret the listing lacks
// may have been bound after the listing: the miss is confirmed by asking for that key.
func (s *Service) reconcileSecrets(ctx context.Context, mgr Manager, secrets []cloudify.Secret, known secretOwners, req ReconcileRequest, rep *ReconcileReport) error {
	listed := make(map[string]bool, len(secrets))
	keys := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		if !listed[sec.Key] {
			listed[sec.Key] = true
			keys = append(keys, sec.Key)
		}
	}
	slices.Sort(keys)
	cache := map[string][]broker.Binding{}
	bindingsOf := func(instanceID string) ([]broker.Binding, error) {
		if list, ok := cache[instanceID]; ok {
			return list, nil
		}
		list, err := s.store.ListBindings(ctx, instanceID)
		if err != nil {
			return nil, fmt.Errorf("admin: reconcile %s: list bindings: %w", instanceID, err)
		}
		cache[instanceID] = list
		return list, nil
	}

	for _, in := range known.ready {
		list, err := bindingsOf(in.ID)
		if err != nil {
			return err
		}
		for _, b := range list {
			if b.SecretKey == "" {
				continue
			}
			rep.Bindings++
			if b.Ready() && !b.Busy() && !listed[b.SecretKey] {
				s.confirmSecretMissing(ctx, mgr, in, b, rep)
			}
		}
	}

	for _, key := range keys {
		deps := known.candidates(key)
		if len(deps) == 0 {
			continue // not named for an instance of this broker: not ours to judge
		}
		rep.Secrets++
		claim, err := secretClaim(deps, key, known, bindingsOf)
		if err != nil {
			return err
		}
		if claim != "" {
			continue
		}
		owner := known.deployments[deps[0]]
		f := Finding{Kind: FindingOrphanSecret, InstanceID: owner.ID, DeploymentID: owner.DeploymentID, SecretKey: key}
		if owner.State == broker.InstanceGone {
			f.Problem = fmt.Sprintf("secret %s is named for a binding of instance %s, which was deprovisioned", key, owner.ID)
		} else {
			f.Problem = fmt.Sprintf("secret %s is named for a binding of instance %s, which has no binding with it", key, owner.ID)
		}
		switch {
		case !req.DeleteOrphans:
			f.Action = "left alone: run reconcile --delete-orphans to delete it"
		case req.DryRun:
			f.Action = "would delete it"
		default:
			if err := s.deleteOrphanSecret(ctx, mgr, deps, known, &f); err != nil {
				return err
			}
		}
		rep.add(f)
	}
	return nil
}

// secretClaim says why key is not an orphan: a binding of one of the instances of the
// candidate deployments holds it, or one of them has a bind or unbind in progress that
// may still write it. It returns "" when neither is so.
func secretClaim(deps []string, key string, known secretOwners, bindingsOf func(string) ([]broker.Binding, error)) (string, error) {
	for _, d := range deps {
		in := known.deployments[d]
		if known.binding[in.ID] {
			return fmt.Sprintf("a bind or unbind runs on instance %s", in.ID), nil
		}
		list, err := bindingsOf(in.ID)
		if err != nil {
			return "", err
		}
		for _, b := range list {
			switch {
			case b.SecretKey == key:
				return fmt.Sprintf("binding %s of instance %s holds it", b.ID, in.ID), nil
			case b.Busy():
				return fmt.Sprintf("a bind or unbind runs on instance %s", in.ID), nil
			}
		}
	}
	return "", nil
}

// confirmSecretMissing asks the manager for the one key a ready binding's credentials
// are in (a listing, so that no value is read), and reports the binding when it is
// not there.
func (s *Service) confirmSecretMissing(ctx context.Context, mgr Manager, in broker.Instance, b broker.Binding, rep *ReconcileReport) {
	f := Finding{InstanceID: in.ID, BindingID: b.ID, DeploymentID: in.DeploymentID, SecretKey: b.SecretKey}
	found, err := mgr.ListSecrets(ctx, cloudify.ListOptions{Filters: map[string][]string{"key": {b.SecretKey}}, Include: []string{"key"}})
	if err != nil {
		f.Kind, f.Problem, f.Action, f.Error = FindingError, fmt.Sprintf("cannot look for secret %s of binding %s", b.SecretKey, b.ID), "none", err.Error()
		rep.add(f)
		return
	}
	for _, sec := range found {
		if sec.Key == b.SecretKey {
			return // written after the listing
		}
	}
	f.Kind = FindingBindingSecretMissing
	f.Problem = fmt.Sprintf("binding %s of instance %s has its credentials in secret %s, which is not on the manager (deleted outside the broker): they cannot be fetched", b.ID, in.ID, b.SecretKey)
	f.Action = "none: reconcile cannot make credentials again; the platform must unbind the binding and bind again"
	rep.add(f)
}

// deleteOrphanSecret deletes an orphan binding secret, after reading the bindings of
// its instances again: one a bind recorded since the first look keeps its secret.
func (s *Service) deleteOrphanSecret(ctx context.Context, mgr Manager, deps []string, known secretOwners, f *Finding) error {
	fresh := func(instanceID string) ([]broker.Binding, error) {
		list, err := s.store.ListBindings(ctx, instanceID)
		if err != nil {
			return nil, fmt.Errorf("admin: reconcile %s: list bindings: %w", instanceID, err)
		}
		return list, nil
	}
	claim, err := secretClaim(deps, f.SecretKey, known, fresh)
	if err != nil {
		return err
	}
	if claim != "" {
		f.Action = "left alone: " + claim + " now"
		return nil
	}
	err = mgr.DeleteSecret(ctx, f.SecretKey)
	switch {
	case err == nil:
		f.Action, f.Repaired = "deleted it", true
		s.cfg.Logger.WarnContext(ctx, "orphan binding secret deleted by reconcile", "secret_key", f.SecretKey, "instance_id", f.InstanceID, "deployment_id", f.DeploymentID)
	case cloudify.IsNotFound(err):
		f.Action = "it is gone already"
	default:
		f.Action, f.Error = "none", err.Error()
	}
	return nil
}
