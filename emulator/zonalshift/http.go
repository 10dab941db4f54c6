package zonalshift

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// maxBodyBytes bounds a request body; ARC's largest request is far smaller.
const maxBodyBytes = 64 << 10

// Handler serves the zonal shift API (see the package comment). It resolves paths relative to its
// root, so it can be mounted under a prefix with http.StripPrefix.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /zonalshifts", s.handleStart)
	mux.HandleFunc("GET /zonalshifts", s.handleList)
	mux.HandleFunc("GET /zonalshifts/{id}", s.handleGet)
	mux.HandleFunc("PATCH /zonalshifts/{id}", s.handleUpdate)
	mux.HandleFunc("DELETE /zonalshifts/{id}", s.handleCancel)
	mux.HandleFunc("GET /managedresources/{resource...}", s.handleManagedResource)
	mux.HandleFunc("/", handleUnknown)
	return mux
}

func (s *Service) handleStart(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	z, err := s.Start(req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, z)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	items, err := s.List(ListFilter{
		Status:             Status(q.Get("status")),
		ResourceIdentifier: q.Get("resourceIdentifier"),
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Items []ZonalShift `json:"items"`
	}{items})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	z, err := s.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, z)
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) {
	var req UpdateRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	z, err := s.Update(r.PathValue("id"), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, z)
}

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	z, err := s.Cancel(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, z)
}

func (s *Service) handleManagedResource(w http.ResponseWriter, r *http.Request) {
	mr, err := s.ManagedResource(r.PathValue("resource"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, mr)
}

// handleUnknown answers paths and methods the API does not have, in the API's error shape.
func handleUnknown(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var allow string
	switch {
	case p == "/zonalshifts":
		allow = "GET, POST"
	case strings.HasPrefix(p, "/zonalshifts/") && !strings.Contains(p[len("/zonalshifts/"):], "/"):
		allow = "GET, PATCH, DELETE"
	case strings.HasPrefix(p, "/managedresources/"):
		allow = "GET"
	}
	if allow != "" {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, &Error{Type: "MethodNotAllowedException",
			Message: fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, p, allow)})
		return
	}
	writeJSON(w, http.StatusNotFound, &Error{Type: "UnknownOperationException",
		Message: fmt.Sprintf("no operation at %s %s", r.Method, p)})
}

// decodeBody reads one JSON object into v, rejecting unknown fields so a misspelt key (e.g.
// "expires_in") is an error naming it rather than a silently ignored value.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Type: ValidationException, Reason: ReasonInvalidRequest,
				Message: fmt.Sprintf("request body must be at most %d bytes", maxBodyBytes)}
		}
		return &Error{Type: ValidationException, Reason: ReasonInvalidRequest,
			Message: fmt.Sprintf("read request body: %v", err)}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Type: ValidationException, Reason: ReasonInvalidRequest, Message: describeJSONError(err)}
	}
	if dec.More() {
		return &Error{Type: ValidationException, Reason: ReasonInvalidRequest,
			Message: "request body must be one JSON object"}
	}
	return nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s must be a JSON %s, got %s", typeErr.Field, jsonKind(typeErr.Type.Kind()), typeErr.Value)
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

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return k.String()
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Type: InternalServerException, Message: err.Error()}
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	writeJSON(w, e.HTTPStatus(), e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails; nothing to tell it
}
