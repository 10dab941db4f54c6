package zonalshift

import (
	"errors"
	"fmt"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

// ARC's error types (the "__type" of an error body).
const (
	ValidationException       = "ValidationException"
	ResourceNotFoundException = "ResourceNotFoundException"
	ConflictException         = "ConflictException"
	InternalServerException   = "InternalServerException"
	// AccessDeniedException (403) answers a malformed Authorization header.
	AccessDeniedException = "AccessDeniedException"
)

// Reasons, as ARC's ValidationExceptionReason and ConflictExceptionReason spell them.
const (
	ReasonInvalidExpiresIn          = "InvalidExpiresIn"
	ReasonInvalidStatus             = "InvalidStatus"
	ReasonMissingValue              = "MissingValue"
	ReasonInvalidResourceIdentifier = "InvalidResourceIdentifier"
	ReasonInvalidAz                 = "InvalidAz"
	ReasonUnsupportedAz             = "UnsupportedAz"
	ReasonZonalShiftAlreadyExists   = "ZonalShiftAlreadyExists"
	ReasonZonalShiftStatusNotActive = "ZonalShiftStatusNotActive"
	ReasonInvalidRequest            = "InvalidRequest"
	ReasonInvalidToken              = "InvalidToken"
	// ReasonUnsupportedPracticeCancelShiftType: CancelPracticeRun on a shift that is not one.
	ReasonUnsupportedPracticeCancelShiftType = "UnsupportedPracticeCancelShiftType"
)

// Error is an API error with ARC's type and reason. Service methods return it; Handler writes it
// as {"__type", "message", "reason", "zonalShiftId"} with the matching status.
type Error struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
	// ZonalShiftID names the shift a ConflictException is about.
	ZonalShiftID string `json:"zonalShiftId,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// HTTPStatus is the status code ARC answers with for this error type.
func (e *Error) HTTPStatus() int {
	return awsapi.Status(e.Type)
}

func validationError(reason string, err error) *Error {
	return &Error{Type: ValidationException, Reason: reason, Message: err.Error()}
}

func notFound(id string) *Error {
	return &Error{Type: ResourceNotFoundException, Message: fmt.Sprintf("zonal shift %q not found", id)}
}

// IsType reports whether err is an *Error of the given type.
func IsType(err error, typ string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == typ
}
