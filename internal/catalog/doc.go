// Package catalog builds the broker's published OSB catalog from the Cloudify manager's
// blueprints merged with the operator's overlay.
//
// # Schemas
//
// InputSchemas turns a blueprint plan's inputs into the create and update parameter schemas
// of an OSB plan (JSON Schema draft-04 by default, draft-07 as an option): a closed object
// with one property per input that is neither hidden nor fixed by the plan; types, defaults
// (not intrinsic functions), display labels and constraints mapped to keywords; custom data
// types as local "#/definitions" refs; the required list per the manager release's rule.
// Python "pattern" constraints are anchored at the start and converted to the syntax that
// ECMA-262 and RE2 share; what cannot be expressed is left to the manager, described in the
// property's description and the "x-cloudify" vendor keyword, and reported as a warning.
//
// # Ids and names
//
// A service id is the UUIDv5, in Namespace, of the JSON array ["service", manager URL,
// tenant, blueprint id]; a plan id that of ["plan", manager URL, tenant, service key, plan
// name], where the service key is the service's blueprint id and the manager URL is
// normalized (NormalizeManagerURL). Both are pure functions of those values, so they are
// the same across syncs and restarts; the overlay can pin either. Service names are derived
// from blueprint ids by ServiceName; collisions get "-2", "-3", ... in blueprint id order.
//
// # Overlay
//
// The overlay is a YAML document (see FORMAT.md next to this file for the reference):
//
//	version: 1
//	label_filter: osb-publish=true   # only blueprints with this label (key or key=value)
//	hidden: [network_base]           # blueprints never published
//	bindable: true                   # default of every service
//	services:
//	  mariadb:                       # blueprint id
//	    hide: false
//	    name: mariadb                # default: ServiceName(blueprint id)
//	    id: <pinned service id>      # default: ServiceID(...)
//	    description: Clustered MariaDB
//	    tags: [sql]
//	    requires: [syslog_drain]     # syslog_drain, route_forwarding, volume_mount
//	    metadata: {displayName: MariaDB, imageUrl: ..., longDescription: ...,
//	               documentationUrl: ..., supportUrl: ..., providerDisplayName: ...}
//	    bindable: true
//	    instances_retrievable: true  # default true
//	    bindings_retrievable: true   # default true
//	    plan_updateable: false
//	    allow_context_updates: false
//	    maintenance_info: {version: 1.0.0}   # default of the plans
//	    credentials:
//	      - {key: host, from: capability, name: endpoint, secret: false}
//	    credentials_type: mysql      # default: label osb-type, else the first tag
//	    uri_template: "mysql://{username}:{password}@{host}:{port}/{database}"
//	    bind_workflow: osb_bind      # default of the plans (the default name)
//	    unbind_workflow: osb_unbind  # default of the plans (the default name)
//	    bindings: per-binding        # default of the plans: shared or per-binding
//	    binding_rotation: {maximum_validity_period: 2592000, overlap_period: 86400}
//	    plans:                       # default: one plan "default" with every input
//	      - name: small
//	        id: <pinned plan id>     # default: PlanID(...)
//	        description: One node
//	        free: true               # default true
//	        bindable: true
//	        plan_updateable: true
//	        maximum_polling_duration: 3600
//	        metadata:
//	          displayName: Small
//	          bullets: [1 node]
//	          costs: [{amount: {usd: 10.0}, unit: MONTHLY}]
//	        inputs: {node_count: 1}  # fixed by the plan, left out of its schemas
//	        blueprint: mariadb_v2    # default: the service's blueprint
//	        maintenance_info: {version: 2.0.0, description: MariaDB 11}
//	        binding_rotation: {maximum_validity_period: 604800}  # overrides the service's,
//	                                 # as the plan's bind_workflow, unbind_workflow and bindings do
//
// ParseOverlay reads it strictly (errors name the line); Overlay.Export writes it back;
// the Overlay methods (SetServiceField, AddPlan, SetPlan, RemovePlan, MapCredential,
// UnmapCredential, Hide, Unhide, ...) are the CLI's edits.
//
// # Bindings
//
// A bindable plan gives each binding its own credentials when its blueprint declares the
// bind and unbind workflows (DefaultBindWorkflow and DefaultUnbindWorkflow unless the
// overlay names others), each with the parameters binding_id and secret_key, and the
// overlay does not say bindings: shared; its broker.Plan then has BindWorkflows, and its
// BindSchema (OSB service_binding.create) is ParameterSchema of the bind workflow's
// parameters without those the broker sets (binding_id, secret_key, app_guid,
// predecessor_binding_id). Otherwise the plan's bindings share the deployment's
// credentials. When the overlay asks for per-binding credentials (bindings:
// per-binding, or a workflow name) and the blueprint lacks them, Build fails, as for an
// unknown input; when only the defaults are concerned and the blueprint declares part of
// them, it warns. Every bindable plan's metadata says which kind it has
// (MetadataBindingCredentials); a plan with per-binding credentials may be rotatable
// (binding_rotation: the plan's, else the service's), published as binding_rotatable and
// MetadataBindingRotation. The service's CredentialsType is the overlay's, else the
// blueprint label CredentialsTypeLabel, else its first tag; its URITemplate is the
// overlay's (see broker.DecorateCredentials).
//
// # Build and sync
//
// Build merges blueprints and overlay into a broker.Catalog whose ETag changes exactly when
// what the platform sees changes. Syncer.Sync lists the blueprints, reads the overlay from
// the broker.CatalogStore, builds and stores the catalog, leaving the previous one in place
// on any error. Diff describes what changes between two catalogs.
package catalog
