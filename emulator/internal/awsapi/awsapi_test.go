package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

func TestBodyDecode(t *testing.T) {
	b := awsapi.Body{MaxBytes: 32, FieldMessage: func(field, want, got string) string {
		return field + "|" + want + "|" + got
	}}
	type req struct {
		Name  string   `json:"name"`
		Zones []string `json:"zones"`
		N     uint64   `json:"n"`
	}
	for body, want := range map[string]string{
		`{"name":"a"}`:  "",
		`{"zones":"x"}`: "zones|array|string",
		`{"n":"x"}`:     "n|number|string",
		`{"nmae":"a"}`:  `unknown field "nmae"`,
		`[]`:            "request body must be a JSON object, got array",
		``:              "request body must be a JSON object, got nothing",
		`{"name":`:      "request body is not valid JSON: it ends too early",
		`{} {}`:         "request body must be one JSON object",
		`{"name":"` + strings.Repeat("a", 40) + `"}`: "request body must be at most 32 bytes",
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		var v req
		err := b.Decode(httptest.NewRecorder(), r, &v)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%s: error %q, want %q", body, got, want)
			}
		} else if want != "" {
			t.Errorf("%s: no error, want %q", body, want)
		}
	}
}

func TestNotRoutedAndWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	awsapi.NotRouted(w, httptest.NewRequest(http.MethodPut, "/things", nil), "GET, POST")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" || w.Header().Get("X-Amzn-ErrorType") != "" ||
		w.Body.String() != `{"__type":"MethodNotAllowedException","message":"method PUT is not allowed on /things (allowed: GET, POST)"}`+"\n" {
		t.Errorf("405: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	awsapi.NotRouted(w, httptest.NewRequest(http.MethodGet, "/nope", nil), "")
	if w.Code != http.StatusNotFound || w.Body.String() != `{"__type":"UnknownOperationException","message":"no operation at GET /nope"}`+"\n" {
		t.Errorf("404: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	awsapi.WriteError(w, awsapi.Status(awsapi.ConflictException), awsapi.ConflictException, map[string]string{"__type": awsapi.ConflictException})
	if w.Code != http.StatusConflict || w.Header().Get("X-Amzn-ErrorType") != awsapi.ConflictException || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("error: %d %v", w.Code, w.Header())
	}
	if awsapi.Status("SomethingElse") != http.StatusInternalServerError {
		t.Error("unknown type must be 500")
	}
}
