package emulator

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestColdInvocationEvents(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil), ID: "env-1", TraceSampleRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"echo","message":"x"}`)
	want := []string{"platform.initStart", "platform.initRuntimeDone", "platform.initReport",
		"platform.start", "platform.runtimeDone", "platform.report"}
	if diff := cmp.Diff(want, log.types()); diff != "" {
		t.Fatalf("event order (-want +got):\n%s", diff)
	}
	ev := log.snapshot()
	is := ev[0].Record
	if is["initializationType"] != "on-demand" || is["phase"] != "init" || is["functionName"] != "test-fn" ||
		is["functionVersion"] != "$LATEST" || is["instanceId"] != "env-1" || is["instanceMaxMemory"] != 128.0 {
		t.Errorf("initStart = %v", is)
	}
	if r := ev[1].Record; r["status"] != "success" || r["phase"] != "init" {
		t.Errorf("initRuntimeDone = %v", r)
	}
	if r := ev[2].Record; r["status"] != "success" || r["metrics"].(map[string]any)["durationMs"].(float64) <= 0 {
		t.Errorf("initReport = %v", r)
	}
	st := ev[3].Record
	if st["requestId"] != res.RequestID || st["version"] != "$LATEST" {
		t.Errorf("start = %v", st)
	}
	tr, _ := st["tracing"].(map[string]any)
	if tr["type"] != "X-Amzn-Trace-Id" || tr["value"] != res.TraceHeader || len(tr["spanId"].(string)) != 16 {
		t.Errorf("start.tracing = %v (trace %q)", tr, res.TraceHeader)
	}
	rd := ev[4].Record
	if rd["status"] != "success" || rd["requestId"] != res.RequestID {
		t.Errorf("runtimeDone = %v", rd)
	}
	var names []string
	for _, sp := range rd["spans"].([]any) {
		names = append(names, sp.(map[string]any)["name"].(string))
	}
	if diff := cmp.Diff([]string{"responseLatency", "responseDuration", "runtimeOverhead"}, names); diff != "" {
		t.Errorf("runtimeDone spans (-want +got):\n%s", diff)
	}
	m := rd["metrics"].(map[string]any)
	if m["producedBytes"] != float64(len(res.Payload)) || m["durationMs"].(float64) <= 0 {
		t.Errorf("runtimeDone.metrics = %v", m)
	}
	rp := ev[5].Record["metrics"].(map[string]any)
	if rp["memorySizeMB"] != 128.0 || rp["maxMemoryUsedMB"].(float64) <= 0 || rp["initDurationMs"] == nil ||
		rp["billedDurationMs"].(float64) < rp["durationMs"].(float64) || rp["billedDurationMs"].(float64)-rp["durationMs"].(float64) >= 1 {
		t.Errorf("report.metrics = %v", rp)
	}
	if ev[5].Record["status"] != "success" {
		t.Errorf("report = %v", ev[5].Record)
	}

	invoke(t, s, `{"mode":"echo"}`)
	reports := log.find("platform.report")
	if _, ok := reports[1].Record["metrics"].(map[string]any)["initDurationMs"]; ok {
		t.Errorf("warm report has initDurationMs: %v", reports[1].Record)
	}
}

func TestRuntimeAndExtensionEnvironments(t *testing.T) {
	ext, rec := testExtension(t, "env-ext", "-events", "INVOKE,SHUTDOWN")
	s, _, err := startSandbox(t, SandboxConfig{
		Function: processFunction(map[string]string{"CUSTOMER_VAR": "v1"}, ext),
		Region:   "eu-west-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"env"}`)
	var rtEnv []string
	mustJSON(t, res.Payload, &rtEnv)
	shutdown(t, s, ShutdownSpindown)
	envRec := recordsOf(readRecords(t, rec), "env")[0]
	var extEnv []string
	for _, v := range envRec["env"].([]any) {
		extEnv = append(extEnv, v.(string))
	}

	both := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          s.APIAddr(),
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "test-fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_METADATA_API":         s.APIAddr(),
		"AWS_LAMBDA_METADATA_TOKEN":       s.token,
		"AWS_SAM_LOCAL":                   "true",
		"CUSTOMER_VAR":                    "v1",
		"TZ":                              ":UTC",
		"TMPDIR":                          s.tmpDir,
	}
	for k, want := range both {
		for _, env := range [][]string{rtEnv, extEnv} {
			if got, ok := envValue(env, k); !ok || got != want {
				t.Errorf("%s = %q, %v; want %q", k, got, ok, want)
			}
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LANG", "PATH", "AWS_LAMBDA_LOG_FORMAT"} {
		for _, env := range [][]string{rtEnv, extEnv} {
			if _, ok := envValue(env, k); !ok {
				t.Errorf("%s missing", k)
			}
		}
	}
	runtimeOnly := []string{"_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}
	for _, k := range runtimeOnly {
		if _, ok := envValue(rtEnv, k); !ok {
			t.Errorf("runtime lacks %s", k)
		}
		if _, ok := envValue(extEnv, k); ok {
			t.Errorf("extension has %s", k)
		}
	}
	if v, _ := envValue(rtEnv, "_HANDLER"); v != "bootstrap" {
		t.Errorf("_HANDLER = %q", v)
	}
	if v, _ := envValue(rtEnv, "AWS_LAMBDA_LOG_GROUP_NAME"); v != "/aws/lambda/test-fn" {
		t.Errorf("log group = %q", v)
	}
	for _, kv := range extEnv {
		if strings.HasPrefix(kv, "_") || strings.HasPrefix(kv, "AWS_XRAY_") {
			t.Errorf("extension env has %q", kv)
		}
	}
	for _, kv := range rtEnv {
		if strings.HasPrefix(kv, "_LAMBDA_SERVER_PORT=") {
			t.Errorf("runtime env has %q", kv)
		}
	}
	// The environment's own /tmp is gone once the environment is.
	if _, err := os.Stat(s.tmpDir); !os.IsNotExist(err) {
		t.Errorf("environment /tmp %s after shutdown: %v", s.tmpDir, err)
	}
}

// TestEnvironmentsHaveTheirOwnTmp: Lambda gives every execution environment a /tmp of its own;
// extensions that spool there must not see another environment's files.
func TestEnvironmentsHaveTheirOwnTmp(t *testing.T) {
	var dirs []string
	for range 2 {
		s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
		if err != nil {
			t.Fatal(err)
		}
		var env []string
		mustJSON(t, invoke(t, s, `{"mode":"env"}`).Payload, &env)
		dir, _ := envValue(env, "TMPDIR")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("TMPDIR %q: %v", dir, err)
		}
		dirs = append(dirs, dir)
	}
	if dirs[0] == dirs[1] {
		t.Errorf("two environments share TMPDIR %s", dirs[0])
	}
}

func TestInvokeHeadersReachTheFunction(t *testing.T) {
	s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	trace := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	before := time.Now()
	res, err := s.Invoke(context.Background(), &InvokeRequest{
		RequestID:       "11111111-2222-4333-8444-555555555555",
		Payload:         []byte(`{"mode":"context"}`),
		TraceHeader:     trace,
		ClientContext:   `{"custom":{"k":"v"}}`,
		CognitoIdentity: `{"cognitoIdentityPoolId":"pool-1"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	<-res.Done
	var got struct {
		RequestID     string            `json:"requestId"`
		FunctionArn   string            `json:"functionArn"`
		DeadlineMs    int64             `json:"deadlineMs"`
		TraceID       string            `json:"traceId"`
		EnvTraceID    string            `json:"envTraceId"`
		ClientContext map[string]string `json:"clientContext"`
		CognitoPoolID string            `json:"cognitoPoolId"`
	}
	mustJSON(t, res.Payload, &got)
	if got.RequestID != "11111111-2222-4333-8444-555555555555" || res.RequestID != got.RequestID {
		t.Errorf("request id = %q / %q", got.RequestID, res.RequestID)
	}
	if got.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:test-fn" {
		t.Errorf("arn = %q", got.FunctionArn)
	}
	if lo, hi := before.Add(5*time.Second).UnixMilli(), time.Now().Add(5*time.Second).UnixMilli(); got.DeadlineMs < lo || got.DeadlineMs > hi {
		t.Errorf("deadline %d not within [%d, %d]", got.DeadlineMs, lo, hi)
	}
	if got.TraceID != trace || got.EnvTraceID != trace || res.TraceHeader != trace {
		t.Errorf("trace = %q, env %q, result %q", got.TraceID, got.EnvTraceID, res.TraceHeader)
	}
	if got.ClientContext["k"] != "v" || got.CognitoPoolID != "pool-1" {
		t.Errorf("client context %v, cognito %q", got.ClientContext, got.CognitoPoolID)
	}
}

func TestGeneratedTraceHeaders(t *testing.T) {
	for _, tc := range []struct {
		rate    float64
		sampled string
	}{{0, "0"}, {1, "1"}} {
		s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil), TraceSampleRate: tc.rate})
		if err != nil {
			t.Fatal(err)
		}
		res := invoke(t, s, `{"mode":"context"}`)
		var got struct {
			TraceID string `json:"traceId"`
		}
		mustJSON(t, res.Payload, &got)
		if got.TraceID != res.TraceHeader || !traceHeaderRE.MatchString(got.TraceID) || !strings.HasSuffix(got.TraceID, "Sampled="+tc.sampled) {
			t.Errorf("rate %v: trace header %q (result %q)", tc.rate, got.TraceID, res.TraceHeader)
		}
		_, hasTracing := log.find("platform.start")[0].Record["tracing"]
		if hasTracing != (tc.sampled == "1") {
			t.Errorf("rate %v: platform.start tracing present = %v", tc.rate, hasTracing)
		}
	}
}

func TestFunctionErrors(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		payload, errorType, bodyType string
	}{
		{`{"mode":"error","message":"boom"}`, "Runtime.Unknown", "errorString"},
		{`{"mode":"typed-error","message":"custom"}`, "Function.Custom", "Function.Custom"},
	} {
		res := invoke(t, s, tc.payload)
		var body errorBody
		mustJSON(t, res.Payload, &body)
		if res.FunctionError != "Unhandled" || res.Status != "error" || res.ErrorType != tc.errorType || body.ErrorType != tc.bodyType {
			t.Errorf("%s: got %+v, body %s", tc.payload, res, res.Payload)
		}
		rd := log.find("platform.runtimeDone")
		if last := rd[len(rd)-1].Record; last["status"] != "error" || last["errorType"] != tc.errorType {
			t.Errorf("%s: runtimeDone = %v", tc.payload, last)
		}
	}
	// A handler error keeps the environment: the next invocation is warm.
	if res := invoke(t, s, `{"mode":"echo"}`); res.ColdStart || res.Status != "success" {
		t.Errorf("after errors: %+v", res)
	}
}

func TestPanicAndExitResetTheEnvironment(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"exit","n":4}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Runtime.ExitError" || res.Status != "error" {
		t.Fatalf("exit: %+v", res)
	}
	if !strings.Contains(string(res.Payload), "exit status 4") {
		t.Errorf("exit payload = %s", res.Payload)
	}
	rep := log.find("platform.report")
	if r := rep[len(rep)-1].Record; r["status"] != "error" || r["errorType"] != "Runtime.ExitError" {
		t.Errorf("report = %v", r)
	}
	res = invoke(t, s, `{"mode":"echo","message":"again"}`)
	if !res.ColdStart || string(res.Payload) != `{"echo":"again"}` {
		t.Fatalf("after exit: %+v %s", res, res.Payload)
	}
	starts := log.find("platform.initStart")
	if len(starts) != 2 || starts[1].Record["phase"] != "invoke" {
		t.Errorf("initStart events = %v", starts)
	}

	// aws-lambda-go reports a panic as an error, then exits: the caller sees the panic, the
	// environment is reset, and the report says the runtime exited.
	res = invoke(t, s, `{"mode":"panic","message":"oops"}`)
	if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "oops") {
		t.Errorf("panic: %+v %s", res, res.Payload)
	}
	if res := invoke(t, s, `{"mode":"echo"}`); !res.ColdStart {
		t.Errorf("after panic: not a cold start: %+v", res)
	}
}

func TestTimeoutResetsAndShutsDownExtensions(t *testing.T) {
	ext, rec := testExtension(t, "timeout-ext")
	fn := processFunction(nil, ext)
	// The timeout also bounds the next invocation, whose re-init starts two processes: it must
	// be long enough for that on a loaded two-core machine.
	fn.Timeout = 3 * time.Second
	s, log, err := startSandbox(t, SandboxConfig{Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"sleep","ms":60000}`)
	if res.Status != "timeout" || res.ErrorType != "Sandbox.Timeout" || res.FunctionError != "Unhandled" {
		t.Fatalf("timeout: %+v", res)
	}
	if !strings.Contains(string(res.Payload), "Task timed out after 3.00 seconds") {
		t.Errorf("payload = %s", res.Payload)
	}
	rd := log.find("platform.runtimeDone")[0].Record
	rp := log.find("platform.report")[0].Record
	if rd["status"] != "timeout" || rd["errorType"] != "Sandbox.Timeout" || rp["status"] != "timeout" || rp["errorType"] != "Sandbox.Timeout" {
		t.Errorf("runtimeDone %v, report %v", rd, rp)
	}
	res = invoke(t, s, `{"mode":"echo","message":"back"}`)
	if !res.ColdStart || string(res.Payload) != `{"echo":"back"}` {
		t.Fatalf("after timeout: %+v %s", res, res.Payload)
	}
	shutdown(t, s, ShutdownSpindown)
	var reasons []string
	for _, ev := range eventBodies(readRecords(t, rec)) {
		if ev["eventType"] == "SHUTDOWN" {
			reasons = append(reasons, ev["shutdownReason"].(string))
		}
	}
	if diff := cmp.Diff([]string{"timeout", "spindown"}, reasons); diff != "" {
		t.Errorf("SHUTDOWN reasons (-want +got):\n%s", diff)
	}
}

func TestInitErrorIsRetriedInTheInvocation(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(map[string]string{"TESTFN_INIT": "error"})})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Function.InitBoom" {
		t.Fatalf("Start = %v", err)
	}
	ir := log.find("platform.initReport")[0].Record
	if ir["status"] != "error" || ir["errorType"] != "Function.InitBoom" {
		t.Errorf("initReport = %v", ir)
	}
	res := invoke(t, s, `{"mode":"echo"}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Function.InitBoom" || !res.ColdStart || res.Status != "error" {
		t.Fatalf("invoke after init error: %+v", res)
	}
	starts := log.find("platform.initStart")
	if len(starts) != 2 || starts[1].Record["phase"] != "invoke" {
		t.Errorf("initStart = %v", starts)
	}
	rp := log.find("platform.report")
	if len(rp) != 1 || rp[0].Record["errorType"] != "Function.InitBoom" {
		t.Errorf("report = %v", rp)
	}
}

func TestInitCrash(t *testing.T) {
	_, _, err := startSandbox(t, SandboxConfig{Function: processFunction(map[string]string{"TESTFN_INIT": "exit"})})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Runtime.ExitError" || !strings.Contains(ie.Message, "exit status 3") {
		t.Fatalf("Start = %v", err)
	}
}

func TestMissingRuntimeExecutable(t *testing.T) {
	_, _, err := startSandbox(t, SandboxConfig{Function: Function{Runtime: &ProcessRuntime{Path: t.TempDir() + "/bootstrap"}}})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Runtime.InvalidEntrypoint" {
		t.Fatalf("Start = %v", err)
	}
}

func TestInitTimeoutRetriesInitInTheFirstInvocation(t *testing.T) {
	marker := t.TempDir() + "/hang"
	if err := writeFile(marker); err != nil {
		t.Fatal(err)
	}
	ext, _ := testExtension(t, "init-timeout-ext")
	s, log, err := startSandbox(t, SandboxConfig{
		Function:    processFunction(map[string]string{"TESTFN_INIT": "hang-once:" + marker}, ext),
		InitTimeout: 2 * time.Second,
	})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Sandbox.Timeout" {
		t.Fatalf("Start = %v", err)
	}
	if ir := log.find("platform.initReport")[0].Record; ir["status"] != "timeout" {
		t.Errorf("initReport = %v", ir)
	}
	res := invoke(t, s, `{"mode":"echo","message":"ok"}`)
	if res.Status != "success" || !res.ColdStart {
		t.Fatalf("first invocation: %+v %s", res, res.Payload)
	}
	starts := log.find("platform.initStart")
	if len(starts) != 2 || starts[1].Record["phase"] != "invoke" {
		t.Errorf("initStart = %v", starts)
	}
}

func TestMaxMemoryUsed(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	invoke(t, s, `{"mode":"alloc","n":64}`)
	rp := log.find("platform.report")[0].Record["metrics"].(map[string]any)
	if used := rp["maxMemoryUsedMB"].(float64); used < 64 {
		t.Errorf("maxMemoryUsedMB = %v after allocating 64 MiB", used)
	}
}

func TestFreezeStopsProcessesBetweenInvocations(t *testing.T) {
	ext, _ := testExtension(t, "freeze-ext")
	s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext), Freeze: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		invoke(t, s, `{"mode":"echo"}`)
		s.mu.Lock()
		members := append([]*member(nil), s.cyc.members...)
		s.mu.Unlock()
		for _, m := range members {
			if st := procState(t, m.pid()); st != 'T' {
				t.Errorf("invocation %d: %s pid %d state %c, want T (stopped)", i, m.kind, m.pid(), st)
			}
		}
	}
	// SHUTDOWN thaws the extension so it can exit on its own.
	s.mu.Lock()
	members := append([]*member(nil), s.cyc.members...)
	s.mu.Unlock()
	shutdown(t, s, ShutdownSpindown)
	for _, m := range members {
		if m.kind == "extension" && m.signal != 0 {
			t.Errorf("extension ended by %v, want a clean exit after SHUTDOWN", m.signal)
		}
	}
}

func TestShutdownBudgets(t *testing.T) {
	t.Run("no extensions: runtime SIGKILLed at once", func(t *testing.T) {
		s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
		if err != nil {
			t.Fatal(err)
		}
		invoke(t, s, `{"mode":"echo"}`)
		rt := s.cyc.runtime
		shutdown(t, s, ShutdownSpindown)
		if rt.signal != syscall.SIGKILL {
			t.Errorf("runtime ended by %q, want SIGKILL", rt.exitDescription())
		}
	})
	t.Run("internal extension: runtime gets SIGTERM", func(t *testing.T) {
		var out syncBuffer
		s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(map[string]string{"TESTFN_SIGTERM": "1"}), LogOutput: &out})
		if err != nil {
			t.Fatal(err)
		}
		invoke(t, s, `{"mode":"echo"}`)
		s.mu.Lock()
		rt := s.cyc.runtime
		var names []string
		for _, e := range s.cyc.exts {
			names = append(names, e.name)
		}
		s.mu.Unlock()
		if !slices.Equal(names, []string{"GoLangEnableSIGTERM"}) {
			t.Fatalf("extensions = %v", names)
		}
		shutdown(t, s, ShutdownSpindown)
		if rt.signal != 0 || !strings.Contains(out.String(), "SIGTERM received") {
			t.Errorf("runtime ended by %q; output %q", rt.exitDescription(), out.String())
		}
	})
	t.Run("internal extension: runtime ignoring SIGTERM is SIGKILLed", func(t *testing.T) {
		var out syncBuffer
		s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(map[string]string{"TESTFN_SIGTERM": "ignore"}), LogOutput: &out})
		if err != nil {
			t.Fatal(err)
		}
		invoke(t, s, `{"mode":"echo"}`)
		rt := s.cyc.runtime
		shutdown(t, s, ShutdownSpindown)
		if rt.signal != syscall.SIGKILL || !strings.Contains(out.String(), "SIGTERM ignored") {
			t.Errorf("runtime ended by %q; output %q", rt.exitDescription(), out.String())
		}
	})
	t.Run("external extension: SHUTDOWN with a 2000 ms deadline, SIGKILL at it", func(t *testing.T) {
		ext, rec := testExtension(t, "stubborn", "-mode", "ignore-shutdown")
		s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext)})
		if err != nil {
			t.Fatal(err)
		}
		invoke(t, s, `{"mode":"echo"}`)
		s.mu.Lock()
		var em *member
		for _, m := range s.cyc.members {
			if m.kind == "extension" {
				em = m
			}
		}
		s.mu.Unlock()
		before := time.Now()
		shutdown(t, s, ShutdownFailure)
		after := time.Now()
		var sd map[string]any
		for _, ev := range eventBodies(readRecords(t, rec)) {
			if ev["eventType"] == "SHUTDOWN" {
				sd = ev
			}
		}
		if sd == nil || sd["shutdownReason"] != "failure" {
			t.Fatalf("SHUTDOWN event = %v", sd)
		}
		dl := int64(sd["deadlineMs"].(float64))
		if dl < before.Add(2*time.Second).UnixMilli() || dl > after.Add(2*time.Second).UnixMilli() {
			t.Errorf("deadlineMs %d not 2000 ms after shutdown began (%d)", dl, before.UnixMilli())
		}
		if em.signal != syscall.SIGKILL || after.UnixMilli() < dl {
			t.Errorf("stubborn extension ended by %q at %d, deadline %d", em.exitDescription(), after.UnixMilli(), dl)
		}
	})
}

func TestShutdownIsIdempotentAndSafeWithoutStart(t *testing.T) {
	s, err := NewSandbox(SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Shutdown(context.Background(), ShutdownSpindown); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrSandboxShutdown) {
		t.Errorf("Start after Shutdown = %v", err)
	}

	s2, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	addr := s2.APIAddr()
	shutdown(t, s2, ShutdownSpindown)
	shutdown(t, s2, ShutdownSpindown)
	// The port is released: it can be bound again.
	ln, err := listenTCP(addr)
	if err != nil {
		t.Fatalf("port %s not released: %v", addr, err)
	}
	ln.Close()
}
