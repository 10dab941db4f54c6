package zonalshift_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// newServer mounts the handler under /zonalshift, as the emulator's front door does.
func newServer(t *testing.T) (*httptest.Server, *zonalshift.Service, *clocktest.Clock) {
	t.Helper()
	s, clk := newService(t)
	mux := http.NewServeMux()
	mux.Handle("/zonalshift/", http.StripPrefix("/zonalshift", s.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s, clk
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/zonalshift"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func TestHTTPLifecycle(t *testing.T) {
	srv, s, clk := newServer(t)
	s.SetZones("fn", zones)

	r := do(t, srv, "POST", "/zonalshifts", `{"resourceIdentifier":"fn","awayFrom":"use1-az2","expiresIn":"1m","comment":"azlens","type":"automatic"}`)
	if r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	// The wire shape, field by field, with ARC's epoch-second times.
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	id, _ := raw["zonalShiftId"].(string)
	wantRaw := map[string]any{
		"zonalShiftId": id, "resourceIdentifier": "fn", "awayFrom": "use1-az2",
		"startTime": float64(t0.Unix()), "expiryTime": float64(t0.Add(time.Minute).Unix()),
		"status": "ACTIVE", "comment": "azlens", "type": "automatic", "appliedStatus": "APPLIED", "shiftType": "ZONAL_AUTOSHIFT",
	}
	if diff := cmp.Diff(wantRaw, raw); diff != "" {
		t.Errorf("start response (-want +got):\n%s", diff)
	}

	got := decode[zonalshift.ZonalShift](t, do(t, srv, "GET", "/zonalshifts/"+id, ""))
	if got.ZonalShiftID != id || !got.ExpiryTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("get = %+v", got)
	}

	list := decode[struct{ Items []zonalshift.ZonalShift }](t, do(t, srv, "GET", "/zonalshifts?status=ACTIVE&resourceIdentifier=fn", ""))
	if len(list.Items) != 1 || list.Items[0].ZonalShiftID != id {
		t.Errorf("list = %+v", list)
	}
	if l := decode[struct{ Items []zonalshift.ZonalShift }](t, do(t, srv, "GET", "/zonalshifts?resourceIdentifier=other", "")); len(l.Items) != 0 {
		t.Errorf("list for other resource = %+v", l)
	}
	if r := do(t, srv, "GET", "/zonalshifts?resourceIdentifier=other", ""); string(r.body) != "{\"items\":[]}\n" {
		t.Errorf("empty list body = %s, want items as an empty array", r.body)
	}

	clk.Advance(30 * time.Second)
	u := decode[zonalshift.ZonalShift](t, do(t, srv, "PATCH", "/zonalshifts/"+id, `{"expiresIn":"1m","failbackWeight":0.25}`))
	if !u.ExpiryTime.Equal(t0.Add(90*time.Second)) || u.FailbackWeight == nil || *u.FailbackWeight != 0.25 {
		t.Errorf("renew = %+v", u)
	}

	mr := decode[zonalshift.ManagedResource](t, do(t, srv, "GET", "/managedresources/fn", ""))
	if mr.ShiftedAwayFrom != "use1-az2" || mr.AppliedWeights["use1-az2"] != 0.25 || mr.AppliedWeights["use1-az1"] != 1 {
		t.Errorf("managed resource = %+v", mr)
	}

	c := decode[zonalshift.ZonalShift](t, do(t, srv, "DELETE", "/zonalshifts/"+id, ""))
	if c.Status != zonalshift.StatusCanceled {
		t.Errorf("cancel = %+v", c)
	}
	if w := s.Weights("fn", zones); w["use1-az2"] != 1 {
		t.Errorf("weight after cancel over HTTP = %v", w["use1-az2"])
	}
}

func TestHTTPManagedResourceARN(t *testing.T) {
	srv, s, _ := newServer(t)
	arn := "arn:aws:lambda:us-east-1:123456789012:function:fn/alias"
	s.SetZones(arn, zones)
	r := do(t, srv, "GET", "/managedresources/"+url.PathEscape(arn), "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if mr := decode[zonalshift.ManagedResource](t, r); mr.Name != arn {
		t.Errorf("name = %q, want %q", mr.Name, arn)
	}
}

func TestHTTPErrors(t *testing.T) {
	srv, s, _ := newServer(t)
	existing, err := s.Start(zonalshift.StartRequest{ResourceIdentifier: "busy", AwayFrom: "use1-az1", ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		typ, msg                 string
	}{
		{"bad expiresIn", "POST", "/zonalshifts", `{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"90s"}`,
			400, "ValidationException", `expiresIn must be minutes 1-1440 ("30m") or hours 1-72 ("2h"), got "90s"`},
		{"manual over 72h", "POST", "/zonalshifts", `{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"100h","type":"manual"}`,
			400, "ValidationException", `expiresIn in hours must be 1-72, got "100h"`},
		{"missing resource", "POST", "/zonalshifts", `{"awayFrom":"use1-az1","expiresIn":"1h"}`,
			400, "ValidationException", "resourceIdentifier is required"},
		{"misspelt key", "POST", "/zonalshifts", `{"resourceIdentifier":"fn","awayFrom":"use1-az1","expires_in":"1h"}`,
			400, "ValidationException", `unknown field "expires_in"`},
		{"wrong type", "POST", "/zonalshifts", `{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":60}`,
			400, "ValidationException", "expiresIn must be a JSON string, got number"},
		{"weight not a number", "PATCH", "/zonalshifts/" + existing.ZonalShiftID, `{"failbackWeight":"half"}`,
			400, "ValidationException", "failbackWeight must be a JSON number, got string"},
		{"not json", "POST", "/zonalshifts", `{`, 400, "ValidationException", "request body is not valid JSON: it ends too early"},
		{"empty body", "POST", "/zonalshifts", ``, 400, "ValidationException", "request body must be a JSON object, got nothing"},
		{"array body", "POST", "/zonalshifts", `[]`, 400, "ValidationException", "request body must be a JSON object, got array"},
		{"two objects", "POST", "/zonalshifts", `{} {}`, 400, "ValidationException", "request body must be one JSON object"},
		{"bad status filter", "GET", "/zonalshifts?status=LIVE", "", 400, "ValidationException", `status must be ACTIVE, EXPIRED or CANCELED, got "LIVE"`},
		{"conflict", "POST", "/zonalshifts", `{"resourceIdentifier":"busy","awayFrom":"use1-az2","expiresIn":"1h"}`,
			409, "ConflictException", `resource "busy" already has an active manual zonal shift ` + existing.ZonalShiftID + `; update or cancel it`},
		{"get unknown", "GET", "/zonalshifts/nope", "", 404, "ResourceNotFoundException", `zonal shift "nope" not found`},
		{"patch unknown", "PATCH", "/zonalshifts/nope", `{"expiresIn":"1m"}`, 404, "ResourceNotFoundException", `zonal shift "nope" not found`},
		{"delete unknown", "DELETE", "/zonalshifts/nope", "", 404, "ResourceNotFoundException", `zonal shift "nope" not found`},
		{"unknown resource", "GET", "/managedresources/nope", "", 404, "ResourceNotFoundException", `managed resource "nope" not found`},
		{"method", "PUT", "/zonalshifts", "", 405, "MethodNotAllowedException", "method PUT is not allowed on /zonalshifts (allowed: GET, POST)"},
		{"method on id", "POST", "/zonalshifts/x", "", 405, "MethodNotAllowedException", "method POST is not allowed on /zonalshifts/x (allowed: GET, PATCH, DELETE)"},
		{"unknown path", "GET", "/recoverygroups", "", 404, "UnknownOperationException", "no operation at GET /recoverygroups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Errorf("status = %d, want %d (%s)", r.status, tc.status, r.body)
			}
			e := decode[zonalshift.Error](t, r)
			if e.Type != tc.typ || e.Message != tc.msg {
				t.Errorf("error = %q %q, want %q %q", e.Type, e.Message, tc.typ, tc.msg)
			}
			if tc.status != 405 && tc.typ != "UnknownOperationException" && r.header.Get("X-Amzn-ErrorType") != tc.typ {
				t.Errorf("X-Amzn-ErrorType = %q", r.header.Get("X-Amzn-ErrorType"))
			}
		})
	}
}

func TestHTTPBodyTooLarge(t *testing.T) {
	srv, _, _ := newServer(t)
	body := `{"comment":"` + strings.Repeat("x", 70<<10) + `"}`
	r := do(t, srv, "POST", "/zonalshifts", body)
	if r.status != 400 || decode[zonalshift.Error](t, r).Message != "request body must be at most 65536 bytes" {
		t.Errorf("status %d body %s", r.status, r.body)
	}
}
