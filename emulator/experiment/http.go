package experiment

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

// maxBodyBytes bounds a request body; a template at FIS's limits is far smaller.
const maxBodyBytes = 256 << 10

// Handler serves the experiment API (see the package comment). It resolves paths relative to its
// root, so it can be mounted under a prefix with http.StripPrefix.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /experimentTemplates", s.handleCreateTemplate)
	mux.HandleFunc("GET /experimentTemplates", s.handleListTemplates)
	mux.HandleFunc("GET /experimentTemplates/{id}", s.handleGetTemplate)
	mux.HandleFunc("DELETE /experimentTemplates/{id}", s.handleDeleteTemplate)
	mux.HandleFunc("POST /experiments", s.handleStart)
	mux.HandleFunc("GET /experiments", s.handleListExperiments)
	mux.HandleFunc("GET /experiments/{id}", s.handleGetExperiment)
	mux.HandleFunc("DELETE /experiments/{id}", s.handleStop)
	mux.HandleFunc("/", handleUnknown)
	return mux
}

// createTemplateRequest is FIS's CreateExperimentTemplate body; clientToken and roleArn are
// accepted so FIS tooling works, and ignored (the emulator needs no role and no idempotency).
type createTemplateRequest struct {
	Template
	ClientToken string `json:"clientToken,omitempty"`
	RoleArn     string `json:"roleArn,omitempty"`
}

type startExperimentRequest struct {
	StartRequest
	ClientToken string `json:"clientToken,omitempty"`
}

type templateBody struct {
	ExperimentTemplate ExperimentTemplate `json:"experimentTemplate"`
}

type experimentBody struct {
	Experiment Experiment `json:"experiment"`
}

func (s *Service) handleCreateTemplate(w http.ResponseWriter, r *http.Request) {
	var req createTemplateRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	t, err := s.CreateTemplate(req.Template)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, templateBody{t})
}

func (s *Service) handleListTemplates(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		ExperimentTemplates []ExperimentTemplate `json:"experimentTemplates"`
	}{s.Templates()})
}

func (s *Service) handleGetTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.GetTemplate(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, templateBody{t})
}

func (s *Service) handleDeleteTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.DeleteTemplate(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, templateBody{t})
}

func (s *Service) handleStart(w http.ResponseWriter, r *http.Request) {
	var req startExperimentRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	e, err := s.StartExperiment(req.StartRequest)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, experimentBody{e})
}

func (s *Service) handleListExperiments(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Experiments []Experiment `json:"experiments"`
	}{s.Experiments()})
}

func (s *Service) handleGetExperiment(w http.ResponseWriter, r *http.Request) {
	e, err := s.GetExperiment(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, experimentBody{e})
}

func (s *Service) handleStop(w http.ResponseWriter, r *http.Request) {
	e, err := s.StopExperiment(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, experimentBody{e})
}

// handleUnknown answers paths and methods the API does not have, in the API's error shape.
func handleUnknown(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var allow string
	switch {
	case p == "/experimentTemplates", p == "/experiments":
		allow = "GET, POST"
	case strings.HasPrefix(p, "/experimentTemplates/") && !strings.Contains(p[len("/experimentTemplates/"):], "/"),
		strings.HasPrefix(p, "/experiments/") && !strings.Contains(p[len("/experiments/"):], "/"):
		allow = "GET, DELETE"
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
// "selection_mode") is an error naming it rather than a silently ignored value.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Type: ValidationException, Message: fmt.Sprintf("request body must be at most %d bytes", maxBodyBytes)}
		}
		return &Error{Type: ValidationException, Message: fmt.Sprintf("read request body: %v", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Type: ValidationException, Message: describeJSONError(err)}
	}
	if dec.More() {
		return &Error{Type: ValidationException, Message: "request body must be one JSON object"}
	}
	return nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		// The request types embed Template and StartRequest; their Go names are not the client's.
		field := strings.TrimPrefix(strings.TrimPrefix(typeErr.Field, "Template."), "StartRequest.")
		return fmt.Sprintf("%s: must be a JSON %s, got %s", field, jsonKind(typeErr.Type.Kind()), typeErr.Value)
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
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64, reflect.Uint64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
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
