package experiment_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve mounts the handler under /fis as the emulator's front door does.
func (f *fixture) serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/fis/", http.StripPrefix("/fis", f.svc.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// call sends one request and decodes the JSON answer into a generic map.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, out
}

const templateJSON = `{
  "clientToken": "abc", "roleArn": "arn:aws:iam::123456789012:role/fis",
  "description": "5 % errors in az2",
  "targets": {"az2": {"resourceType": "azlens:zone", "zones": ["use1-az2"], "selectionMode": "ALL"}},
  "actions": {"errors": {"actionId": "azlens:invoke:inject-error",
    "parameters": {"percentage": "5", "duration": "PT2M"}, "targets": {"Zones": "az2"}}},
  "stopConditions": [{"source": "azlens:alarm", "value": "use1-az2"}],
  "tags": {"team": "sre"}
}`

func TestHTTPLifecycle(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t)

	status, body := call(t, srv, "POST", "/fis/experimentTemplates", templateJSON)
	if status != 200 {
		t.Fatalf("create template: %d %v", status, body)
	}
	tmpl := body["experimentTemplate"].(map[string]any)
	id := tmpl["id"].(string)
	if tmpl["description"] != "5 % errors in az2" || tmpl["creationTime"] != float64(t0.Unix()) {
		t.Errorf("template = %v", tmpl)
	}
	if status, body = call(t, srv, "GET", "/fis/experimentTemplates/"+id, ""); status != 200 || body["experimentTemplate"].(map[string]any)["id"] != id {
		t.Errorf("get template: %d %v", status, body)
	}
	if status, body = call(t, srv, "GET", "/fis/experimentTemplates", ""); status != 200 || len(body["experimentTemplates"].([]any)) != 1 {
		t.Errorf("list templates: %d %v", status, body)
	}

	status, body = call(t, srv, "POST", "/fis/experiments", `{"experimentTemplateId": "`+id+`", "tags": {"run": "1"}, "clientToken": "x"}`)
	if status != 200 {
		t.Fatalf("start: %d %v", status, body)
	}
	exp := body["experiment"].(map[string]any)
	eid := exp["id"].(string)
	if exp["state"].(map[string]any)["status"] != "initiating" || exp["experimentTemplateId"] != id {
		t.Errorf("started experiment = %v", exp)
	}
	f.clock.Advance(time.Second)
	_, body = call(t, srv, "GET", "/fis/experiments/"+eid, "")
	exp = body["experiment"].(map[string]any)
	action := exp["actions"].(map[string]any)["errors"].(map[string]any)
	if exp["state"].(map[string]any)["status"] != "running" || action["state"].(map[string]any)["status"] != "running" ||
		exp["startTime"] != float64(t0.Unix()) || action["startTime"] != float64(t0.Unix()) {
		t.Errorf("running experiment = %v", exp)
	}
	if _, ok := exp["endTime"]; ok {
		t.Errorf("a running experiment has an endTime: %v", exp)
	}
	if status, body = call(t, srv, "GET", "/fis/experiments", ""); status != 200 || len(body["experiments"].([]any)) != 1 {
		t.Errorf("list experiments: %d %v", status, body)
	}

	status, body = call(t, srv, "DELETE", "/fis/experiments/"+eid, "")
	if status != 200 || body["experiment"].(map[string]any)["state"].(map[string]any)["status"] != "stopping" {
		t.Fatalf("stop: %d %v", status, body)
	}
	f.clock.Advance(0)
	status, body = call(t, srv, "DELETE", "/fis/experiments/"+eid, "")
	if status != 400 || body["__type"] != "ValidationException" {
		t.Errorf("second stop: %d %v, want 400 ValidationException", status, body)
	}
	if status, body = call(t, srv, "DELETE", "/fis/experimentTemplates/"+id, ""); status != 200 {
		t.Errorf("delete template: %d %v", status, body)
	}
}

func TestHTTPErrors(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		errType, message         string // message: a prefix
	}{
		{"unknown template", "GET", "/fis/experimentTemplates/EXTnope", "", 404, "ResourceNotFoundException", `experiment template "EXTnope" not found`},
		{"delete unknown template", "DELETE", "/fis/experimentTemplates/EXTnope", "", 404, "ResourceNotFoundException", "experiment template"},
		{"unknown experiment", "GET", "/fis/experiments/EXPnope", "", 404, "ResourceNotFoundException", `experiment "EXPnope" not found`},
		{"stop unknown experiment", "DELETE", "/fis/experiments/EXPnope", "", 404, "ResourceNotFoundException", "experiment"},
		{"start from unknown template", "POST", "/fis/experiments", `{"experimentTemplateId": "EXTnope"}`, 404, "ResourceNotFoundException", "experiment template"},
		{"start without template", "POST", "/fis/experiments", `{}`, 400, "ValidationException", "experimentTemplateId: is required"},
		{"not JSON", "POST", "/fis/experimentTemplates", `{"description": `, 400, "ValidationException", "request body is not valid JSON"},
		{"empty body", "POST", "/fis/experimentTemplates", ``, 400, "ValidationException", "request body must be a JSON object, got nothing"},
		{"array body", "POST", "/fis/experimentTemplates", `[]`, 400, "ValidationException", "request body must be a JSON object"},
		{"two objects", "POST", "/fis/experiments", `{} {}`, 400, "ValidationException", "request body must be one JSON object"},
		{"unknown field", "POST", "/fis/experimentTemplates", `{"selection_mode": "ALL"}`, 400, "ValidationException", `unknown field "selection_mode"`},
		{"wrong type", "POST", "/fis/experimentTemplates", `{"targets": {"a": {"zones": "use1-az1"}}}`, 400, "ValidationException", "targets.zones: must be a JSON array"},
		{"parameter not a string", "POST", "/fis/experimentTemplates", `{"actions": {"a": {"parameters": {"percentage": 5}}}}`, 400, "ValidationException", "actions.parameters: must be a JSON string"},
		{"invalid template", "POST", "/fis/experimentTemplates",
			strings.Replace(templateJSON, `"percentage": "5"`, `"percentage": "500"`, 1), 400, "ValidationException", "actions.errors.parameters.percentage:"},
		{"too big", "POST", "/fis/experimentTemplates", `{"description": "` + strings.Repeat("x", 300<<10) + `"}`, 400, "ValidationException", "request body must be at most"},
		{"method", "PUT", "/fis/experiments/EXP1", "", 405, "MethodNotAllowedException", "method PUT is not allowed"},
		{"unknown path", "GET", "/fis/targets", "", 404, "UnknownOperationException", "no operation at GET /targets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.body)
			if status != tt.status || body["__type"] != tt.errType {
				t.Fatalf("%d %v, want %d %s", status, body, tt.status, tt.errType)
			}
			if msg, _ := body["message"].(string); !strings.HasPrefix(msg, tt.message) {
				t.Errorf("message = %q, want it to start with %q", msg, tt.message)
			}
		})
	}
}
