// Package quietpager holds the vocabulary every part of the service shares:
// the kinds of error a caller can act on. Domain packages return these; the
// web layer maps them to HTTP status codes in one place.
package quietpager

import (
	"errors"
	"fmt"
)

// Code says what kind of failure an Error is.
type Code string

const (
	Invalid      Code = "invalid"      // the input is wrong; retrying it will not help
	NotFound     Code = "not_found"    // the thing asked for does not exist
	Conflict     Code = "conflict"     // the request makes no sense in the current state
	Unauthorized Code = "unauthorized" // missing or wrong credentials
	Forbidden    Code = "forbidden"    // known caller, but not allowed to do this
	TooMany      Code = "too_many"     // too many attempts (logins); wait and retry
	Unavailable  Code = "unavailable"  // a dependency (usually the database) is down; retry later
	Internal     Code = "internal"     // a bug or an unexpected failure
)

// Error is an error a user may see. Message is safe to show; internal
// errors never carry their cause into Message.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted, user-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a cause to a user-safe message.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the Code of err, or Internal for errors that are not ours.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the user-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}
