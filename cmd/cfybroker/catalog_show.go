package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/broker"
)

func newCatalogShowCommand(bf *backendFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show SERVICE",
		Short: "Print a service as the platform sees it in GET /v2/catalog (JSON unless -o says otherwise)",
		Long: `Print a service exactly as the broker's GET /v2/catalog serves it to the platform: JSON by
default, YAML with -o yaml. With -o table, a summary with the broker's own data: the
blueprint and fixed inputs of each plan, its bind workflows, the credentials mapping,
type and URI template.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: bf.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				c, err := b.Catalog(ctx)
				if err != nil {
					return err
				}
				svc, ok := findService(c, args[0])
				if !ok {
					return fmt.Errorf("no service %q in the catalog (catalog list shows them)", args[0])
				}
				format, _ := bf.format()
				if format == formatTable && cmd.Flags().Changed("output") {
					return showServiceTable(cmd.OutOrStdout(), svc)
				}
				raw, err := b.OSBCatalog(ctx)
				if err != nil {
					return err
				}
				var osbCat struct {
					Services []json.RawMessage `json:"services"`
				}
				if err := json.Unmarshal(raw, &osbCat); err != nil {
					return fmt.Errorf("catalog: %w", err)
				}
				for _, s := range osbCat.Services {
					var head struct {
						ID string `json:"id"`
					}
					if json.Unmarshal(s, &head) != nil || head.ID != svc.ID {
						continue
					}
					if format == formatYAML {
						var v any
						if err := json.Unmarshal(s, &v); err != nil {
							return err
						}
						return writeYAML(cmd.OutOrStdout(), v)
					}
					// The bytes as served, in their order, indented.
					var buf bytes.Buffer
					if err := json.Indent(&buf, s, "", "  "); err != nil {
						return err
					}
					buf.WriteByte('\n')
					_, err := cmd.OutOrStdout().Write(buf.Bytes())
					return err
				}
				return fmt.Errorf("service %s is not in the OSB catalog", svc.Name)
			})
		},
	}
}

func showServiceTable(w io.Writer, s broker.Service) error {
	tw := newTable(w)
	row(tw, "name:", s.Name)
	row(tw, "id:", s.ID)
	row(tw, "blueprint:", s.BlueprintID)
	row(tw, "description:", s.Description)
	row(tw, "tags:", orDash(strings.Join(s.Tags, ", ")))
	row(tw, "bindable:", fmt.Sprint(s.Bindable))
	row(tw, "plan_updateable:", fmt.Sprint(s.PlanUpdateable))
	if len(s.Credentials) == 0 {
		row(tw, "credentials:", "every capability (or every output when there are none)")
	}
	for i, c := range s.Credentials {
		label := ""
		if i == 0 {
			label = "credentials:"
		}
		src := c.Source
		if src == "" {
			src = "capability or output"
		}
		name := c.Name
		if name == "" {
			name = c.Key
		}
		secret := ""
		if c.Secret {
			secret = " (secret)"
		}
		row(tw, label, fmt.Sprintf("%s <- %s %s%s", c.Key, src, name, secret))
	}
	if s.CredentialsType != "" {
		row(tw, "credentials type:", s.CredentialsType)
	}
	if s.URITemplate != "" {
		row(tw, "uri template:", s.URITemplate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "PLAN", "BLUEPRINT", "MAINTENANCE", "FREE", "FIXED INPUTS", "PARAMETERS", "BINDINGS", "ID")
	for _, p := range s.Plans {
		mv := ""
		if p.MaintenanceInfo != nil {
			mv = p.MaintenanceInfo.Version
		}
		row(tw, p.Name, p.BlueprintID, orDash(mv), fmt.Sprint(p.Free), orDash(strings.Join(sortedKeys(p.Inputs), ",")),
			orDash(strings.Join(schemaProperties(p.CreateSchema), ",")), planBindings(s, p), p.ID)
	}
	return tw.Flush()
}

// planBindings describes a plan's bindings for the table: "-" when it is not bindable,
// "shared", or "per-binding" with its workflows, binding parameters and rotation.
func planBindings(s broker.Service, p broker.Plan) string {
	switch {
	case !s.PlanBindable(p):
		return "-"
	case !p.PerBindingCredentials():
		return "shared"
	}
	out := fmt.Sprintf("per-binding (%s/%s", p.BindWorkflows.Bind, p.BindWorkflows.Unbind)
	if params := schemaProperties(p.BindSchema); len(params) > 0 {
		out += "; parameters " + strings.Join(params, ",")
	}
	if r := p.BindingRotation; r != nil {
		out += "; rotatable"
		if r.MaximumValidityPeriod > 0 {
			out += fmt.Sprintf(", valid %s", time.Duration(r.MaximumValidityPeriod)*time.Second)
		}
		if r.OverlapPeriod > 0 {
			out += fmt.Sprintf(", overlap %s", time.Duration(r.OverlapPeriod)*time.Second)
		}
	}
	return out + ")"
}

// schemaProperties lists the properties of a parameters schema.
func schemaProperties(schema json.RawMessage) []string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	return sortedKeys(s.Properties)
}
