// Package tkesj holds the domain of the tkesj messenger: its types, the error
// model and the contracts between the service layer and its adapters.
//
// It imports only the standard library (a test enforces this), so every other
// package may import it and it imports none of them.
package tkesj

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies an error for transport. The list only grows: clients and
// the HTTP layer depend on each kind keeping its meaning.
type ErrorKind string

const (
	EMalformed        ErrorKind = "malformed"          // the request could not be parsed (400)
	EInvalid          ErrorKind = "invalid"            // parsed, but a value is not acceptable (422)
	EUnauthenticated  ErrorKind = "unauthenticated"    // no valid credentials (401)
	EForbidden        ErrorKind = "forbidden"          // authenticated, but not allowed (403)
	ENotFound         ErrorKind = "not_found"          // missing, or withheld from this caller (404)
	EMethodNotAllowed ErrorKind = "method_not_allowed" // the path exists, the method does not (405)
	EConflict         ErrorKind = "conflict"           // clashes with current state (409)
	EGone             ErrorKind = "gone"               // existed, expired or was used (410)
	ETooLarge         ErrorKind = "too_large"          // body or upload over its limit (413)
	EUnsupported      ErrorKind = "unsupported"        // media type not accepted (415)
	EUnsatisfiable    ErrorKind = "unsatisfiable"      // the byte range is outside the file (416)
	ERateLimited      ErrorKind = "rate_limited"       // slow down; RetryAfter says how long (429)
	EInternal         ErrorKind = "internal"           // our fault; details are logged, never shown (500)
	EUnavailable      ErrorKind = "unavailable"        // temporarily cannot serve (503)
)

// Error is the one error type that crosses package boundaries towards clients.
//
// Message is safe to show to the person who made the request: it never holds
// phone numbers, message text, tokens or another person's data. Err is the
// internal cause; it is logged by opaque id and never sent to a client.
type Error struct {
	Kind       ErrorKind
	Code       string        // stable snake_case code, e.g. "weak_password"
	Message    string        // safe for users; says what to do
	RetryAfter time.Duration // for ERateLimited
	Err        error         // internal cause, not shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code with a formatted message.
func Errorf(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrNotFound is the answer for anything missing or withheld from the caller:
// the two are indistinguishable on purpose.
func ErrNotFound(what string) *Error {
	return &Error{Kind: ENotFound, Code: "not_found", Message: what + " not found"}
}

// Internal wraps an unexpected failure; its cause is never shown to a client.
func Internal(err error) *Error {
	return &Error{Kind: EInternal, Code: "internal", Message: "something went wrong on our side; try again", Err: err}
}

// ErrorKindOf returns the kind of err, or EInternal when err is not an *Error.
func ErrorKindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EInternal
}

// ErrorCode returns the code of err, or "internal" when err is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}

// CodeSender delivers one-time codes to a phone (R-ACC-1). Implementations:
// a log sender for development and an HTTP webhook for an SMS gateway.
type CodeSender interface {
	// SendCode delivers code to phone (E.164). purpose is one of the Purpose
	// constants. It returns once the gateway has accepted the code.
	SendCode(ctx context.Context, phone, code, purpose string) error
}
