package dynamostore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cfybroker/cfybroker/internal/broker"
)

// schemaVersion is the version of the stored format written by this code. Items of
// another version are refused rather than misread.
const schemaVersion = 1

// Item types (the "type" attribute).
const (
	typeInstance  = "instance"
	typeBinding   = "binding"
	typeOperation = "operation"
	typeCatalog   = "catalog"
	typeOverlay   = "overlay"
)

// chunkType is the type of the chunk items of a document of the type.
func chunkType(typ string) string { return typ + "_chunk" }

// Key parts.
const (
	pkInstancePrefix  = "INSTANCE#"
	pkOperationPrefix = "OP#"
	pkCatalog         = "CATALOG"
	pkOverlay         = "OVERLAY"
	skMeta            = "META"
	skBindingPrefix   = "BINDING#"
	skChunkPrefix     = "CHUNK#"

	// gsiInstance is the GSI1 partition of every instance.
	gsiInstance = "INSTANCE"
	// gsiActiveOperation is the GSI1 partition of the operations in progress.
	gsiActiveOperation = "ACTIVE_OP"
)

// Data attribute names used in expressions.
const (
	attrVersion = "version"
	attrWriteID = "write_id"
)

// timeLayout is how times are stored: UTC, fixed width, so that they sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime returns the stored form of a time, "" (no attribute) for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a stored time; "" is the zero time. A malformed time reads as zero:
// only this package writes these attributes.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// itemKey is the primary key of an item.
type itemKey struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

func (k itemKey) attributes() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: k.PK},
		AttrSK: &types.AttributeValueMemberS{Value: k.SK},
	}
}

func (k itemKey) String() string { return k.PK + "/" + k.SK }

func instancePK(id string) string { return pkInstancePrefix + id }

func instanceKey(id string) itemKey { return itemKey{PK: instancePK(id), SK: skMeta} }

func operationKey(id string) itemKey { return itemKey{PK: pkOperationPrefix + id, SK: skMeta} }

func bindingKey(instanceID, id string) itemKey {
	return itemKey{PK: instancePK(instanceID), SK: skBindingPrefix + id}
}

func chunkKey(pk string, n int) itemKey {
	return itemKey{PK: pk, SK: fmt.Sprintf("%s%04d", skChunkPrefix, n)}
}

// itemHeader starts every item: its key, what it is, and the index and expiry
// attributes that depend on the record's state.
type itemHeader struct {
	itemKey
	Kind   string `dynamodbav:"type"`
	Schema int    `dynamodbav:"schema"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	// ExpiresAt is the time-to-live attribute (Unix seconds); 0 for none.
	ExpiresAt int64 `dynamodbav:"expires_at,omitempty"`
	// WriteID marks the Commit that wrote the item (see the package documentation).
	WriteID string `dynamodbav:"write_id,omitempty"`
}

func newHeader(key itemKey, typ string) itemHeader {
	return itemHeader{itemKey: key, Kind: typ, Schema: schemaVersion}
}

// check refuses an item of another type or schema version.
func (h itemHeader) check(typ string) error {
	if h.Kind != typ {
		return fmt.Errorf("item %s is of type %q, want %q", h.itemKey, h.Kind, typ)
	}
	if h.Schema != schemaVersion {
		return fmt.Errorf("item %s has schema version %d, want %d", h.itemKey, h.Schema, schemaVersion)
	}
	return nil
}

// expiry returns the expires_at of a record that may expire from base on, 0 when
// retention is disabled. A zero base stands for now.
func expiry(base, now time.Time, retention time.Duration) int64 {
	if retention <= 0 {
		return 0
	}
	if base.IsZero() {
		base = now
	}
	return base.Add(retention).Unix()
}

// instanceItem is the stored form of a broker.Instance.
type instanceItem struct {
	itemHeader
	ID                 string `dynamodbav:"id"`
	ServiceID          string `dynamodbav:"service_id,omitempty"`
	PlanID             string `dynamodbav:"plan_id,omitempty"`
	OrganizationGUID   string `dynamodbav:"organization_guid,omitempty"`
	SpaceGUID          string `dynamodbav:"space_guid,omitempty"`
	Context            []byte `dynamodbav:"context,omitempty"`
	Fingerprint        string `dynamodbav:"fingerprint,omitempty"`
	Parameters         []byte `dynamodbav:"parameters,omitempty"`
	DeploymentID       string `dynamodbav:"deployment_id,omitempty"`
	BlueprintID        string `dynamodbav:"blueprint_id,omitempty"`
	MaintenanceVersion string `dynamodbav:"maintenance_version,omitempty"`
	DashboardURL       string `dynamodbav:"dashboard_url,omitempty"`
	State              string `dynamodbav:"state,omitempty"`
	OperationID        string `dynamodbav:"operation_id,omitempty"`
	OperationType      string `dynamodbav:"operation_type,omitempty"`
	OperationState     string `dynamodbav:"operation_state,omitempty"`
	CreatedAt          string `dynamodbav:"created_at,omitempty"`
	UpdatedAt          string `dynamodbav:"updated_at,omitempty"`
	Version            int64  `dynamodbav:"version"`
}

// newInstanceItem returns the item that stores in at the version. A tombstone (State
// gone) expires after the retention.
func newInstanceItem(in broker.Instance, version int64, now time.Time, retention time.Duration) instanceItem {
	h := newHeader(instanceKey(in.ID), typeInstance)
	h.GSI1PK, h.GSI1SK = gsiInstance, in.ID
	if in.State == broker.InstanceGone {
		h.ExpiresAt = expiry(in.UpdatedAt, now, retention)
	}
	return instanceItem{
		itemHeader:         h,
		ID:                 in.ID,
		ServiceID:          in.ServiceID,
		PlanID:             in.PlanID,
		OrganizationGUID:   in.OrganizationGUID,
		SpaceGUID:          in.SpaceGUID,
		Context:            in.Context,
		Fingerprint:        in.Fingerprint,
		Parameters:         in.Parameters,
		DeploymentID:       in.DeploymentID,
		BlueprintID:        in.BlueprintID,
		MaintenanceVersion: in.MaintenanceVersion,
		DashboardURL:       in.DashboardURL,
		State:              string(in.State),
		OperationID:        in.OperationID,
		OperationType:      string(in.OperationType),
		OperationState:     string(in.OperationState),
		CreatedAt:          formatTime(in.CreatedAt),
		UpdatedAt:          formatTime(in.UpdatedAt),
		Version:            version,
	}
}

func (it instanceItem) instance() broker.Instance {
	return broker.Instance{
		ID:                 it.ID,
		ServiceID:          it.ServiceID,
		PlanID:             it.PlanID,
		OrganizationGUID:   it.OrganizationGUID,
		SpaceGUID:          it.SpaceGUID,
		Context:            json.RawMessage(it.Context),
		Fingerprint:        it.Fingerprint,
		Parameters:         it.Parameters,
		DeploymentID:       it.DeploymentID,
		BlueprintID:        it.BlueprintID,
		MaintenanceVersion: it.MaintenanceVersion,
		DashboardURL:       it.DashboardURL,
		State:              broker.InstanceState(it.State),
		OperationID:        it.OperationID,
		OperationType:      broker.OperationType(it.OperationType),
		OperationState:     broker.OperationState(it.OperationState),
		CreatedAt:          parseTime(it.CreatedAt),
		UpdatedAt:          parseTime(it.UpdatedAt),
		Version:            it.Version,
	}
}

// operationItem is the stored form of a broker.Operation. An empty label value is
// stored as NULL: DynamoDB Local (a 2020 build) refuses empty strings, which DynamoDB
// has accepted outside keys since 2020.
type operationItem struct {
	itemHeader
	ID                 string            `dynamodbav:"id"`
	Type               string            `dynamodbav:"operation_type,omitempty"`
	InstanceID         string            `dynamodbav:"instance_id,omitempty"`
	BindingID          string            `dynamodbav:"binding_id,omitempty"`
	Workflow           string            `dynamodbav:"workflow,omitempty"`
	SecretKey          string            `dynamodbav:"secret_key,omitempty"`
	State              string            `dynamodbav:"state,omitempty"`
	Description        string            `dynamodbav:"description,omitempty"`
	Phase              string            `dynamodbav:"phase,omitempty"`
	DeploymentID       string            `dynamodbav:"deployment_id,omitempty"`
	BlueprintID        string            `dynamodbav:"blueprint_id,omitempty"`
	ServiceID          string            `dynamodbav:"service_id,omitempty"`
	PlanID             string            `dynamodbav:"plan_id,omitempty"`
	PreviousPlanID     string            `dynamodbav:"previous_plan_id,omitempty"`
	MaintenanceVersion string            `dynamodbav:"maintenance_version,omitempty"`
	Inputs             []byte            `dynamodbav:"inputs,omitempty"`
	Parameters         []byte            `dynamodbav:"parameters,omitempty"`
	Fingerprint        string            `dynamodbav:"fingerprint,omitempty"`
	Labels             map[string]string `dynamodbav:"labels,omitempty,nullemptyelem"`
	ExecutionID        string            `dynamodbav:"execution_id,omitempty"`
	UpdateID           string            `dynamodbav:"update_id,omitempty"`
	SupersededBy       string            `dynamodbav:"superseded_by,omitempty"`
	Halts              string            `dynamodbav:"halts,omitempty"`
	Deadline           string            `dynamodbav:"deadline,omitempty"`
	NextCheck          string            `dynamodbav:"next_check,omitempty"`
	Steps              int               `dynamodbav:"steps,omitempty"`
	Retries            int               `dynamodbav:"retries,omitempty"`
	RequestID          string            `dynamodbav:"request_id,omitempty"`
	Identity           string            `dynamodbav:"identity,omitempty"`
	CreatedAt          string            `dynamodbav:"created_at,omitempty"`
	UpdatedAt          string            `dynamodbav:"updated_at,omitempty"`
	EndedAt            string            `dynamodbav:"ended_at,omitempty"`
	CloudifyEndedAt    string            `dynamodbav:"cloudify_ended_at,omitempty"`
	Version            int64             `dynamodbav:"version"`
}

// activeSortKey is the GSI1 sort key of an operation in progress: its creation time,
// fixed width, then its id.
func activeSortKey(createdAt time.Time, id string) string {
	return createdAt.UTC().Format(timeLayout) + "#" + id
}

// newOperationItem returns the item that stores op at the version. An operation in
// progress is in GSI1; a finished one expires after the retention.
func newOperationItem(op broker.Operation, version int64, now time.Time, retention time.Duration) operationItem {
	h := newHeader(operationKey(op.ID), typeOperation)
	switch {
	case op.State == broker.StateInProgress:
		h.GSI1PK, h.GSI1SK = gsiActiveOperation, activeSortKey(op.CreatedAt, op.ID)
	case op.Done():
		base := op.EndedAt
		if base.IsZero() {
			base = op.UpdatedAt
		}
		h.ExpiresAt = expiry(base, now, retention)
	}
	return operationItem{
		itemHeader:         h,
		ID:                 op.ID,
		Type:               string(op.Type),
		InstanceID:         op.InstanceID,
		BindingID:          op.BindingID,
		Workflow:           op.Workflow,
		SecretKey:          op.SecretKey,
		State:              string(op.State),
		Description:        op.Description,
		Phase:              op.Phase,
		DeploymentID:       op.DeploymentID,
		BlueprintID:        op.BlueprintID,
		ServiceID:          op.ServiceID,
		PlanID:             op.PlanID,
		PreviousPlanID:     op.PreviousPlanID,
		MaintenanceVersion: op.MaintenanceVersion,
		Inputs:             op.Inputs,
		Parameters:         op.Parameters,
		Fingerprint:        op.Fingerprint,
		Labels:             maps.Clone(op.Labels),
		ExecutionID:        op.ExecutionID,
		UpdateID:           op.UpdateID,
		SupersededBy:       op.SupersededBy,
		Halts:              op.Halts,
		Deadline:           formatTime(op.Deadline),
		NextCheck:          formatTime(op.NextCheck),
		Steps:              op.Steps,
		Retries:            op.Retries,
		RequestID:          op.RequestID,
		Identity:           op.Identity,
		CreatedAt:          formatTime(op.CreatedAt),
		UpdatedAt:          formatTime(op.UpdatedAt),
		EndedAt:            formatTime(op.EndedAt),
		CloudifyEndedAt:    formatTime(op.CloudifyEndedAt),
		Version:            version,
	}
}

func (it operationItem) operation() broker.Operation {
	return broker.Operation{
		ID:                 it.ID,
		Type:               broker.OperationType(it.Type),
		InstanceID:         it.InstanceID,
		BindingID:          it.BindingID,
		Workflow:           it.Workflow,
		SecretKey:          it.SecretKey,
		State:              broker.OperationState(it.State),
		Description:        it.Description,
		Phase:              it.Phase,
		DeploymentID:       it.DeploymentID,
		BlueprintID:        it.BlueprintID,
		ServiceID:          it.ServiceID,
		PlanID:             it.PlanID,
		PreviousPlanID:     it.PreviousPlanID,
		MaintenanceVersion: it.MaintenanceVersion,
		Inputs:             it.Inputs,
		Parameters:         it.Parameters,
		Fingerprint:        it.Fingerprint,
		Labels:             it.Labels,
		ExecutionID:        it.ExecutionID,
		UpdateID:           it.UpdateID,
		SupersededBy:       it.SupersededBy,
		Halts:              it.Halts,
		Deadline:           parseTime(it.Deadline),
		NextCheck:          parseTime(it.NextCheck),
		Steps:              it.Steps,
		Retries:            it.Retries,
		RequestID:          it.RequestID,
		Identity:           it.Identity,
		CreatedAt:          parseTime(it.CreatedAt),
		UpdatedAt:          parseTime(it.UpdatedAt),
		EndedAt:            parseTime(it.EndedAt),
		CloudifyEndedAt:    parseTime(it.CloudifyEndedAt),
		Version:            it.Version,
	}
}

// bindingItem is the stored form of a broker.Binding.
type bindingItem struct {
	itemHeader
	InstanceID  string `dynamodbav:"instance_id"`
	ID          string `dynamodbav:"id"`
	ServiceID   string `dynamodbav:"service_id,omitempty"`
	PlanID      string `dynamodbav:"plan_id,omitempty"`
	AppGUID     string `dynamodbav:"app_guid,omitempty"`
	Fingerprint string `dynamodbav:"fingerprint,omitempty"`
	Parameters  []byte `dynamodbav:"parameters,omitempty"`
	Context     []byte `dynamodbav:"context,omitempty"`
	State       string `dynamodbav:"state,omitempty"`
	SecretKey   string `dynamodbav:"secret_key,omitempty"`
	Predecessor string `dynamodbav:"predecessor_id,omitempty"`
	OperationID string `dynamodbav:"operation_id,omitempty"`
	OpType      string `dynamodbav:"operation_type,omitempty"`
	OpState     string `dynamodbav:"operation_state,omitempty"`
	ExpiresAt   string `dynamodbav:"credentials_expire_at,omitempty"`
	RenewBefore string `dynamodbav:"credentials_renew_before,omitempty"`
	CreatedAt   string `dynamodbav:"created_at,omitempty"`
	Version     int64  `dynamodbav:"version"`
}

func newBindingItem(b broker.Binding, version int64) bindingItem {
	return bindingItem{
		itemHeader:  newHeader(bindingKey(b.InstanceID, b.ID), typeBinding),
		InstanceID:  b.InstanceID,
		ID:          b.ID,
		ServiceID:   b.ServiceID,
		PlanID:      b.PlanID,
		AppGUID:     b.AppGUID,
		Fingerprint: b.Fingerprint,
		Parameters:  b.Parameters,
		Context:     b.Context,
		State:       string(b.State),
		SecretKey:   b.SecretKey,
		Predecessor: b.PredecessorID,
		OperationID: b.OperationID,
		OpType:      string(b.OperationType),
		OpState:     string(b.OperationState),
		ExpiresAt:   formatTime(b.ExpiresAt),
		RenewBefore: formatTime(b.RenewBefore),
		CreatedAt:   formatTime(b.CreatedAt),
		Version:     version,
	}
}

func (it bindingItem) binding() broker.Binding {
	return broker.Binding{
		InstanceID:     it.InstanceID,
		ID:             it.ID,
		ServiceID:      it.ServiceID,
		PlanID:         it.PlanID,
		AppGUID:        it.AppGUID,
		Fingerprint:    it.Fingerprint,
		Parameters:     it.Parameters,
		Context:        json.RawMessage(it.Context),
		State:          broker.BindingState(it.State),
		SecretKey:      it.SecretKey,
		PredecessorID:  it.Predecessor,
		OperationID:    it.OperationID,
		OperationType:  broker.OperationType(it.OpType),
		OperationState: broker.OperationState(it.OpState),
		ExpiresAt:      parseTime(it.ExpiresAt),
		RenewBefore:    parseTime(it.RenewBefore),
		CreatedAt:      parseTime(it.CreatedAt),
		Version:        it.Version,
	}
}

// documentItem is the manifest of a stored document (the catalog or the overlay):
// the whole compressed document when it fits one item, else what its chunks must be.
type documentItem struct {
	itemHeader
	// Encoding is how Data (or the chunks joined) is encoded: "gzip".
	Encoding string `dynamodbav:"encoding"`
	// Data is the compressed document when it fits this item (Chunks == 0).
	Data []byte `dynamodbav:"data,omitempty"`
	// Chunks counts the chunk items that hold the document; 0 when Data does.
	Chunks int `dynamodbav:"chunks,omitempty"`
	// Generation names this put of the document; its chunks carry it too.
	Generation string `dynamodbav:"generation"`
	// SHA256 is the hex SHA-256 of the compressed document.
	SHA256 string `dynamodbav:"sha256"`
	// Size is the compressed size in bytes.
	Size int `dynamodbav:"size"`
	// PutAt is when the document was put (for operators).
	PutAt string `dynamodbav:"put_at,omitempty"`
}

// chunkItem is one part of a compressed document too big for one item.
type chunkItem struct {
	itemHeader
	Generation string `dynamodbav:"generation"`
	Data       []byte `dynamodbav:"data"`
}

// marshalItem returns the attribute map of an item struct.
func marshalItem(item any) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return av, nil
}

// randomWriteID returns a fresh random token for the items of one Commit.
func randomWriteID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b[:])
}
