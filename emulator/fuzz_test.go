package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func FuzzRegisterBody(f *testing.F) {
	for _, s := range []string{``, `{"events":["INVOKE","SHUTDOWN"]}`, `{"events":[]}`, `{"events":["X"]}`, `{"events":`, `[]`, `{"events":"INVOKE"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		events, bad, err := parseRegisterBody(b)
		if err == nil {
			for _, e := range events {
				if e != "INVOKE" && e != "SHUTDOWN" {
					t.Fatalf("accepted event %q", e)
				}
			}
		} else if bad == "" && json.Valid(b) && len(b) > 0 {
			// A JSON object is refused only for its events field (matched case-insensitively, as
			// encoding/json does).
			var v map[string]any
			if json.Unmarshal(b, &v) == nil {
				hasEvents := false
				for k := range v {
					hasEvents = hasEvents || strings.EqualFold(k, "events")
				}
				if !hasEvents {
					t.Fatalf("rejected %q: %v", b, err)
				}
			}
		}
	})
}

func FuzzFunctionError(f *testing.F) {
	for _, s := range []string{``, `{"errorMessage":"m","errorType":"T"}`, `not json`, `{"errorType":1}`, `"str"`} {
		f.Add("", []byte(s))
		f.Add("Function.Custom", []byte(s))
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		errType, payload := functionError(header, body)
		if !json.Valid(payload) {
			t.Fatalf("payload %q is not JSON", payload)
		}
		if normalizeErrorType(errType) != errType {
			t.Fatalf("type %q not normalised", errType)
		}
	})
}

// FuzzRegisterHandler feeds raw register requests to the HTTP handler: whatever the body and name,
// the answer is a 403 with one of the documented error types (registration is closed here), never a
// panic or a 5xx.
func FuzzRegisterHandler(f *testing.F) {
	s, err := NewSandbox(SandboxConfig{Function: Function{Runtime: &ProcessRuntime{Path: "/bin/true"}}})
	if err != nil {
		f.Fatal(err)
	}
	h := s.routes()
	f.Add("ext", []byte(`{"events":["INVOKE"]}`))
	f.Add("", []byte(`{}`))
	f.Add("ext", []byte(`{"events":["BOGUS"]}`))
	f.Add("ext", []byte(`{`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/2020-01-01/extension/register", bytes.NewReader(body))
		if name != "" && httpguts.ValidHeaderFieldValue(name) {
			req.Header.Set(hdrExtName, name)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		typ, _, ok := parseErrorBody(rec.Body.Bytes())
		allowed := map[string]bool{extErrInvalidName: true, errInvalidFormat: true, extErrInvalidEvent: true, extErrRegClosed: true}
		if rec.Code != http.StatusForbidden || !ok || !allowed[typ] {
			t.Fatalf("name %q body %q: %d %s", name, body, rec.Code, rec.Body.Bytes())
		}
	})
}
