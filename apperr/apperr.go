// Package apperr holds the error codes of the public contract. Domain packages return *Error values;
// the GraphQL error presenter maps them to extensions.code, so no transport detail leaks into domains
// and no internal detail leaks to clients.
package apperr

import (
	"errors"
	"fmt"
)

// Code is one of the contract's extensions.code values.
type Code string

// The contract's error codes.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	TooManyRequests Code = "TOO_MANY_REQUESTS"
	Internal        Code = "INTERNAL_SERVER_ERROR"
)

// Error is a domain error safe to show to clients: Message is written for them. Reason is a
// machine-readable detail for audit rows and logs (for example a login-on-behalf refusal code); it is
// exposed to clients only where the domain says so (Public).
type Error struct {
	Code    Code
	Message string
	Reason  string
	Field   string
	Public  bool
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a client-facing message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Newf is New with formatting.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Input reports invalid input on a named field.
func Input(field, msg string) *Error {
	return &Error{Code: BadUserInput, Message: msg, Field: field}
}

// WithReason attaches a machine-readable reason code.
func (e *Error) WithReason(reason string) *Error {
	c := *e
	c.Reason = reason
	return &c
}

// Common errors with fixed messages. Messages never say whether a login exists.
var (
	ErrUnauthenticated = New(Unauthenticated, "authentication required")
	ErrBadCredentials  = New(Unauthenticated, "invalid login or password")
	ErrForbidden       = New(Forbidden, "not allowed")
	ErrNotFound        = New(NotFound, "not found")
	ErrTooMany         = New(TooManyRequests, "too many requests, try again shortly")
)

// CodeOf returns the contract code of err: the code of the first *Error in its chain, else Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
