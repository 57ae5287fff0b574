package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cfybroker/cfybroker/internal/catalog"
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

// Error is the package's one error type: an error the operator can act on. Message is
// the whole text meant for the operator, the cause's text included when it helps (see
// the package comment).
type Error struct {
	Code    Code
	Message string
	// Problems are the problems of an overlay that does not parse or build (EInvalid),
	// one per line of Message, located by line and field when they are in the
	// overlay: a client names the overlay's file with them without reading Message.
	// They are sent over HTTP.
	Problems []Problem
	// Err is the cause, for errors.Is, errors.As and the log; it is not sent over
	// HTTP, and Error does not repeat it (Message says what the operator needs of it).
	Err error
}

// Problem is one problem of an overlay that does not parse or does not build.
type Problem struct {
	// InOverlay is set when the problem is located in the overlay (it comes from a
	// *catalog.OverlayError); else Message is the whole problem and Line and Path
	// are empty.
	InOverlay bool `json:"in_overlay,omitempty"`
	// Line is the 1-based line in the overlay document, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Path is the overlay field, such as "services.mariadb.plans[1].inputs"; empty
	// for the document.
	Path string `json:"path,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// Text returns the problem as the operator reads it. A problem in the overlay is
// located in file, as "file:12: services.mariadb: message"; with file "" the file and
// line are left out ("services.mariadb: message"), for an overlay the operator does
// not see (one that an edit produced).
func (p Problem) Text(file string) string {
	if !p.InOverlay {
		return p.Message
	}
	s := ""
	if file != "" {
		s = file
		if p.Line > 0 {
			s += ":" + strconv.Itoa(p.Line)
		}
		s += ": "
	}
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Message
}

// OverlayProblems returns the problems of an error of the catalog package (from
// catalog.ParseOverlay, catalog.Build, a catalog.Syncer or an overlay edit), in the
// order of the error's lines: each *catalog.OverlayError it joins, and every other
// error it joins as one problem not in the overlay. An outer wrapping of the joined
// problems (such as "catalog: sync: ") is left out. It returns nil when err holds no
// *catalog.OverlayError.
func OverlayProblems(err error) []Problem {
	for {
		if _, ok := err.(interface{ Unwrap() []error }); ok {
			break
		}
		if _, ok := err.(*catalog.OverlayError); ok {
			break
		}
		inner := errors.Unwrap(err)
		if inner == nil {
			return nil
		}
		err = inner
	}
	ps := problemsOf(err)
	for _, p := range ps {
		if p.InOverlay {
			return ps
		}
	}
	return nil
}

// problemsOf flattens joined errors into problems.
func problemsOf(err error) []Problem {
	if oe, ok := err.(*catalog.OverlayError); ok {
		return []Problem{{InOverlay: true, Line: oe.Line, Path: oe.Path, Message: oe.Msg}}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var ps []Problem
		for _, e := range j.Unwrap() {
			ps = append(ps, problemsOf(e)...)
		}
		return ps
	}
	return []Problem{{Message: err.Error()}}
}

// Error returns Message.
func (e *Error) Error() string { return e.Message }

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
