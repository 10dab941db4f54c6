package experiment

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/azlens/azlens/emulator/internal/awsapi"
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
	awsapi.WriteJSON(w, http.StatusOK, templateBody{t})
}

func (s *Service) handleListTemplates(w http.ResponseWriter, _ *http.Request) {
	awsapi.WriteJSON(w, http.StatusOK, struct {
		ExperimentTemplates []ExperimentTemplate `json:"experimentTemplates"`
	}{s.Templates()})
}

func (s *Service) handleGetTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.GetTemplate(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, templateBody{t})
}

func (s *Service) handleDeleteTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.DeleteTemplate(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, templateBody{t})
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
	awsapi.WriteJSON(w, http.StatusOK, experimentBody{e})
}

func (s *Service) handleListExperiments(w http.ResponseWriter, _ *http.Request) {
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Experiments []Experiment `json:"experiments"`
	}{s.Experiments()})
}

func (s *Service) handleGetExperiment(w http.ResponseWriter, r *http.Request) {
	e, err := s.GetExperiment(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, experimentBody{e})
}

func (s *Service) handleStop(w http.ResponseWriter, r *http.Request) {
	e, err := s.StopExperiment(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, experimentBody{e})
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
	awsapi.NotRouted(w, r, allow)
}

// requestBody reads one JSON object, rejecting unknown fields so a misspelt key (e.g.
// "selection_mode") is an error naming it rather than a silently ignored value.
var requestBody = awsapi.Body{
	MaxBytes: maxBodyBytes,
	FieldMessage: func(field, want, got string) string {
		// The request types embed Template and StartRequest; their Go names are not the client's.
		field = strings.TrimPrefix(strings.TrimPrefix(field, "Template."), "StartRequest.")
		return fmt.Sprintf("%s: must be a JSON %s, got %s", field, want, got)
	},
}

// decodeBody reads the request body into v; what is wrong with it is a ValidationException.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requestBody.Decode(w, r, v); err != nil {
		return &Error{Type: ValidationException, Message: err.Error()}
	}
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Type: InternalServerException, Message: err.Error()}
	}
	awsapi.WriteError(w, e.HTTPStatus(), e.Type, e)
}
