package broker

import (
	"errors"
	"fmt"
)

// Code classifies a domain error. The OSB surface maps each code to one status
// and OSB error code in exactly one place (internal/osb).
type Code string

// Error codes of the domain.
const (
	// EInvalid: the request is malformed or its values are not acceptable (OSB 400).
	EInvalid Code = "invalid"
	// ENotFound: the instance or binding does not exist (OSB 404 on fetch and last_operation).
	ENotFound Code = "not_found"
	// EGone: the instance or binding does not exist, on a delete or after a finished
	// asynchronous delete (OSB 410).
	EGone Code = "gone"
	// EConflict: the id exists with other attributes (OSB 409).
	EConflict Code = "conflict"
	// EAsyncRequired: the operation can only run asynchronously (OSB 422 AsyncRequired).
	EAsyncRequired Code = "async_required"
	// EConcurrency: another operation on the instance is in progress (OSB 422 ConcurrencyError).
	EConcurrency Code = "concurrency"
	// EMaintenanceInfoConflict: the maintenance_info version does not match the catalog
	// (OSB 422 MaintenanceInfoConflict).
	EMaintenanceInfoConflict Code = "maintenance_info_conflict"
	// ERequiresApp: the binding needs an app_guid (OSB 422 RequiresApp).
	ERequiresApp Code = "requires_app"
	// EUnprocessable: the request is well formed but cannot be honoured (OSB 422 with no
	// error code), for example a plan change on a plan that is not updateable.
	EUnprocessable Code = "unprocessable"
	// EUnavailable: a dependency (the Cloudify manager) cannot be reached now; the
	// platform may retry (OSB 503).
	EUnavailable Code = "unavailable"
)

// Error is the domain's one error type. Message is safe to show to a platform user:
// it never carries credentials or internal detail. Err, when set, is the cause for logs.
type Error struct {
	Code    Code
	Message string
	// InstanceUsable and UpdateRepeatable are reported on failed updates and
	// deprovisions (nil = not said).
	InstanceUsable   *bool
	UpdateRepeatable *bool
	Err              error
}

// Error returns the message, with the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or "" if there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorMessage returns the message of the first *Error in err's chain, or "".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// Store errors. Every Store implementation returns these (possibly wrapped) so that
// callers can match them with errors.Is, whatever the engine.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("record not found")
	// ErrConflict: a conditional write failed: the record exists when it had to be
	// absent, or its version is not the expected one. Nothing was written.
	ErrConflict = errors.New("record changed concurrently")
)
