package experiment_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/awsclitest"
)

// TestAWSCLIExperiment drives the experiment API with the real AWS CLI v2: a template written as
// for real FIS (--cli-input-json), started, read, stopped, and the error paths.
func TestAWSCLIExperiment(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.svc.Handler())
	t.Cleanup(srv.Close)
	aws := awsclitest.New(t, srv.URL).Run
	run := func(args ...string) map[string]any {
		t.Helper()
		out, stderr, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, err)
		}
		return v
	}
	input := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(input, []byte(`{
  "description": "latency in use1-az3",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {"fn": {"resourceType": "aws:lambda:function",
    "resourceArns": ["arn:aws:lambda:us-east-1:123456789012:function:hello"],
    "parameters": {"availabilityZoneIdentifier": "use1-az3"}, "selectionMode": "ALL"}},
  "actions": {"slow": {"actionId": "azlens:lambda:inject-latency",
    "parameters": {"duration": "PT10M", "latency": "PT0.5S"}, "targets": {"Functions": "fn"}}},
  "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:use1-az3"}],
  "tags": {"team": "sre"}
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	created := run("fis", "create-experiment-template", "--cli-input-json", "file://"+input)
	tmpl, _ := created["experimentTemplate"].(map[string]any)
	tmplID, _ := tmpl["id"].(string)
	if tmplID == "" || tmpl["description"] != "latency in use1-az3" {
		t.Fatalf("create-experiment-template printed %v", created)
	}
	started := run("fis", "start-experiment", "--experiment-template-id", tmplID)
	exp, _ := started["experiment"].(map[string]any)
	id, _ := exp["id"].(string)
	if id == "" {
		t.Fatalf("start-experiment printed %v", started)
	}
	f.clock.Advance(time.Second)
	got := run("fis", "get-experiment", "--id", id)
	if st := got["experiment"].(map[string]any)["state"].(map[string]any)["status"]; st != "running" {
		t.Errorf("get-experiment: status %v, want running (%v)", st, got)
	}
	if d, err := f.svc.HooksFor("use1-az3", 0).BeforeInvoke(t.Context(), nil); d != 500*time.Millisecond || err != nil {
		t.Errorf("use1-az3 invocation: delay %v, err %v; want 500ms added", d, err)
	}
	if list := run("fis", "list-experiments"); len(list["experiments"].([]any)) != 1 {
		t.Errorf("list-experiments printed %v", list)
	}
	run("fis", "update-experiment-template", "--id", tmplID, "--description", "renamed")
	stopped := run("fis", "stop-experiment", "--id", id)
	if st := stopped["experiment"].(map[string]any)["state"].(map[string]any)["status"]; st != "stopping" {
		t.Errorf("stop-experiment: status %v, want stopping", st)
	}
	f.clock.Advance(time.Second)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get-experiment", "--id", "EXPnope"}, "(ResourceNotFoundException)"},
		{[]string{"stop-experiment", "--id", id}, "(ValidationException)"},
		{[]string{"start-experiment", "--experiment-template-id", "EXTnope"}, "(ResourceNotFoundException)"},
		{[]string{"update-experiment-template", "--id", tmplID, "--actions", `{"slow":{"actionId":"azlens:lambda:inject-latency","parameters":{"latency":"forever"},"targets":{"Functions":"fn"}}}`},
			"actions.slow.parameters.latency"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			t.Parallel()
			_, stderr, err := aws(append([]string{"fis"}, tc.args...)...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Errorf("aws fis %s: %v, stderr %q, want %s", strings.Join(tc.args, " "), err, stderr, tc.want)
			}
		})
	}
}
