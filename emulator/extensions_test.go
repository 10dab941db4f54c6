package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExtensionEventsAndTelemetry(t *testing.T) {
	ext, rec := testExtension(t, "recorder", "-subscribe", "platform,function", "-account", "-invoke-delay", "300ms")
	other, otherRec := testExtension(t, "aaa-quiet", "-events", "")
	var out syncBuffer
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext, other), LogOutput: &out, TraceSampleRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"log","n":3}`)
	before := time.Now()
	shutdown(t, s, ShutdownSpindown)

	// The extension's overhead is billed: the report covers the 300 ms it spent on INVOKE.
	rd := log.find("platform.runtimeDone")[0].Record["metrics"].(map[string]any)["durationMs"].(float64)
	rp := log.find("platform.report")[0].Record["metrics"].(map[string]any)["durationMs"].(float64)
	if rp < 300 || rp <= rd {
		t.Errorf("report durationMs %v, runtimeDone durationMs %v", rp, rd)
	}
	var exts []string
	for _, e := range log.find("platform.extension") {
		exts = append(exts, e.Record["name"].(string)+":"+strings.Join(toStrings(e.Record["events"]), "+"))
	}
	if !slices.Equal(exts, []string{"aaa-quiet:", "recorder:INVOKE+SHUTDOWN"}) {
		t.Errorf("platform.extension = %v", exts)
	}

	recs := readRecords(t, rec)
	reg := recordsOf(recs, "register")[0]
	body := reg["body"].(map[string]any)
	if reg["status"] != 200.0 || !isUUID(reg["identifier"].(string)) || body["functionName"] != "test-fn" ||
		body["functionVersion"] != "$LATEST" || body["handler"] != "bootstrap" || body["accountId"] != "123456789012" {
		t.Errorf("register = %v", reg)
	}
	if sub := recordsOf(recs, "subscribe")[0]; sub["status"] != 200.0 {
		t.Errorf("subscribe = %v", sub)
	}
	evs := recordsOf(recs, "event")
	if len(evs) != 2 {
		t.Fatalf("events = %v", evs)
	}
	inv := evs[0]["body"].(map[string]any)
	tr := inv["tracing"].(map[string]any)
	if inv["eventType"] != "INVOKE" || inv["requestId"] != res.RequestID || inv["invokedFunctionArn"] != s.arn ||
		inv["deadlineMs"].(float64) <= float64(time.Now().Add(-time.Minute).UnixMilli()) ||
		tr["type"] != "X-Amzn-Trace-Id" || tr["value"] != res.TraceHeader || !isUUID(evs[0]["eventIdentifier"].(string)) {
		t.Errorf("INVOKE = %v", evs[0])
	}
	if len(inv) != 5 {
		t.Errorf("INVOKE has fields %v", inv)
	}
	sd := evs[1]["body"].(map[string]any)
	if sd["eventType"] != "SHUTDOWN" || sd["shutdownReason"] != "spindown" || len(sd) != 3 ||
		int64(sd["deadlineMs"].(float64)) < before.Add(2*time.Second).UnixMilli() {
		t.Errorf("SHUTDOWN = %v", sd)
	}
	if len(recordsOf(recs, "exit")) != 1 {
		t.Errorf("extension did not exit on SHUTDOWN: %v", recs)
	}
	// An extension registered for no events gets none, and is killed at shutdown.
	if evs := recordsOf(readRecords(t, otherRec), "event"); len(evs) != 0 {
		t.Errorf("quiet extension got %v", evs)
	}

	// Telemetry reached the extension's listener through sandbox.localdomain → loopback: init events
	// replayed, the invocation's events, and the function's log lines.
	seen := map[string]int{}
	var lines []string
	for _, r := range recordsOf(recs, "telemetry") {
		for _, e := range r["body"].([]any) {
			ev := e.(map[string]any)
			seen[ev["type"].(string)]++
			if ev["type"] == "function" {
				lines = append(lines, ev["record"].(string))
			}
		}
	}
	for _, typ := range []string{"platform.initStart", "platform.telemetrySubscription", "platform.initRuntimeDone",
		"platform.extension", "platform.initReport", "platform.start", "platform.runtimeDone", "platform.report"} {
		if seen[typ] == 0 {
			t.Errorf("extension never received %s; got %v", typ, seen)
		}
	}
	for i := range 3 {
		want := "log line " + string(rune('0'+i))
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("function log %q not delivered; got %q", want, lines)
		}
		if !strings.Contains(out.String(), "] "+want) {
			t.Errorf("LogOutput lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "["+s.ID()+" recorder] extension recorder starting") {
		t.Errorf("LogOutput lacks the extension's output: %q", out.String())
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestExtensionInitError(t *testing.T) {
	ext, rec := testExtension(t, "failing", "-mode", "init-error")
	_, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext)})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Extension.InitError" {
		t.Fatalf("Start = %v", err)
	}
	if post := recordsOf(readRecords(t, rec), "post"); len(post) != 1 || post[0]["status"] != 202.0 {
		t.Errorf("init/error post = %v", post)
	}
	if ir := log.find("platform.initReport")[0].Record; ir["errorType"] != "Extension.InitError" || ir["status"] != "error" {
		t.Errorf("initReport = %v", ir)
	}
}

func TestExtensionCrashResetsTheEnvironment(t *testing.T) {
	for _, tc := range []struct{ mode, errType string }{
		{"crash-on-invoke", "Extension.Crash"},
		{"exit-error", "Extension.ExitError"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ext, _ := testExtension(t, "crasher", "-mode", tc.mode)
			s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext)})
			if err != nil {
				t.Fatal(err)
			}
			invoke(t, s, `{"mode":"sleep","ms":100}`)
			rp := log.find("platform.report")[0].Record
			if rp["errorType"] != tc.errType || rp["status"] != "error" {
				t.Errorf("report = %v", rp)
			}
			if res := invoke(t, s, `{"mode":"sleep","ms":100}`); !res.ColdStart {
				t.Errorf("after the crash: %+v", res)
			}
		})
	}
}

func TestCrashBetweenInvocations(t *testing.T) {
	ext, _ := testExtension(t, "flaky", "-mode", "exit-when-idle")
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext)})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"echo"}`)
	if res.Status != "success" {
		t.Fatalf("first invocation: %+v", res)
	}
	s.mu.Lock()
	c := s.cyc
	var em *member
	for _, m := range c.members {
		if m.kind == "extension" {
			em = m
		}
	}
	s.mu.Unlock()
	<-em.exited
	<-c.dead // the idle environment resets on its own
	res = invoke(t, s, `{"mode":"echo","message":"fresh"}`)
	if !res.ColdStart || string(res.Payload) != `{"echo":"fresh"}` {
		t.Errorf("after the idle crash: %+v %s", res, res.Payload)
	}
	if starts := log.find("platform.initStart"); len(starts) != 2 || starts[1].Record["phase"] != "invoke" {
		t.Errorf("initStart = %v", starts)
	}
}

func TestRegistrationNeedsEveryExternalExtension(t *testing.T) {
	// An extension that never registers holds init until the timeout.
	ext, _ := testExtension(t, "silent", "-mode", "no-register")
	_, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext), InitTimeout: 500 * time.Millisecond})
	var ie *InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Sandbox.Timeout" {
		t.Fatalf("Start = %v", err)
	}
}

// apiCall is one raw request against a sandbox API and the answer expected.
type apiCall struct {
	name       string
	method     string
	path       string
	header     map[string]string
	body       string
	wantStatus int
	wantType   string
}

func doCall(api string, c apiCall) (int, string, http.Header, error) {
	req, err := http.NewRequest(c.method, "http://"+api+c.path, strings.NewReader(c.body))
	if err != nil {
		return 0, "", nil, err
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	if t, _, ok := parseErrorBody(b); ok {
		eb.ErrorType = t
	}
	return resp.StatusCode, eb.ErrorType, resp.Header, nil
}

// TestExtensionsAPIErrors drives every Extensions API error from an in-process extension during
// init (when registration is still open) and from the test after init.
func TestExtensionsAPIErrors(t *testing.T) {
	type result struct {
		call         apiCall
		status       int
		errType, err string
	}
	results := make(chan result, 64)
	gate := t.TempDir() + "/registered"
	registered := make(chan string, 1)
	runner := &InProcessExtension{Name: "prober", Run: func(ctx context.Context, api string) error {
		run := func(c apiCall) (http.Header, int) {
			st, typ, h, err := doCall(api, c)
			r := result{call: c, status: st, errType: typ}
			if err != nil {
				r.err = err.Error()
			}
			results <- r
			return h, st
		}
		reg := func(name, body string) apiCall {
			return apiCall{name: "register " + name, method: "POST", path: "/2020-01-01/extension/register",
				header: map[string]string{hdrExtName: name}, body: body, wantStatus: 200}
		}
		h, _ := run(reg("prober", `{"events":["INVOKE","SHUTDOWN"]}`))
		id := h.Get(hdrExtID)
		registered <- id
		for _, c := range []apiCall{
			{name: "register without name", method: "POST", path: "/2020-01-01/extension/register", body: `{"events":[]}`, wantStatus: 403, wantType: extErrInvalidName},
			{name: "register bad json", method: "POST", path: "/2020-01-01/extension/register", header: map[string]string{hdrExtName: "x"}, body: `{"events":`, wantStatus: 403, wantType: errInvalidFormat},
			{name: "register bad event", method: "POST", path: "/2020-01-01/extension/register", header: map[string]string{hdrExtName: "x"}, body: `{"events":["INVOKE","RESTORE"]}`, wantStatus: 403, wantType: extErrInvalidEvent},
			{name: "internal SHUTDOWN", method: "POST", path: "/2020-01-01/extension/register", header: map[string]string{hdrExtName: "internal-x"}, body: `{"events":["SHUTDOWN"]}`, wantStatus: 403, wantType: extErrInvalidEvent},
			{name: "register duplicate", method: "POST", path: "/2020-01-01/extension/register", header: map[string]string{hdrExtName: "prober"}, body: `{"events":[]}`, wantStatus: 403, wantType: extErrState},
			{name: "next without id", method: "GET", path: "/2020-01-01/extension/event/next", wantStatus: 403, wantType: extErrMissingID},
			{name: "next bad id", method: "GET", path: "/2020-01-01/extension/event/next", header: map[string]string{hdrExtID: "not-a-uuid"}, wantStatus: 403, wantType: extErrInvalidID},
			{name: "next unknown id", method: "GET", path: "/2020-01-01/extension/event/next", header: map[string]string{hdrExtID: "00000000-0000-4000-8000-000000000000"}, wantStatus: 403, wantType: extErrUnknownID},
			{name: "init error without type", method: "POST", path: "/2020-01-01/extension/init/error", header: map[string]string{hdrExtID: id}, wantStatus: 403, wantType: extErrMissingHdr},
			{name: "exit error without type", method: "POST", path: "/2020-01-01/extension/exit/error", header: map[string]string{hdrExtID: id}, wantStatus: 403, wantType: extErrMissingHdr},
			{name: "exit error without id", method: "POST", path: "/2020-01-01/extension/exit/error", header: map[string]string{hdrExtErrorType: "X.Y"}, wantStatus: 403, wantType: extErrMissingID},
			{name: "telemetry without id", method: "PUT", path: "/2022-07-01/telemetry", body: `{}`, wantStatus: 403, wantType: extErrMissingID},
			{name: "telemetry bad id", method: "PUT", path: "/2022-07-01/telemetry", header: map[string]string{hdrExtID: "zzz"}, body: `{}`, wantStatus: 403, wantType: extErrInvalidID},
			{name: "telemetry bad body", method: "PUT", path: "/2022-07-01/telemetry", header: map[string]string{hdrExtID: id}, body: `{"schemaVersion":"1999-01-01"}`, wantStatus: 400, wantType: "ValidationError"},
		} {
			run(c)
		}
		// Nine internal extensions fill the limit of ten; the eleventh is refused.
		var ids []string
		for i := range 9 {
			h, _ := run(reg("internal-"+string(rune('a'+i)), `{"events":["INVOKE"]}`))
			ids = append(ids, h.Get(hdrExtID))
		}
		run(apiCall{name: "register eleventh", method: "POST", path: "/2020-01-01/extension/register",
			header: map[string]string{hdrExtName: "internal-k"}, body: `{}`, wantStatus: 403, wantType: extErrTooMany})
		close(results)
		if err := writeFile(gate); err != nil {
			return err
		}
		// Every registered extension must reach /event/next for init to end; the internal ones
		// answer INVOKE events until the environment goes away.
		for _, iid := range append(ids, id) {
			go func() {
				for {
					st, _, _, err := doCall(api, apiCall{method: "GET", path: "/2020-01-01/extension/event/next", header: map[string]string{hdrExtID: iid}})
					if err != nil || st != 200 || ctx.Err() != nil {
						return
					}
				}
			}()
		}
		<-ctx.Done()
		return nil
	}}
	fn := processFunction(map[string]string{"TESTFN_INIT": "wait-file:" + gate}, runner)
	s, _, err := startSandbox(t, SandboxConfig{Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	for r := range results {
		if r.err != "" || r.status != r.call.wantStatus || r.errType != r.call.wantType {
			t.Errorf("%s: got %d %q %s, want %d %q", r.call.name, r.status, r.errType, r.err, r.call.wantStatus, r.call.wantType)
		}
	}
	id := <-registered
	// After init: registration and subscriptions are closed; init/error is refused; a second
	// concurrent /event/next is a bad transition.
	for _, c := range []apiCall{
		{name: "register after init", method: "POST", path: "/2020-01-01/extension/register", header: map[string]string{hdrExtName: "late"}, body: `{}`, wantStatus: 403, wantType: extErrRegClosed},
		{name: "telemetry after init", method: "PUT", path: "/2022-07-01/telemetry", header: map[string]string{hdrExtID: id},
			body:       `{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1234/"},"types":["platform"]}`,
			wantStatus: 403, wantType: "Telemetry.SubscriptionClosed"},
		{name: "init error after init", method: "POST", path: "/2020-01-01/extension/init/error", header: map[string]string{hdrExtID: id, hdrExtErrorType: "Extension.Late"}, wantStatus: 403, wantType: extErrState},
		{name: "second concurrent next", method: "GET", path: "/2020-01-01/extension/event/next", header: map[string]string{hdrExtID: id}, wantStatus: 403, wantType: extErrState},
	} {
		st, typ, _, err := doCall(s.APIAddr(), c)
		if err != nil || st != c.wantStatus || typ != c.wantType {
			t.Errorf("%s: got %d %q %v, want %d %q", c.name, st, typ, err, c.wantStatus, c.wantType)
		}
	}
	// The internal extensions take part in invocations.
	if res := invoke(t, s, `{"mode":"echo"}`); res.Status != "success" {
		t.Errorf("invoke: %+v", res)
	}
}

func TestTooManyExtensionsConfigured(t *testing.T) {
	var exts []Extension
	for i := range 11 {
		exts = append(exts, &InProcessExtension{Name: "e" + string(rune('a'+i)), Run: func(context.Context, string) error { return nil }})
	}
	if _, err := NewSandbox(SandboxConfig{Function: processFunction(nil, exts...)}); err == nil || !strings.Contains(err.Error(), "function.extensions") {
		t.Errorf("NewSandbox with 11 extensions = %v", err)
	}
}

func TestTelemetryFaultHooks(t *testing.T) {
	ext, rec := testExtension(t, "lossy", "-subscribe", "platform")
	var delays int
	var mu sync.Mutex
	hooks := &Hooks{
		DropTelemetry: func(eventType string) bool { return eventType == "platform.start" },
		DelayTelemetry: func() time.Duration {
			mu.Lock()
			delays++
			mu.Unlock()
			return time.Millisecond
		},
	}
	s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil, ext), Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	invoke(t, s, `{"mode":"echo"}`)
	shutdown(t, s, ShutdownSpindown)
	if st := s.TelemetryStats(); st.FaultDropped != 1 || st.Delivered == 0 || st.DroppedRecords != 0 {
		t.Errorf("TelemetryStats = %+v; want 1 fault drop, deliveries, no other loss", st)
	}
	seen := map[string]int{}
	for _, r := range recordsOf(readRecords(t, rec), "telemetry") {
		for _, e := range r["body"].([]any) {
			seen[e.(map[string]any)["type"].(string)]++
		}
	}
	if seen["platform.start"] != 0 || seen["platform.report"] != 1 {
		t.Errorf("delivered %v; want platform.start dropped and platform.report delivered", seen)
	}
	mu.Lock()
	defer mu.Unlock()
	if delays == 0 {
		t.Error("DelayTelemetry never consulted")
	}
}
