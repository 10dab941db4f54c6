package emulator

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Conformance against AWS's own Node.js runtime interface client (npm aws-lambda-ric, installed
// outside the repository by scripts/install-lambda-ric.sh, which CI runs through
// scripts/install-test-deps.sh): the emulator's Runtime API must serve it unchanged.

var (
	ricOnce sync.Once
	ricDir  string
	ricErr  error
)

// ricBootstrap writes a function directory whose bootstrap starts aws-lambda-ric on index.js, as a
// custom runtime on provided.al2023 would.
func ricBootstrap(t *testing.T) string {
	t.Helper()
	ricOnce.Do(func() {
		cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "install-lambda-ric.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			ricErr = err
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		ricDir = lines[len(lines)-1]
	})
	if ricErr != nil {
		t.Fatalf("install aws-lambda-ric (scripts/install-lambda-ric.sh): %v", ricErr)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ric := filepath.Join(ricDir, "node_modules", "aws-lambda-ric", "bin", "index.mjs")
	bootstrap := "#!/bin/sh\nexec " + node + " " + ric + " \"$_HANDLER\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(bootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	index := `exports.handler = async (event) => {
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.throw) throw new Error(event.throw);
  if (event.log) console.log(event.log);
  return { echo: event.message };
};
`
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "bootstrap")
}

func ricFunction(t *testing.T, handler string) Function {
	return Function{
		Name:    "ric-fn",
		Handler: handler,
		Timeout: 2 * time.Second,
		Runtime: &ProcessRuntime{Path: ricBootstrap(t)},
	}
}

func TestRICInvocations(t *testing.T) {
	t.Run("shared", func(t *testing.T) { ricInvocations(t, NetworkShared) })
	// Inside a namespace of its own the client finds the API at Lambda's 127.0.0.1:9001.
	t.Run("isolated", func(t *testing.T) { ricInvocations(t, NetworkIsolated) })
}

func ricInvocations(t *testing.T, network Network) {
	s, _, err := startSandbox(t, SandboxConfig{Function: ricFunction(t, "index.handler"), InitTimeout: 30 * time.Second, Network: network})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"message":"hi"}`)
	if res.Status != "success" || string(res.Payload) != `{"echo":"hi"}` {
		t.Errorf("success: %s %s %s", res.Status, res.ErrorType, res.Payload)
	}

	res = invoke(t, s, `{"throw":"boom"}`)
	var fe struct{ ErrorType, ErrorMessage string }
	mustJSON(t, res.Payload, &fe)
	if res.FunctionError != "Unhandled" || fe.ErrorType != "Error" || fe.ErrorMessage != "boom" {
		t.Errorf("thrown error: X-Amz-Function-Error %q, payload %s", res.FunctionError, res.Payload)
	}

	res = invoke(t, s, `{"sleepMs":60000}`)
	if res.Status != "timeout" || res.ErrorType != "Sandbox.Timeout" {
		t.Errorf("timeout: %s %s %s", res.Status, res.ErrorType, res.Payload)
	}
	// The environment was reset: the next invocation re-runs init and still works.
	res = invoke(t, s, `{"message":"again"}`)
	if res.Status != "success" || !res.ColdStart || string(res.Payload) != `{"echo":"again"}` {
		t.Errorf("after the timeout: %s cold=%v %s", res.Status, res.ColdStart, res.Payload)
	}
	if sum := s.Summary(); sum.Resets["Sandbox.Timeout"] != 1 {
		t.Errorf("summary %s, want one Sandbox.Timeout reset", sum)
	}
}

// A handler whose module does not exist: the client reports Runtime.ImportModuleError through
// /runtime/init/error, and init fails with that type.
func TestRICMissingModule(t *testing.T) {
	_, log, err := startSandbox(t, SandboxConfig{Function: ricFunction(t, "nowhere.handler"), InitTimeout: 30 * time.Second})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Runtime.ImportModuleError" {
		t.Fatalf("Start = %v, want init error Runtime.ImportModuleError", err)
	}
	done := log.find("platform.initRuntimeDone")
	if len(done) != 1 || done[0].Record["errorType"] != "Runtime.ImportModuleError" {
		t.Errorf("platform.initRuntimeDone %v", done)
	}
}

// With AWS_LAMBDA_LOG_FORMAT=JSON the client writes its own JSON records; they carry the
// invocation's request id.
func TestRICJSONLogs(t *testing.T) {
	var out syncBuffer
	fn := ricFunction(t, "index.handler")
	fn.LogFormat = "JSON"
	s, _, err := startSandbox(t, SandboxConfig{Function: fn, LogOutput: &out, InitTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"log":"hello from node","message":"x"}`)
	if res.Status != "success" {
		t.Fatalf("invoke: %s %s", res.Status, res.Payload)
	}
	shutdown(t, s, ShutdownSpindown)
	var found bool
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, "hello from node") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line[i:]), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if rec["level"] != "INFO" || rec["message"] != "hello from node" || rec["requestId"] != res.RequestID {
			t.Errorf("JSON log record %v, want level INFO, the message and requestId %s", rec, res.RequestID)
		}
		found = true
	}
	if !found {
		t.Errorf("no log line with the message:\n%s", out.String())
	}
}
