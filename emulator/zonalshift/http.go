package zonalshift

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/azlens/azlens/emulator/internal/awsapi"
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
	awsapi.WriteJSON(w, http.StatusOK, z)
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
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Items []ZonalShift `json:"items"`
	}{items})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	z, err := s.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, z)
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
	awsapi.WriteJSON(w, http.StatusOK, z)
}

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	z, err := s.Cancel(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, z)
}

func (s *Service) handleManagedResource(w http.ResponseWriter, r *http.Request) {
	mr, err := s.ManagedResource(r.PathValue("resource"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, mr)
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
	awsapi.NotRouted(w, r, allow)
}

// requestBody reads one JSON object, rejecting unknown fields so a misspelt key (e.g.
// "expires_in") is an error naming it rather than a silently ignored value.
var requestBody = awsapi.Body{
	MaxBytes: maxBodyBytes,
	FieldMessage: func(field, want, got string) string {
		return fmt.Sprintf("%s must be a JSON %s, got %s", field, want, got)
	},
}

// decodeBody reads the request body into v; what is wrong with it is a ValidationException with
// reason InvalidRequest.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requestBody.Decode(w, r, v); err != nil {
		return &Error{Type: ValidationException, Reason: ReasonInvalidRequest, Message: err.Error()}
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
