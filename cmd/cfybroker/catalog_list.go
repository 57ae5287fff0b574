package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cfybroker/cfybroker/internal/broker"
)

// serviceRow and planRow are catalog list's rows.
type serviceRow struct {
	Name        string                   `json:"name"`
	ID          string                   `json:"id"`
	Blueprint   string                   `json:"blueprint"`
	Bindable    bool                     `json:"bindable"`
	Tags        []string                 `json:"tags,omitempty"`
	Credentials []broker.CredentialField `json:"credentials,omitempty"`
	Plans       []planRow                `json:"plans"`
}

type planRow struct {
	Name               string         `json:"name"`
	ID                 string         `json:"id"`
	Blueprint          string         `json:"blueprint"`
	MaintenanceVersion string         `json:"maintenance_version,omitempty"`
	Free               bool           `json:"free"`
	FixedInputs        map[string]any `json:"fixed_inputs,omitempty"`
}

func serviceRows(c broker.Catalog) []serviceRow {
	rows := make([]serviceRow, 0, len(c.Services))
	for _, s := range c.Services {
		r := serviceRow{Name: s.Name, ID: s.ID, Blueprint: s.BlueprintID, Bindable: s.Bindable, Tags: s.Tags, Credentials: s.Credentials, Plans: []planRow{}}
		for _, p := range s.Plans {
			pr := planRow{Name: p.Name, ID: p.ID, Blueprint: p.BlueprintID, Free: p.Free, FixedInputs: p.Inputs}
			if p.MaintenanceInfo != nil {
				pr.MaintenanceVersion = p.MaintenanceInfo.Version
			}
			r.Plans = append(r.Plans, pr)
		}
		rows = append(rows, r)
	}
	return rows
}

func newCatalogListCommand(bf *backendFlags) *cobra.Command {
	var plans bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the published services (or, with --plans, their plans)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bf.run(cmd, func(ctx context.Context, b backend) error {
				c, err := b.Catalog(ctx)
				if err != nil {
					return err
				}
				rows := serviceRows(c)
				format, _ := bf.format()
				return render(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
					tw := newTable(w)
					if plans {
						row(tw, "SERVICE", "PLAN", "BLUEPRINT", "MAINTENANCE", "FREE", "FIXED INPUTS", "PLAN ID")
						for _, s := range rows {
							for _, p := range s.Plans {
								row(tw, s.Name, p.Name, p.Blueprint, orDash(p.MaintenanceVersion), fmt.Sprint(p.Free), orDash(strings.Join(sortedKeys(p.FixedInputs), ",")), p.ID)
							}
						}
						return tw.Flush()
					}
					row(tw, "SERVICE", "BLUEPRINT", "PLANS", "BINDABLE", "TAGS", "ID")
					for _, s := range rows {
						names := make([]string, 0, len(s.Plans))
						for _, p := range s.Plans {
							names = append(names, p.Name)
						}
						row(tw, s.Name, s.Blueprint, strings.Join(names, ","), fmt.Sprint(s.Bindable), orDash(strings.Join(s.Tags, ",")), s.ID)
					}
					return tw.Flush()
				})
			})
		},
	}
	cmd.Flags().BoolVar(&plans, "plans", false, "one row per plan")
	return cmd
}
