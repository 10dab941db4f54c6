package experiment

import (
	"errors"
	"fmt"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

// FIS's error types (the "__type" of an error body).
const (
	ValidationException       = "ValidationException"
	ResourceNotFoundException = "ResourceNotFoundException"
	ConflictException         = "ConflictException"
	InternalServerException   = "InternalServerException"
)

// Error is an API error with FIS's type. Service methods return it; the HTTP handler writes it as
// {"__type", "message"} with the matching status.
type Error struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// HTTPStatus is the status code FIS answers with for this error type.
func (e *Error) HTTPStatus() int {
	return awsapi.Status(e.Type)
}

// IsType reports whether err is an *Error of the given type.
func IsType(err error, typ string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == typ
}

// invalid is a ValidationException whose message starts with the offending field's path.
func invalid(field, format string, args ...any) *Error {
	return &Error{Type: ValidationException, Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(what, id string) *Error {
	return &Error{Type: ResourceNotFoundException, Message: fmt.Sprintf("%s %q not found", what, id)}
}
