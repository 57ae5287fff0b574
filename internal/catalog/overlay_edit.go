package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The methods below are the overlay edits of the operator CLI. Each works on a copy and
// changes the overlay only when the result is valid (see Validate); an edited overlay
// loses its line information. Blueprint ids are not checked against the manager here:
// Build does that.

// ErrNoSuchEntry is returned (wrapped) when an edit names a plan or credential the overlay
// does not have.
var ErrNoSuchEntry = errors.New("no such entry")

// Service returns the overlay of the blueprint's service, and whether there is one.
func (o *Overlay) Service(blueprintID string) (ServiceOverlay, bool) {
	s, ok := o.Services[blueprintID]
	return s.clone(), ok
}

// SetService replaces the overlay of the blueprint's service.
func (o *Overlay) SetService(blueprintID string, s ServiceOverlay) error {
	return o.edit(blueprintID, func(cur *ServiceOverlay) error {
		*cur = s.clone()
		return nil
	})
}

// RemoveService deletes the overlay of the blueprint's service (the blueprint is then
// published with the defaults, unless hidden by the global list).
func (o *Overlay) RemoveService(blueprintID string) {
	if _, ok := o.Services[blueprintID]; !ok {
		return
	}
	c := o.Clone()
	delete(c.Services, blueprintID)
	if len(c.Services) == 0 {
		c.Services = nil
	}
	*o = c
}

// ServiceFields lists the fields SetServiceField accepts.
var ServiceFields = []string{
	"name", "id", "description", "tags", "requires", "hide", "bindable",
	"instances_retrievable", "bindings_retrievable", "plan_updateable", "allow_context_updates",
	"metadata.displayName", "metadata.imageUrl", "metadata.longDescription",
	"metadata.documentationUrl", "metadata.supportUrl", "metadata.providerDisplayName",
	"maintenance_info.version", "maintenance_info.description",
	"credentials_type", "uri_template", "bind_workflow", "unbind_workflow", "bindings",
	"binding_rotation.maximum_validity_period", "binding_rotation.overlap_period",
}

// SetServiceField sets one field of the blueprint's service from its text form, as the CLI
// gets it: field is a name from ServiceFields; booleans are "true" or "false"; tags and
// requires are comma-separated lists; the binding_rotation periods are seconds or a
// duration (see ParsePeriod). An empty value unsets the field (the default applies);
// unsetting both periods removes binding_rotation, while setting one to 0 makes the
// bindings rotatable without expiry.
func (o *Overlay) SetServiceField(blueprintID, field, value string) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		if p, ok := s.boolField(field); ok {
			b, err := parseOptionalBool(value)
			if err != nil {
				return fmt.Errorf("catalog: %s: %w", field, err)
			}
			*p = b
			return nil
		}
		switch field {
		case "name":
			s.Name = value
		case "id":
			s.ID = value
		case "description":
			s.Description = value
		case "tags":
			s.Tags = splitList(value)
		case "requires":
			s.Requires = splitList(value)
		case "hide":
			b, err := parseOptionalBool(value)
			if err != nil {
				return fmt.Errorf("catalog: hide: %w", err)
			}
			s.Hide = b != nil && *b
		case "metadata.displayName":
			s.Metadata.DisplayName = value
		case "metadata.imageUrl":
			s.Metadata.ImageURL = value
		case "metadata.longDescription":
			s.Metadata.LongDescription = value
		case "metadata.documentationUrl":
			s.Metadata.DocumentationURL = value
		case "metadata.supportUrl":
			s.Metadata.SupportURL = value
		case "metadata.providerDisplayName":
			s.Metadata.ProviderDisplayName = value
		case "maintenance_info.version", "maintenance_info.description":
			m := MaintenanceInfo{}
			if s.MaintenanceInfo != nil {
				m = *s.MaintenanceInfo
			}
			if field == "maintenance_info.version" {
				m.Version = value
			} else {
				m.Description = value
			}
			s.MaintenanceInfo = &m
			if m == (MaintenanceInfo{}) {
				s.MaintenanceInfo = nil
			}
		case "credentials_type":
			s.CredentialsType = value
		case "uri_template":
			s.URITemplate = value
		case "bind_workflow":
			s.BindWorkflow = value
		case "unbind_workflow":
			s.UnbindWorkflow = value
		case "bindings":
			s.Bindings = value
		case "binding_rotation.maximum_validity_period", "binding_rotation.overlap_period":
			r, err := EditBindingRotation(s.BindingRotation, strings.TrimPrefix(field, "binding_rotation."), value)
			if err != nil {
				return fmt.Errorf("catalog: %s: %w", field, err)
			}
			s.BindingRotation = r
		default:
			return fmt.Errorf("catalog: unknown service field %q (want one of %s)", field, strings.Join(ServiceFields, ", "))
		}
		return nil
	})
}

func (s *ServiceOverlay) boolField(field string) (**bool, bool) {
	switch field {
	case "bindable":
		return &s.Bindable, true
	case "instances_retrievable":
		return &s.InstancesRetrievable, true
	case "bindings_retrievable":
		return &s.BindingsRetrievable, true
	case "plan_updateable":
		return &s.PlanUpdateable, true
	case "allow_context_updates":
		return &s.AllowContextUpdates, true
	}
	return nil, false
}

// EditBindingRotation returns a copy of r (nil: none) with one period, name
// "maximum_validity_period" or "overlap_period", set from its text (see ParsePeriod) or
// unset by "": nil once both are unset. Setting a period to 0 keeps the rotation (with
// no expiry, or no overlap).
func EditBindingRotation(r *BindingRotation, name, value string) (*BindingRotation, error) {
	if name != "maximum_validity_period" && name != "overlap_period" {
		return nil, fmt.Errorf("unknown binding_rotation field %q (want maximum_validity_period or overlap_period)", name)
	}
	c := BindingRotation{}
	if r != nil {
		c = *r
	}
	secs := 0
	if value != "" {
		var err error
		if secs, err = ParsePeriod(value); err != nil {
			return nil, err
		}
	}
	if name == "maximum_validity_period" {
		c.MaximumValidityPeriod = secs
	} else {
		c.OverlapPeriod = secs
	}
	if value == "" && c == (BindingRotation{}) {
		return nil, nil
	}
	return &c, nil
}

// ParsePeriod reads a period of the overlay from its text form: whole seconds ("3600")
// or a Go duration of whole seconds ("720h", "90m", "1h30m").
func ParsePeriod(s string) (int, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration such as 720h, got %q", s)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%s is not a whole number of seconds", d)
	}
	return int(d / time.Second), nil
}

func parseOptionalBool(v string) (*bool, error) {
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, fmt.Errorf("want true or false, got %q", v)
	}
	return &b, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// AddPlan appends a plan to the blueprint's service; a plan of that name must not exist.
func (o *Overlay) AddPlan(blueprintID string, p PlanOverlay) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		if s.planIndex(p.Name) >= 0 {
			return fmt.Errorf("catalog: service %s already has a plan %q", blueprintID, p.Name)
		}
		s.Plans = append(s.Plans, p.clone())
		return nil
	})
}

// SetPlan replaces the plan with p's name, or appends p when there is none.
func (o *Overlay) SetPlan(blueprintID string, p PlanOverlay) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		if i := s.planIndex(p.Name); i >= 0 {
			s.Plans[i] = p.clone()
		} else {
			s.Plans = append(s.Plans, p.clone())
		}
		return nil
	})
}

// RemovePlan deletes the named plan; it wraps ErrNoSuchEntry when there is none. Removing
// the last plan brings back the implicit "default" plan.
func (o *Overlay) RemovePlan(blueprintID, name string) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		i := s.planIndex(name)
		if i < 0 {
			return fmt.Errorf("catalog: service %s has no plan %q: %w", blueprintID, name, ErrNoSuchEntry)
		}
		s.Plans = slices.Delete(s.Plans, i, i+1)
		if len(s.Plans) == 0 {
			s.Plans = nil
		}
		return nil
	})
}

func (s *ServiceOverlay) planIndex(name string) int {
	return slices.IndexFunc(s.Plans, func(p PlanOverlay) bool { return p.Name == name })
}

// MapCredential sets the mapping of credentials key c.Key, replacing an existing one.
func (o *Overlay) MapCredential(blueprintID string, c CredentialMapping) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		i := slices.IndexFunc(s.Credentials, func(e CredentialMapping) bool { return e.Key == c.Key })
		if i >= 0 {
			s.Credentials[i] = c
		} else {
			s.Credentials = append(s.Credentials, c)
		}
		return nil
	})
}

// UnmapCredential deletes the mapping of a credentials key; it wraps ErrNoSuchEntry when
// there is none.
func (o *Overlay) UnmapCredential(blueprintID, key string) error {
	return o.edit(blueprintID, func(s *ServiceOverlay) error {
		i := slices.IndexFunc(s.Credentials, func(e CredentialMapping) bool { return e.Key == key })
		if i < 0 {
			return fmt.Errorf("catalog: service %s maps no credential %q: %w", blueprintID, key, ErrNoSuchEntry)
		}
		s.Credentials = slices.Delete(s.Credentials, i, i+1)
		if len(s.Credentials) == 0 {
			s.Credentials = nil
		}
		return nil
	})
}

// Hide adds the blueprint to the global hidden list (its service settings are kept).
func (o *Overlay) Hide(blueprintID string) {
	if slices.Contains(o.Hidden, blueprintID) {
		return
	}
	c := o.Clone()
	c.Hidden = append(c.Hidden, blueprintID)
	*o = c
}

// Unhide removes the blueprint from the hidden list and clears its service's hide flag.
func (o *Overlay) Unhide(blueprintID string) {
	c := o.Clone()
	c.Hidden = slices.DeleteFunc(c.Hidden, func(h string) bool { return h == blueprintID })
	if len(c.Hidden) == 0 {
		c.Hidden = nil
	}
	if s, ok := c.Services[blueprintID]; ok {
		s.Hide = false
		c.Services[blueprintID] = s
		c.dropEmpty(blueprintID)
	}
	*o = c
}

// IsHidden reports whether the overlay hides the blueprint (hidden list or hide flag).
func (o *Overlay) IsHidden(blueprintID string) bool {
	return slices.Contains(o.Hidden, blueprintID) || o.Services[blueprintID].Hide
}

// edit applies fn to a copy of the blueprint's service and keeps the result if the whole
// overlay is then valid.
func (o *Overlay) edit(blueprintID string, fn func(*ServiceOverlay) error) error {
	if strings.TrimSpace(blueprintID) == "" {
		return errors.New("catalog: empty blueprint id")
	}
	c := o.Clone()
	s := c.Services[blueprintID]
	if err := fn(&s); err != nil {
		return err
	}
	if c.Services == nil {
		c.Services = map[string]ServiceOverlay{}
	}
	c.Services[blueprintID] = s
	c.dropEmpty(blueprintID)
	if err := c.validate(); err != nil {
		return err
	}
	*o = c
	return nil
}

// dropEmpty removes a service entry that sets nothing, so that exports stay small.
func (o *Overlay) dropEmpty(blueprintID string) {
	s, ok := o.Services[blueprintID]
	if !ok || !s.isZero() {
		return
	}
	delete(o.Services, blueprintID)
	if len(o.Services) == 0 {
		o.Services = nil
	}
}

func (s ServiceOverlay) isZero() bool {
	return !s.Hide && s.Name == "" && s.ID == "" && s.Description == "" && len(s.Tags) == 0 &&
		len(s.Requires) == 0 && s.Metadata == (ServiceMetadata{}) && s.Bindable == nil &&
		s.InstancesRetrievable == nil && s.BindingsRetrievable == nil && s.PlanUpdateable == nil &&
		s.AllowContextUpdates == nil && s.MaintenanceInfo == nil && len(s.Credentials) == 0 && len(s.Plans) == 0 &&
		s.CredentialsType == "" && s.URITemplate == "" && s.BindWorkflow == "" && s.UnbindWorkflow == "" &&
		s.Bindings == "" && s.BindingRotation == nil
}
