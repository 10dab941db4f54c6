package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewSandboxValidates(t *testing.T) {
	rt := &ProcessRuntime{Path: "/bin/true"}
	for _, tc := range []struct {
		name string
		cfg  SandboxConfig
		want string
	}{
		{"no runtime", SandboxConfig{}, "function.runtime"},
		{"runtime without path", SandboxConfig{Function: Function{Runtime: &ProcessRuntime{}}}, "function.runtime"},
		{"handler missing", SandboxConfig{Function: Function{Runtime: &InProcessRuntime{}}}, "function.runtime"},
		{"bad log format", SandboxConfig{Function: Function{Runtime: rt, LogFormat: "xml"}}, "function.log_format"},
		{"negative timeout", SandboxConfig{Function: Function{Runtime: rt, Timeout: -1}}, "function.timeout"},
		{"negative memory", SandboxConfig{Function: Function{Runtime: rt, MemoryMB: -1}}, "function.memory_mb"},
		{"underscore env", SandboxConfig{Function: Function{Runtime: rt, Env: map[string]string{"_X": "1"}}}, "function.env"},
		{"reserved env", SandboxConfig{Function: Function{Runtime: rt, Env: map[string]string{"AWS_REGION": "x"}}}, "reserved"},
		{"bad env name", SandboxConfig{Function: Function{Runtime: rt, Env: map[string]string{"A-B": "x"}}}, "function.env"},
		{"env too large", SandboxConfig{Function: Function{Runtime: rt, Env: map[string]string{"BIG": strings.Repeat("x", 4096)}}}, "4 KB"},
		{"duplicate extension", SandboxConfig{Function: Function{Runtime: rt, Extensions: []Extension{
			&ProcessExtension{Path: "/a/ext"}, &ProcessExtension{Path: "/b/ext"}}}}, "used twice"},
		{"extension without name", SandboxConfig{Function: Function{Runtime: rt, Extensions: []Extension{&InProcessExtension{}}}}, "function.extensions[0]"},
		{"sample rate", SandboxConfig{Function: Function{Runtime: rt}, TraceSampleRate: 2}, "trace_sample_rate"},
		{"init timeout", SandboxConfig{Function: Function{Runtime: rt}, InitTimeout: -time.Second}, "init_timeout"},
	} {
		_, err := NewSandbox(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	s, err := NewSandbox(SandboxConfig{Function: Function{Runtime: rt}})
	if err != nil {
		t.Fatal(err)
	}
	if s.fn.Name != "function" || s.fn.Version != "$LATEST" || s.fn.Handler != "bootstrap" || s.fn.MemoryMB != 128 ||
		s.timeout != 3*time.Second || s.initLimit != 10*time.Second || s.AZ() != "use1-az1" || s.region != "us-east-1" || s.ID() == "" {
		t.Errorf("defaults: %+v", s.fn)
	}
	if _, err := s.Invoke(context.Background(), &InvokeRequest{}); !errors.Is(err, ErrSandboxNotStarted) {
		t.Errorf("Invoke before Start: %v", err)
	}
}

func TestBeforeInvokeHook(t *testing.T) {
	var calls int
	hooks := &Hooks{BeforeInvoke: func(_ context.Context, req *InvokeRequest) (time.Duration, error) {
		calls++
		if string(req.Payload) == `"fail"` {
			return 0, errors.New("Sandbox.Failure")
		}
		return time.Millisecond, nil
	}}
	ran := 0
	fn := Function{Runtime: &InProcessRuntime{Handler: func() (string, error) { ran++; return "ran", nil }}}
	s, log, err := startSandbox(t, SandboxConfig{Function: fn, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `"fail"`)
	if res.Status != "failure" || res.ErrorType != "Sandbox.Failure" || res.FunctionError != "Unhandled" || ran != 0 {
		t.Errorf("refused invocation: %+v, handler ran %d times", res, ran)
	}
	if rp := log.find("platform.report")[0].Record; rp["status"] != "failure" || rp["errorType"] != "Sandbox.Failure" {
		t.Errorf("report = %v", rp)
	}
	res = invoke(t, s, `"ok"`)
	if string(res.Payload) != `"ran"` || ran != 1 || calls != 2 {
		t.Errorf("delayed invocation: %+v, ran %d, hook calls %d", res, ran, calls)
	}
	// The refused invocation did not use up the cold start.
	if !res.ColdStart {
		t.Errorf("first invocation that ran is not cold: %+v", res)
	}
}

// An injected latency is spent inside the invocation, as the FIS Lambda extension spends it: the
// platform's reported duration includes it, so a slow zone shows in its own telemetry.
func TestBeforeInvokeDelayIsPartOfTheDuration(t *testing.T) {
	const delay = 150 * time.Millisecond
	hooks := &Hooks{BeforeInvoke: func(context.Context, *InvokeRequest) (time.Duration, error) { return delay, nil }}
	fn := Function{Runtime: &InProcessRuntime{Handler: func() (string, error) { return "ran", nil }}}
	s, log, err := startSandbox(t, SandboxConfig{Function: fn, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, s, `"ok"`); string(res.Payload) != `"ran"` {
		t.Fatalf("delayed invocation: %+v", res)
	}
	rp := log.find("platform.report")[0].Record
	m, _ := rp["metrics"].(map[string]any)
	if d, _ := m["durationMs"].(float64); d < float64(delay.Milliseconds()) {
		t.Errorf("platform.report durationMs = %v, want at least the injected %v (report %v)", m["durationMs"], delay, rp)
	}
}

func TestNormalizeErrorType(t *testing.T) {
	for in, want := range map[string]string{
		"Runtime.ExitError":      "Runtime.ExitError",
		"Function.Custom":        "Function.Custom",
		"Function.custom":        "Function.Unknown",
		"Function.Bad1":          "Function.Unknown",
		"Function.":              "Function.Unknown",
		"errorString":            "Runtime.Unknown",
		"":                       "Runtime.Unknown",
		"Runtime.X":              "Runtime.Unknown",
		"Sandbox.Timeout":        "Runtime.Unknown",
		"Runtime.Unknown":        "Runtime.Unknown",
		"Runtime.MarshalError  ": "Runtime.Unknown",
	} {
		if got := normalizeErrorType(in); got != want {
			t.Errorf("normalizeErrorType(%q) = %q, want %q", in, got, want)
		}
	}
	for et, st := range map[string]string{"": "success", "Sandbox.Timeout": "timeout", "Sandbox.Failure": "failure", "Runtime.ExitError": "error", "Extension.Crash": "error"} {
		if got := statusOf(et); got != st {
			t.Errorf("statusOf(%q) = %q, want %q", et, got, st)
		}
	}
}

func TestTraceAndIDFormats(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	h := newTraceHeader(now, true)
	if !traceHeaderRE.MatchString(h) || !strings.HasPrefix(h, "Root=1-5759e988-") || !traceSampled(h) {
		t.Errorf("trace header %q", h)
	}
	if traceSampled(newTraceHeader(now, false)) || !traceSampled("Root=1-a-b; Sampled=1;Lineage=x") {
		t.Error("traceSampled")
	}
	id := newRequestID()
	if !isUUID(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Errorf("request id %q", id)
	}
	if isUUID("0000000-0000-4000-8000-0000000000000") || isUUID("zzzzzzzz-0000-4000-8000-000000000000") {
		t.Error("isUUID accepted a non-UUID")
	}
	if billedMillis(1500*time.Microsecond) != 2 || billedMillis(2*time.Millisecond) != 2 || millis(1234567*time.Nanosecond) != 1.234 {
		t.Error("millisecond rounding")
	}
}
