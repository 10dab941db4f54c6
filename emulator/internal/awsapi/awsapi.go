// Package awsapi holds the mechanics the emulator's AWS-style REST-JSON services (the fault
// experiment and zonal shift APIs) share: JSON answers, errors written as {"__type", "message", …}
// with X-Amzn-ErrorType, strict bounded request bodies, and the answer to a request no route
// matches. Each service keeps its own error type, error-type constants and messages.
package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// The error types (the "__type" of an error body) whose HTTP status Status knows.
const (
	ValidationException       = "ValidationException"
	ResourceNotFoundException = "ResourceNotFoundException"
	ConflictException         = "ConflictException"
)

// Status is the HTTP status AWS answers with for an error type: 400 for ValidationException,
// 404 for ResourceNotFoundException, 409 for ConflictException, 500 for any other.
func Status(errType string) int {
	switch errType {
	case ValidationException:
		return http.StatusBadRequest
	case ResourceNotFoundException:
		return http.StatusNotFound
	case ConflictException:
		return http.StatusConflict
	case "AccessDeniedException", "IncompleteSignatureException":
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// WriteJSON answers with status and v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails; nothing to tell it
}

// WriteError answers with an error: status, errType in the X-Amzn-ErrorType header (which the AWS
// SDKs read first), and body (the service's error value, whose "__type" is errType) as JSON.
func WriteError(w http.ResponseWriter, status int, errType string, body any) {
	w.Header().Set("X-Amzn-ErrorType", errType)
	WriteJSON(w, status, body)
}

// routeError is the body NotRouted writes.
type routeError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// NotRouted answers a request no route of the API matched, in the API's error shape. allow is
// the methods the path has, e.g. "GET, POST": non-empty means the path exists and the answer is
// 405 MethodNotAllowedException with an Allow header; empty means 404 UnknownOperationException.
func NotRouted(w http.ResponseWriter, r *http.Request, allow string) {
	p := r.URL.Path
	if allow != "" {
		w.Header().Set("Allow", allow)
		WriteJSON(w, http.StatusMethodNotAllowed, &routeError{Type: "MethodNotAllowedException",
			Message: fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, p, allow)})
		return
	}
	WriteJSON(w, http.StatusNotFound, &routeError{Type: "UnknownOperationException",
		Message: fmt.Sprintf("no operation at %s %s", r.Method, p)})
}

// Body reads request bodies: one JSON object of at most MaxBytes, with no unknown fields, so that a
// misspelt key is an error naming it rather than a silently ignored value.
type Body struct {
	MaxBytes int64
	// FieldMessage words the error for a field of the wrong JSON kind: field is the decoder's
	// dotted path to it (Go names of embedded structs included), want the kind the field takes
	// ("string", "number", "object", "array", …) and got the kind the client sent.
	FieldMessage func(field, want, got string) string
}

// Decode reads r's body into v. Its error's message is for the client: what is wrong with the
// body, e.g. "unknown field \"selection_mode\"" or "request body must be at most 65536 bytes".
func (b Body) Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("request body must be at most %d bytes", b.MaxBytes)
		}
		return fmt.Errorf("read request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(b.describe(err))
	}
	if dec.More() {
		return errors.New("request body must be one JSON object")
	}
	return nil
}

func (b Body) describe(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return b.FieldMessage(typeErr.Field, jsonKind(typeErr.Type.Kind()), typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("request body must be a JSON object, got %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("request body is not valid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body is not valid JSON: it ends too early"
	case errors.Is(err, io.EOF):
		return "request body must be a JSON object, got nothing"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "request body: " + err.Error()
}

// jsonKind names the JSON kind a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64, reflect.Uint64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return k.String()
}
