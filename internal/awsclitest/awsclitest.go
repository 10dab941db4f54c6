// Package awsclitest runs the real AWS CLI v2 in tests, against a local endpoint with dummy
// credentials, as a user would: only --endpoint-url differs from a call to AWS.
package awsclitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Path is where Debian's awscli package (CLI v2, installed by scripts/install-test-deps.sh) puts
// the CLI; another aws earlier on PATH may be v1, whose models and output differ.
const Path = "/usr/bin/aws"

// CLI runs the AWS CLI against one endpoint.
type CLI struct {
	endpoint string
	env      []string
}

// New checks that the CLI v2 is installed (failing the test, not skipping it, when it is not) and
// returns a CLI for endpoint with an empty home, static dummy credentials, region us-east-1, no
// instance metadata and no retries.
func New(t *testing.T, endpoint string) *CLI {
	t.Helper()
	out, err := exec.Command(Path, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/2") {
		t.Fatalf("the AWS CLI v2 is not at %s: run scripts/install-test-deps.sh (%v: %s)", Path, err, out)
	}
	home := t.TempDir()
	none := filepath.Join(home, "none")
	// The caller's own AWS settings (a profile, a real session) must not leak in.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return &CLI{endpoint: endpoint, env: append(env, "HOME="+home,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")}
}

// Run runs `aws --endpoint-url <endpoint> --output json --no-cli-pager args...`.
func (c *CLI) Run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(Path, append([]string{"--endpoint-url", c.endpoint, "--output", "json", "--no-cli-pager"}, args...)...)
	cmd.Env = c.env
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
