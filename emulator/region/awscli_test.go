package region

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLIInvoke drives the front door with the real AWS CLI (Debian's awscli package, installed
// by scripts/install-test-deps.sh), proving `aws lambda invoke --endpoint-url` works unchanged.
func TestAWSCLIInvoke(t *testing.T) {
	// Debian's package installs /usr/bin/aws (CLI v2); another aws earlier on PATH may be v1.
	aws := "/usr/bin/aws"
	if _, err := os.Stat(aws); err != nil {
		if aws, err = exec.LookPath("aws"); err != nil {
			t.Fatalf("the AWS CLI is not installed: run scripts/install-test-deps.sh (%v)", err)
		}
	}
	version, err := exec.Command(aws, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("aws --version: %v\n%s", err, version)
	}
	v2 := strings.HasPrefix(string(version), "aws-cli/2")
	// v2 base64-decodes --payload unless told otherwise and pages output; v1 does neither.
	payloadFlags := func(p string) []string {
		if v2 {
			return []string{"--cli-binary-format", "raw-in-base64-out", "--payload", p}
		}
		return []string{"--payload", p}
	}
	region, _, _ := newTestRegion(t, Config{})
	srv := httptest.NewServer(NewFrontDoor(nil, region))
	t.Cleanup(srv.Close)

	cli := func(args ...string) (stdout, stderr string, err error) {
		base := []string{"--endpoint-url", srv.URL, "--output", "json"}
		if v2 {
			base = append(base, "--no-cli-pager")
		}
		cmd := exec.Command(aws, append(base, args...)...)
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED=true")
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	out := filepath.Join(t.TempDir(), "out.json")

	args := append(append([]string{"lambda", "invoke", "--function-name", "hello"}, payloadFlags(`{"name":"ada"}`)...), out)
	stdout, stderr, err := cli(args...)
	if err != nil {
		t.Fatalf("aws lambda invoke: %v\n%s", err, stderr)
	}
	var meta struct {
		StatusCode      int
		ExecutedVersion string
		FunctionError   string
	}
	if err := json.Unmarshal([]byte(stdout), &meta); err != nil {
		t.Fatalf("cli output %q: %v", stdout, err)
	}
	if meta.StatusCode != 200 || meta.ExecutedVersion != "$LATEST" || meta.FunctionError != "" {
		t.Errorf("cli output %+v", meta)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != `{"hello":"ada"}` {
		t.Errorf("response file %s", b)
	}

	args = append(append([]string{"lambda", "invoke", "--function-name", "hello"}, payloadFlags(`{"fail":true}`)...), out)
	stdout, stderr, err = cli(args...)
	if err != nil {
		t.Fatalf("aws lambda invoke (function error): %v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &meta); err != nil || meta.FunctionError != "Unhandled" {
		t.Errorf("function error: cli output %q", stdout)
	}

	_, stderr, err = cli("lambda", "invoke", "--function-name", "nope", out)
	if err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("unknown function: err %v, stderr %q; want ResourceNotFoundException", err, stderr)
	}
}
