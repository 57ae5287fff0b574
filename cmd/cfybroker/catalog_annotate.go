package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalog"
)

// serviceFlags maps annotate's flags to overlay service fields (catalog.ServiceFields).
var serviceFlags = []struct{ flag, field, usage string }{
	{"name", "name", "OSB service name"},
	{"description", "description", "service description"},
	{"tag", "tags", "a tag (repeat the flag, or separate with commas; replaces the tags)"},
	{"requires", "requires", "permissions: syslog_drain, route_forwarding, volume_mount (replaces them)"},
	{"bindable", "bindable", "whether instances can be bound"},
	{"plan-updateable", "plan_updateable", "whether an instance may change plans"},
	{"allow-context-updates", "allow_context_updates", "whether context-only updates are allowed"},
	{"instances-retrievable", "instances_retrievable", "whether GET of an instance is supported"},
	{"bindings-retrievable", "bindings_retrievable", "whether GET of a binding is supported"},
	{"display-name", "metadata.displayName", "metadata.displayName"},
	{"image-url", "metadata.imageUrl", "metadata.imageUrl"},
	{"long-description", "metadata.longDescription", "metadata.longDescription"},
	{"documentation-url", "metadata.documentationUrl", "metadata.documentationUrl"},
	{"support-url", "metadata.supportUrl", "metadata.supportUrl"},
	{"provider-display-name", "metadata.providerDisplayName", "metadata.providerDisplayName"},
	{"maintenance-version", "maintenance_info.version", "default maintenance_info.version of the plans"},
	{"maintenance-description", "maintenance_info.description", "default maintenance_info.description of the plans"},
	{"credentials-type", "credentials_type", `the "type" entry of the bindings' credentials (default: the blueprint label osb-type, else the first tag)`},
	{"uri-template", "uri_template", `makes a "uri" entry of the bindings' credentials from the others, e.g. "mysql://{username}:{password}@{host}:{port}/{database}"`},
	{"bind-workflow", "bind_workflow", "default workflow of the plans that makes one binding's credentials (default osb_bind)"},
	{"unbind-workflow", "unbind_workflow", "default workflow of the plans that revokes one binding's credentials (default osb_unbind)"},
	{"bindings", "bindings", "default of the plans: shared or per-binding (default: per-binding when the blueprint declares the bind workflows)"},
	{"binding-max-validity", "binding_rotation.maximum_validity_period", "default binding rotation of the plans: how long credentials are valid, seconds or a duration such as 720h (0: no expiry)"},
	{"binding-overlap", "binding_rotation.overlap_period", "default binding rotation of the plans: how long before expiry a successor should be made, seconds or a duration"},
}

func newCatalogAnnotateCommand(bf *backendFlags) *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "annotate SERVICE [flags]",
		Short: "Set a service's description, tags, bindable, metadata and other fields",
		Long: `Set fields of a service in the overlay; only the flags given change. An empty value
unsets a field (its default applies again). --set FIELD=VALUE sets any field by its
overlay name: ` + strings.Join(catalog.ServiceFields, ", ") + `.`,
		Example: `  cfybroker catalog annotate mariadb --description "Clustered MariaDB" --tag sql --tag mariadb --bindable=true
  cfybroker catalog annotate redis-cache --display-name Redis --set metadata.imageUrl=https://example.com/redis.png
  cfybroker catalog annotate mariadb --credentials-type mysql --uri-template "mysql://{username}:{password}@{host}:{port}/{database}"
  cfybroker catalog annotate mariadb --binding-max-validity 720h --binding-overlap 24h`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			type change struct{ field, value string }
			var changes []change
			for _, sf := range serviceFlags {
				f := cmd.Flags().Lookup(sf.flag)
				if !f.Changed {
					continue
				}
				v := f.Value.String()
				if sv, ok := f.Value.(interface{ GetSlice() []string }); ok {
					v = strings.Join(sv.GetSlice(), ",")
				}
				changes = append(changes, change{sf.field, v})
			}
			for _, s := range sets {
				field, value, ok := strings.Cut(s, "=")
				if !ok {
					return usageError{fmt.Errorf("--set %q: want FIELD=VALUE", s)}
				}
				changes = append(changes, change{strings.TrimSpace(field), value})
			}
			if len(changes) == 0 {
				return usageError{errors.New("nothing to change: give at least one flag (see --help)")}
			}
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				bp := blueprintOf(c, args[0])
				for _, ch := range changes {
					if err := ov.SetServiceField(bp, ch.field, ch.value); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	for _, sf := range serviceFlags {
		switch sf.flag {
		case "tag", "requires":
			f.StringSlice(sf.flag, nil, sf.usage)
		case "bindable", "plan-updateable", "allow-context-updates", "instances-retrievable", "bindings-retrievable":
			f.Bool(sf.flag, false, sf.usage)
		default:
			f.String(sf.flag, "", sf.usage)
		}
	}
	f.StringArrayVar(&sets, "set", nil, "FIELD=VALUE: set any overlay field of the service (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("bindings", cobra.FixedCompletions([]string{catalog.BindingsShared, catalog.BindingsPerBinding}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newCatalogHideCommand(bf *backendFlags, hide bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "hide BLUEPRINT...",
		Short:             "Stop publishing blueprints (their services leave the catalog)",
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.editOverlay(cmd, func(c broker.Catalog, ov *catalog.Overlay) error {
				for _, a := range args {
					if hide {
						ov.Hide(blueprintOf(c, a))
					} else {
						ov.Unhide(blueprintOf(c, a))
					}
				}
				return nil
			})
		},
	}
	if !hide {
		cmd.Use = "unhide BLUEPRINT..."
		cmd.Short = "Publish hidden blueprints again"
		cmd.ValidArgsFunction = nil
	}
	return cmd
}
