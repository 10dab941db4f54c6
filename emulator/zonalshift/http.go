package zonalshift

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

// maxBodyBytes bounds a request body; ARC's largest request is far smaller.
const maxBodyBytes = 64 << 10

// maxPage is ARC's largest maxResults.
const maxPage = 100

// FailbackWeightHeader carries azlens's failbackWeight on StartZonalShift and UpdateZonalShift
// from clients that can only send ARC's own fields (the AWS SDK and CLI); real ARC ignores it.
// The body field of the same name, when present, wins.
const FailbackWeightHeader = "X-Azlens-Failback-Weight"

// Paths are the root paths of ARC's zonal shift API, which the front door routes here.
var Paths = []string{"/zonalshifts", "/managedresources", "/practiceruns", "/configuration",
	"/autoshifts", "/autoshift-observer-notification"}

// Handler serves ARC's zonal shift REST-JSON API (see the package comment). It resolves paths
// relative to its root, so it can be mounted under a prefix with http.StripPrefix. Requests may
// be SigV4-signed with any key; a malformed Authorization header is an AccessDeniedException.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /zonalshifts", s.handleStart)
	mux.HandleFunc("GET /zonalshifts", s.handleList)
	mux.HandleFunc("GET /zonalshifts/{id}", s.handleGet)
	mux.HandleFunc("PATCH /zonalshifts/{id}", s.handleUpdate)
	mux.HandleFunc("DELETE /zonalshifts/{id}", s.handleCancel)
	mux.HandleFunc("GET /managedresources", s.handleListManaged)
	mux.HandleFunc("GET /managedresources/{resource...}", s.handleManagedResource)
	mux.HandleFunc("PUT /managedresources/{resource...}", unsupported("UpdateZonalAutoshiftConfiguration",
		"zonal autoshift is AWS shifting traffic on its own signals; the local region has none of those signals"))
	mux.HandleFunc("POST /practiceruns", s.handleStartPracticeRun)
	mux.HandleFunc("DELETE /practiceruns/{id}", s.handleCancelPracticeRun)
	for _, p := range []string{"POST /configuration", "PATCH /configuration/{resource...}", "DELETE /configuration/{resource...}"} {
		mux.HandleFunc(p, unsupported("practice run configuration",
			"practice runs start with StartPracticeRun without one, and no alarms block or judge them"))
	}
	mux.HandleFunc("GET /autoshifts", handleListAutoshifts)
	mux.HandleFunc("GET /autoshift-observer-notification", func(w http.ResponseWriter, _ *http.Request) {
		awsapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "DISABLED"})
	})
	mux.HandleFunc("PUT /autoshift-observer-notification", unsupported("UpdateAutoshiftObserverNotificationStatus",
		"the local region starts no autoshifts to notify about"))
	mux.HandleFunc("/", handleUnknown)
	return awsapi.RequireSigV4(AccessDeniedException, mux)
}

func (s *Service) handleStart(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := weightFromHeader(r, &req.FailbackWeight); err != nil {
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
	size, offset, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	items, err := s.List(ListFilter{
		Status:             Status(q.Get("status")),
		ResourceIdentifier: q.Get("resourceIdentifier"),
	})
	if err != nil {
		writeError(w, err)
		return
	}
	page, next := awsapi.Page(items, size, offset)
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Items     []ZonalShift `json:"items"`
		NextToken string       `json:"nextToken,omitempty"`
	}{page, next})
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
	if err := weightFromHeader(r, &req.FailbackWeight); err != nil {
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

func (s *Service) handleListManaged(w http.ResponseWriter, r *http.Request) {
	size, offset, err := pageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	page, next := awsapi.Page(s.ManagedResources(), size, offset)
	awsapi.WriteJSON(w, http.StatusOK, struct {
		Items     []ManagedResource `json:"items"`
		NextToken string            `json:"nextToken,omitempty"`
	}{page, next})
}

// practiceRunBody is StartPracticeRun's body.
type practiceRunBody struct {
	ResourceIdentifier string `json:"resourceIdentifier"`
	AwayFrom           string `json:"awayFrom"`
	Comment            string `json:"comment"`
}

func (s *Service) handleStartPracticeRun(w http.ResponseWriter, r *http.Request) {
	var req practiceRunBody
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	z, err := s.StartPracticeRun(req.ResourceIdentifier, req.AwayFrom, req.Comment)
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, z)
}

func (s *Service) handleCancelPracticeRun(w http.ResponseWriter, r *http.Request) {
	z, err := s.CancelPracticeRun(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, z)
}

// handleListAutoshifts answers ListAutoshifts: the local region never autoshifts, so the list is
// empty, but the parameters are checked as ARC does.
func handleListAutoshifts(w http.ResponseWriter, r *http.Request) {
	if _, _, err := pageParams(r); err != nil {
		writeError(w, err)
		return
	}
	switch st := r.URL.Query().Get("status"); st {
	case "", "ACTIVE", "COMPLETED":
	default:
		writeError(w, validationError(ReasonInvalidStatus, fmt.Errorf("status must be ACTIVE or COMPLETED, got %q", st)))
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, map[string][]struct{}{"items": {}})
}

// unsupported answers an ARC operation the local region does not model with a
// ValidationException that says so and why, rather than pretending it took effect.
func unsupported(op, why string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, validationError(ReasonInvalidRequest, fmt.Errorf("%s is not supported by the azlens local region: %s", op, why)))
	}
}

func pageParams(r *http.Request) (size, offset int, err error) {
	q := r.URL.Query()
	size, offset, err = awsapi.PageParams(q.Get("maxResults"), q.Get("nextToken"), maxPage)
	if err != nil {
		reason := ReasonInvalidRequest
		if strings.HasPrefix(err.Error(), "nextToken") {
			reason = ReasonInvalidToken
		}
		return 0, 0, validationError(reason, err)
	}
	return size, offset, nil
}

// weightFromHeader sets *w from FailbackWeightHeader unless the body set it.
func weightFromHeader(r *http.Request, w **float64) error {
	v := r.Header.Get(FailbackWeightHeader)
	if v == "" || *w != nil {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return validationError(ReasonInvalidRequest, fmt.Errorf("%s must be a number from 0 to 1, got %q", FailbackWeightHeader, v))
	}
	*w = &f // the range is checked with the body's
	return nil
}

// handleUnknown answers paths and methods the API does not have, in the API's error shape.
func handleUnknown(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var allow string
	oneBelow := func(root string) bool {
		return strings.HasPrefix(p, root+"/") && !strings.Contains(p[len(root)+1:], "/")
	}
	switch {
	case p == "/zonalshifts":
		allow = "GET, POST"
	case oneBelow("/zonalshifts"):
		allow = "GET, PATCH, DELETE"
	case p == "/managedresources", p == "/autoshifts":
		allow = "GET"
	case strings.HasPrefix(p, "/managedresources/"):
		allow = "GET, PUT"
	case p == "/practiceruns", p == "/configuration":
		allow = "POST"
	case oneBelow("/practiceruns"):
		allow = "DELETE"
	case strings.HasPrefix(p, "/configuration/"):
		allow = "PATCH, DELETE"
	case p == "/autoshift-observer-notification":
		allow = "GET, PUT"
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
