package emulator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// TestRuntimeAPIErrors drives the Runtime API's error answers. The calls made while an invocation
// is in flight come from inside the handler of an in-process runtime (which is then the "runtime
// holding an invocation"); the others from the test.
func TestRuntimeAPIErrors(t *testing.T) {
	type got struct {
		name, errType string
		status, want  int
		wantType      string
	}
	var during []got
	var api string
	handler := func(ctx context.Context, _ map[string]any) (string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		for _, c := range []apiCall{
			{name: "next while invoking", method: "GET", path: "/2018-06-01/runtime/invocation/next", wantStatus: 403, wantType: errInvalidState},
			{name: "response for another id", method: "POST", path: "/2018-06-01/runtime/invocation/00000000-0000-4000-8000-000000000000/response", body: `{}`, wantStatus: 400, wantType: errInvalidRequestID},
			{name: "error for another id", method: "POST", path: "/2018-06-01/runtime/invocation/nope/error", body: `{}`, wantStatus: 400, wantType: errInvalidRequestID},
			{name: "init error after init", method: "POST", path: "/2018-06-01/runtime/init/error", body: `{}`, wantStatus: 403, wantType: errInvalidState},
			{name: "too large response", method: "POST", path: "/2018-06-01/runtime/invocation/" + lc.AwsRequestID + "/response", body: strings.Repeat("x", maxPayload+1), wantStatus: 413, wantType: errEntityTooLarge},
			{name: "response after the too large one", method: "POST", path: "/2018-06-01/runtime/invocation/" + lc.AwsRequestID + "/response", body: `{}`, wantStatus: 400, wantType: errInvalidRequestID},
		} {
			st, typ, _, err := doCall(api, c)
			if err != nil {
				return "", err
			}
			during = append(during, got{c.name, typ, st, c.wantStatus, c.wantType})
		}
		return "ignored", nil
	}
	// The function timeout is only a failure deadline here: a 6 MiB upload under -race on a loaded
	// machine can take longer than the default 3 s.
	s, err := NewSandbox(SandboxConfig{Function: Function{Timeout: time.Minute, Runtime: &InProcessRuntime{Handler: handler}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background(), ShutdownSpindown) })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	api = s.APIAddr()
	res := invoke(t, s, `{}`)
	for _, g := range during {
		if g.status != g.want || g.errType != g.wantType {
			t.Errorf("%s: got %d %q, want %d %q", g.name, g.status, g.errType, g.want, g.wantType)
		}
	}
	if len(during) != 6 {
		t.Fatalf("handler made %d calls", len(during))
	}
	// The oversized response failed the invocation; the handler's own answer came too late.
	if res.ErrorType != "Function.ResponseSizeTooLarge" || res.FunctionError != "Unhandled" || res.Status != "error" {
		t.Errorf("result = %+v %s", res, res.Payload)
	}
}

func TestRuntimeAPIErrorsBetweenInvocations(t *testing.T) {
	s, err := NewSandbox(SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: func() (string, error) { return "ok", nil }}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background(), ShutdownSpindown) })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{}`)
	for _, c := range []apiCall{
		{name: "response after the end", method: "POST", path: "/2018-06-01/runtime/invocation/" + res.RequestID + "/response", body: `{}`, wantStatus: 400, wantType: errInvalidRequestID},
		{name: "error after the end", method: "POST", path: "/2018-06-01/runtime/invocation/" + res.RequestID + "/error", body: `{}`, wantStatus: 400, wantType: errInvalidRequestID},
		{name: "second next", method: "GET", path: "/2018-06-01/runtime/invocation/next", wantStatus: 403, wantType: errInvalidState},
		{name: "init error", method: "POST", path: "/2018-06-01/runtime/init/error", wantStatus: 403, wantType: errInvalidState},
		{name: "wrong method", method: "PUT", path: "/2018-06-01/runtime/invocation/next", wantStatus: 405},
	} {
		st, typ, _, err := doCall(s.APIAddr(), c)
		if err != nil || st != c.wantStatus || typ != c.wantType {
			t.Errorf("%s: got %d %q %v, want %d %q", c.name, st, typ, err, c.wantStatus, c.wantType)
		}
	}
	// None of that disturbed the runtime.
	if res := invoke(t, s, `{}`); string(res.Payload) != `"ok"` || res.ColdStart {
		t.Errorf("after the probes: %+v %s", res, res.Payload)
	}
}

func TestResponseTooLargeFromARealFunction(t *testing.T) {
	s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"big","n":7340032}`)
	if res.ErrorType != "Function.ResponseSizeTooLarge" || res.FunctionError != "Unhandled" {
		t.Errorf("result = %+v", res)
	}
	if _, err := s.Invoke(context.Background(), &InvokeRequest{Payload: make([]byte, maxPayload+1)}); !errors.Is(err, ErrRequestTooLarge) {
		t.Errorf("oversized request: %v", err)
	}
}

func TestMetadataEndpoint(t *testing.T) {
	s, _, err := startSandbox(t, SandboxConfig{Function: processFunction(nil), AZ: "euw1-az3"})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"metadata"}`)
	var got struct {
		Status       int    `json:"status"`
		Body         string `json:"body"`
		CacheControl string `json:"cacheControl"`
	}
	mustJSON(t, res.Payload, &got)
	if got.Status != 200 || got.Body != `{"AvailabilityZoneID":"euw1-az3"}` || got.CacheControl != "private, max-age=43200, immutable" {
		t.Errorf("from the function: %+v", got)
	}
	for _, c := range []apiCall{
		{name: "no token", method: "GET", path: metadataPath, wantStatus: 401, wantType: "Unauthorized"},
		{name: "bad token", method: "GET", path: metadataPath, header: map[string]string{"Authorization": "Bearer nope"}, wantStatus: 401, wantType: "Unauthorized"},
		{name: "not bearer", method: "GET", path: metadataPath, header: map[string]string{"Authorization": s.token}, wantStatus: 401, wantType: "Unauthorized"},
		{name: "POST", method: "POST", path: metadataPath, header: map[string]string{"Authorization": "Bearer " + s.token}, wantStatus: 405, wantType: "MethodNotAllowed"},
		{name: "ok", method: "GET", path: metadataPath, header: map[string]string{"Authorization": "Bearer " + s.token}, wantStatus: 200},
	} {
		st, typ, _, err := doCall(s.APIAddr(), c)
		if err != nil || st != c.wantStatus || typ != c.wantType {
			t.Errorf("%s: got %d %q %v, want %d %q", c.name, st, typ, err, c.wantStatus, c.wantType)
		}
	}
}

func TestInProcessMode(t *testing.T) {
	type in struct {
		Mode string `json:"mode"`
	}
	stuck := make(chan struct{})
	handler := func(ctx context.Context, req in) (string, error) {
		switch req.Mode {
		case "error":
			return "", errors.New("nope")
		case "panic":
			panic("in-process panic")
		case "stuck":
			// Ignores its deadline like a hung function, until the test lets go.
			<-stuck
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return lc.AwsRequestID, nil
	}
	invokes := make(chan string, 16)
	ext := &InProcessExtension{Name: "inproc-ext", Run: func(ctx context.Context, api string) error {
		return runTinyExtension(ctx, api, "inproc-ext", invokes)
	}}
	fn := Function{Timeout: 2 * time.Second, Runtime: &InProcessRuntime{Handler: handler}, Extensions: []Extension{ext}}
	s, log, err := startSandbox(t, SandboxConfig{Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		res := invoke(t, s, `{}`)
		if string(res.Payload) != `"`+res.RequestID+`"` || res.ColdStart != (i == 0) {
			t.Fatalf("invocation %d: %+v %s", i, res, res.Payload)
		}
		if got := <-invokes; got != res.RequestID {
			t.Errorf("extension saw INVOKE %s, want %s", got, res.RequestID)
		}
	}
	if res := invoke(t, s, `{"mode":"error"}`); res.ErrorType != "Runtime.Unknown" || !strings.Contains(string(res.Payload), `"errorType":"errorString"`) {
		t.Errorf("error: %+v %s", res, res.Payload)
	}
	<-invokes
	res, err := s.Invoke(context.Background(), &InvokeRequest{Payload: []byte(`{"mode":"stuck"}`)})
	if err != nil || res.Status != "timeout" || res.ErrorType != "Sandbox.Timeout" {
		t.Errorf("timeout: %+v %v", res, err)
	}
	close(stuck)
	<-res.Done
	<-invokes
	if res := invoke(t, s, `{"mode":"panic"}`); res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "in-process panic") {
		t.Errorf("panic: %+v %s", res, res.Payload)
	}
	<-invokes
	if res := invoke(t, s, `{}`); !res.ColdStart || res.Status != "success" {
		t.Errorf("after panic: %+v", res)
	}
	if n := len(log.find("platform.initStart")); n != 3 {
		t.Errorf("initStart events = %d, want 3 (start, after timeout, after panic)", n)
	}
}

// runTinyExtension is a minimal in-process extension: register for INVOKE and SHUTDOWN, report
// each INVOKE's request id, return on SHUTDOWN.
func runTinyExtension(ctx context.Context, api, name string, invokes chan<- string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2020-01-01/extension/register", strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	req.Header.Set(hdrExtName, name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	id := resp.Header.Get(hdrExtID)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/2020-01-01/extension/event/next", nil)
		req.Header.Set(hdrExtID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var ev struct {
			EventType string `json:"eventType"`
			RequestID string `json:"requestId"`
		}
		err = decodeJSON(resp, &ev)
		if err != nil {
			return err
		}
		switch ev.EventType {
		case "INVOKE":
			if invokes != nil {
				invokes <- ev.RequestID
			}
		case "SHUTDOWN":
			return nil
		}
	}
}
