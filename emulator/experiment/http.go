package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

// maxBodyBytes bounds a request body; a template at FIS's limits is far smaller.
const maxBodyBytes = 256 << 10

// maxPage is FIS's largest maxResults.
const maxPage = 100

// IncompleteSignatureException is AWS's answer to a malformed Authorization header; FIS models no
// error of its own for it, so the SDK surfaces it as a generic API error with this code.
const IncompleteSignatureException = "IncompleteSignatureException"

// Paths are the root paths of FIS's API that the front door routes here.
var Paths = []string{"/experimentTemplates", "/experiments", "/actions"}

// Handler serves FIS's REST-JSON API (see the package comment). It resolves paths relative to
// its root, so it can be mounted under a prefix with http.StripPrefix. Requests may be
// SigV4-signed with any key; a malformed Authorization header is refused.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /experimentTemplates", s.handleCreateTemplate)
	mux.HandleFunc("GET /experimentTemplates", s.handleListTemplates)
	mux.HandleFunc("GET /experimentTemplates/{id}", s.handleGetTemplate)
	mux.HandleFunc("PATCH /experimentTemplates/{id}", s.handleUpdateTemplate)
	mux.HandleFunc("DELETE /experimentTemplates/{id}", s.handleDeleteTemplate)
	mux.HandleFunc("POST /experiments", s.handleStart)
	mux.HandleFunc("GET /experiments", s.handleListExperiments)
	mux.HandleFunc("GET /experiments/{id}", s.handleGetExperiment)
	mux.HandleFunc("DELETE /experiments/{id}", s.handleStop)
	mux.HandleFunc("GET /actions", handleListActions)
	mux.HandleFunc("GET /actions/{id}", handleGetAction)
	mux.HandleFunc("/", handleUnknown)
	return awsapi.RequireSigV4(IncompleteSignatureException, mux)
}

// fisOptions are the parts of FIS's template requests the local region accepts and ignores: a
// role to assume (it needs none), idempotency tokens, log and report destinations, and account
// targeting (there is one account).
type fisOptions struct {
	ClientToken                   string          `json:"clientToken,omitempty"`
	RoleArn                       string          `json:"roleArn,omitempty"`
	LogConfiguration              json.RawMessage `json:"logConfiguration,omitempty"`
	ExperimentReportConfiguration json.RawMessage `json:"experimentReportConfiguration,omitempty"`
	ExperimentOptions             json.RawMessage `json:"experimentOptions,omitempty"`
}

// createTemplateRequest is FIS's CreateExperimentTemplate body.
type createTemplateRequest struct {
	Template
	fisOptions
}

// updateTemplateRequest is FIS's UpdateExperimentTemplate body.
type updateTemplateRequest struct {
	TemplateUpdate
	fisOptions
}

type startExperimentRequest struct {
	StartRequest
	ExperimentOptions *struct {
		ActionsMode string `json:"actionsMode,omitempty"`
	} `json:"experimentOptions,omitempty"`
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

func (s *Service) handleListTemplates(w http.ResponseWriter, r *http.Request) {
	size, offset, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	page, next := awsapi.Page(s.Templates(), size, offset)
	awsapi.WriteJSON(w, http.StatusOK, struct {
		ExperimentTemplates []ExperimentTemplate `json:"experimentTemplates"`
		NextToken           string               `json:"nextToken,omitempty"`
	}{page, next})
}

func (s *Service) handleUpdateTemplate(w http.ResponseWriter, r *http.Request) {
	var req updateTemplateRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	t, err := s.UpdateTemplate(r.PathValue("id"), req.TemplateUpdate)
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, templateBody{t})
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
	if o := req.ExperimentOptions; o != nil && o.ActionsMode != "" && o.ActionsMode != "run-all" {
		writeError(w, invalid("experimentOptions.actionsMode", "%q is not supported (run-all only)", o.ActionsMode))
		return
	}
	e, err := s.StartExperiment(req.StartRequest)
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, experimentBody{e})
}

func (s *Service) handleListExperiments(w http.ResponseWriter, r *http.Request) {
	size, offset, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all := s.Experiments()
	if id := r.URL.Query().Get("experimentTemplateId"); id != "" {
		all = slices.DeleteFunc(all, func(e Experiment) bool { return e.ExperimentTemplateID != id })
	}
	page, next := awsapi.Page(all, size, offset)
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Experiments []Experiment `json:"experiments"`
		NextToken   string       `json:"nextToken,omitempty"`
	}{page, next})
}

// actionSummary is FIS's Action/ActionSummary.
type actionSummary struct {
	ID          string                         `json:"id"`
	Description string                         `json:"description"`
	Parameters  map[string]actionParameter     `json:"parameters,omitempty"`
	Targets     map[string]actionTargetSummary `json:"targets,omitempty"`
}

type actionParameter struct {
	Required bool `json:"required"`
}

type actionTargetSummary struct {
	ResourceType string `json:"resourceType"`
}

func describeAction(id string) (actionSummary, bool) {
	a := actionSummary{ID: id}
	internal := id
	switch {
	case lambdaAliases[id] != "":
		internal = lambdaAliases[id]
	case fisParams[id] != nil:
		a.Description = "FIS's Lambda action, mapped onto the local region's faults"
		a.Parameters = map[string]actionParameter{}
		for _, p := range fisParams[id] {
			a.Parameters[p] = actionParameter{Required: p == "preventExecution" || p == "statusCode"}
		}
		a.Targets = map[string]actionTargetSummary{"Functions": {ResourceType: ResourceLambdaFunction}}
		return a, true
	}
	spec, ok := actionSpecs[internal]
	if !ok {
		return a, false
	}
	a.Description = "azlens fault " + internal
	a.Parameters = map[string]actionParameter{}
	for _, p := range spec.params {
		a.Parameters[p] = actionParameter{Required: (p == "latency" && spec.kind == kindLatency) || (p == "delay" && spec.kind == kindDelay)}
	}
	if spec.targeted {
		a.Targets = map[string]actionTargetSummary{"Zones": {ResourceType: ResourceZone},
			"Environments": {ResourceType: ResourceEnvironment}, "Functions": {ResourceType: ResourceLambdaFunction}}
	}
	return a, true
}

func handleListActions(w http.ResponseWriter, r *http.Request) {
	size, offset, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var all []actionSummary
	for _, id := range ActionIDs() {
		a, _ := describeAction(id)
		all = append(all, a)
	}
	page, next := awsapi.Page(all, size, offset)
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Actions   []actionSummary `json:"actions"`
		NextToken string          `json:"nextToken,omitempty"`
	}{page, next})
}

func handleGetAction(w http.ResponseWriter, r *http.Request) {
	a, ok := describeAction(r.PathValue("id"))
	if !ok {
		writeError(w, notFound("action", r.PathValue("id")))
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, map[string]actionSummary{"action": a})
}

func pageParams(r *http.Request) (size, offset int, err error) {
	q := r.URL.Query()
	size, offset, err = awsapi.PageParams(q.Get("maxResults"), q.Get("nextToken"), maxPage)
	if err != nil {
		name, msg, _ := strings.Cut(err.Error(), " ")
		return 0, 0, invalid(name, "%s", msg)
	}
	return size, offset, nil
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
	case strings.HasPrefix(p, "/experimentTemplates/") && !strings.Contains(p[len("/experimentTemplates/"):], "/"):
		allow = "GET, PATCH, DELETE"
	case strings.HasPrefix(p, "/experiments/") && !strings.Contains(p[len("/experiments/"):], "/"):
		allow = "GET, DELETE"
	case p == "/actions" || strings.HasPrefix(p, "/actions/") && !strings.Contains(p[len("/actions/"):], "/"):
		allow = "GET"
	}
	awsapi.NotRouted(w, r, allow)
}

// requestBody reads one JSON object, rejecting unknown fields so a misspelt key (e.g.
// "selection_mode") is an error naming it rather than a silently ignored value.
var requestBody = awsapi.Body{
	MaxBytes: maxBodyBytes,
	FieldMessage: func(field, want, got string) string {
		// The request types embed Template and StartRequest; their Go names are not the client's.
		for _, embedded := range []string{"Template.", "TemplateUpdate.", "StartRequest.", "fisOptions."} {
			field = strings.TrimPrefix(field, embedded)
		}
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
