package admin

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an *Error.
type Code string

// The codes of *Error, each with the HTTP status the API answers it with.
const (
	// ENotFound: no such instance, operation or service (404).
	ENotFound Code = "not_found"
	// EInvalid: the request or the overlay is not acceptable (400); the message says
	// why, naming the overlay's line when there is one.
	EInvalid Code = "invalid"
	// EConflict: the record is not in a state that allows the operation, or the overlay
	// changed since it was read (409).
	EConflict Code = "conflict"
	// EUnavailable: what the operation needs is missing or unreachable: no Cloudify
	// manager configured, the manager down, no workflow driver (503).
	EUnavailable Code = "unavailable"
)

// Error is the package's one error type. Message is meant for the operator.
type Error struct {
	Code    Code
	Message string
	// Err is the cause, for logs; it is not sent over HTTP.
	Err error
}

// Error returns the message, with the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or "".
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// status is the HTTP status of a code.
func (c Code) status() int {
	switch c {
	case ENotFound:
		return http.StatusNotFound
	case EInvalid:
		return http.StatusBadRequest
	case EConflict:
		return http.StatusConflict
	case EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
