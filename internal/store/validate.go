package store

import (
	"errors"
	"fmt"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// ValidateTx rejects transactions that no engine could apply as one set of
// independent conditional writes.
func ValidateTx(tx broker.Tx) error {
	type key struct{ kind, instanceID, id string }
	seen := make(map[key]bool)
	check := func(k key, version int64) error {
		name := fmt.Sprintf("%s %q", k.kind, k.id)
		if k.instanceID != "" {
			name += fmt.Sprintf(" of instance %q", k.instanceID)
		}
		switch {
		case k.id == "" || (k.kind == "binding" && k.instanceID == ""):
			return fmt.Errorf("%s: empty id", name)
		case version < 0:
			return fmt.Errorf("%s: negative version %d", name, version)
		case seen[k]:
			return fmt.Errorf("%s: named twice in one transaction", name)
		}
		seen[k] = true
		return nil
	}
	for _, in := range tx.Instances {
		if in == nil {
			return errors.New("nil instance")
		}
		if err := check(key{"instance", "", in.ID}, in.Version); err != nil {
			return err
		}
	}
	for _, op := range tx.Operations {
		if op == nil {
			return errors.New("nil operation")
		}
		if err := check(key{"operation", "", op.ID}, op.Version); err != nil {
			return err
		}
	}
	for _, bs := range [][]*broker.Binding{tx.Bindings, tx.DeleteBindings} {
		for _, b := range bs {
			if b == nil {
				return errors.New("nil binding")
			}
			if err := check(key{"binding", b.InstanceID, b.ID}, b.Version); err != nil {
				return err
			}
		}
	}
	return nil
}

// Committed advances the version of every record tx writes, as an engine does once
// tx is durable: only then do the callers' records change, so that a failed commit
// leaves them as they were and a retry writes the same versions.
func Committed(tx broker.Tx) {
	for _, in := range tx.Instances {
		in.Version++
	}
	for _, op := range tx.Operations {
		op.Version++
	}
	for _, b := range tx.Bindings {
		b.Version++
	}
}
