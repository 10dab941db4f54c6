package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/hostiletest"
)

const (
	registerPath  = "/2020-01-01/extension/register"
	telemetryPath = "/2022-07-01/telemetry"
	extName       = "hostile-ext"
)

// lambdaEnv is an execution environment of an in-process function and one in-process extension
// that the test registers on its behalf, so the test holds init open for as long as it needs:
// registration is open until the extension registers (the runtime starts only then), Telemetry
// subscriptions until the extension first asks for an event.
type lambdaEnv struct {
	sb      *emulator.Sandbox
	api     string        // host:port of AWS_LAMBDA_RUNTIME_API
	id      chan string   // the extension's id, once the test registered it
	release chan struct{} // closed: the extension goes to /event/next, ending init
	started chan error    // Start's result
	handed  bool          // the extension has its id
}

func startLambdaEnv(t *testing.T) *lambdaEnv {
	t.Helper()
	e := &lambdaEnv{id: make(chan string, 1), release: make(chan struct{}), started: make(chan error, 1)}
	apiCh := make(chan string, 1)
	ext := &emulator.InProcessExtension{Name: extName, Run: func(ctx context.Context, api string) error {
		apiCh <- api
		var id string
		select {
		case id = <-e.id:
		case <-ctx.Done():
			return nil
		}
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil
		}
		return eventLoop(ctx, api, id)
	}}
	handler := func(_ context.Context, ev map[string]any) (map[string]any, error) { return ev, nil }
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name:       "hostile",
			Runtime:    &emulator.InProcessRuntime{Handler: handler},
			Extensions: []emulator.Extension{ext},
		},
		AZ:          "use1-az1",
		InitTimeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sb = sb
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	go func() { defer cancel(); e.started <- sb.Start(ctx) }()
	t.Cleanup(func() {
		// Finish the init the test may have left open, so the environment shuts down as usual.
		if !e.handed {
			e.handOver(register(t, e.api))
		}
		e.endInit()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sb.Shutdown(ctx, emulator.ShutdownSpindown); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-e.started
	})
	select {
	case e.api = <-apiCh:
	case err := <-e.started:
		t.Fatalf("start: %v", err)
	}
	return e
}

// handOver gives the extension the id the test registered it under.
func (e *lambdaEnv) handOver(id string) {
	e.id <- id
	e.handed = true
}

// endInit lets the extension ask for its first event; init ends. Idempotent.
func (e *lambdaEnv) endInit() {
	select {
	case <-e.release:
	default:
		close(e.release)
	}
}

// eventLoop is the extension after init: it waits for events until SHUTDOWN or an error.
func eventLoop(ctx context.Context, api, id string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/2020-01-01/extension/event/next", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil // the environment is going away
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || ev.EventType == "SHUTDOWN" {
			return nil
		}
	}
}

// register registers the extension as Lambda's Extensions API client would; it returns the id.
func register(t *testing.T, api string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+api+registerPath, strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Lambda-Extension-Name", extName)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("after the hostile requests, a valid registration got %d %s (id %q)", resp.StatusCode, body, id)
	}
	return id
}

// TestLambdaAPIs: the Extensions API (register), the Telemetry API (subscribe) and the Runtime
// API of one execution environment, each with its table, in the phase where each is open; and
// the environment still initialises and invokes afterwards.
func TestLambdaAPIs(t *testing.T) {
	e := startLambdaEnv(t)
	base := "http://" + e.api
	named := func(kv ...string) map[string]string {
		return with(append([]string{"Lambda-Extension-Name", extName}, kv...)...)
	}
	var id string
	t.Run("extensions API", func(t *testing.T) {
		cases := []hostiletest.Case{
			{Name: "missing name", Method: http.MethodPost, Path: registerPath, Header: jsonCT,
				Body: []byte(`{"events":["INVOKE"]}`), Status: http.StatusForbidden, Message: "missing header Lambda-Extension-Name"},
			{Name: "oversized body", Method: http.MethodPost, Path: registerPath, Header: named(),
				Body: bytes.Repeat([]byte(" "), 1<<20+1), Status: http.StatusForbidden, Message: "register body: unreadable or larger than 1 MiB", MaxAlloc: smallAlloc},
			{Name: "wrong method", Method: http.MethodGet, Path: registerPath, Header: named(),
				Status: http.StatusMethodNotAllowed, Message: "Method Not Allowed", Want: map[string]string{"Allow": "POST"}},
			{Name: "wrong content type", Method: http.MethodPost, Path: registerPath, Header: map[string]string{"Lambda-Extension-Name": extName, "Content-Type": "text/plain"},
				Body: []byte("INVOKE"), Status: http.StatusForbidden, Message: "register body:"},
			{Name: "truncated json", Method: http.MethodPost, Path: registerPath, Header: named(),
				Body: []byte(`{"events":["INVOKE"`), Status: http.StatusForbidden, Message: "register body:"},
			{Name: "gzip bomb", Method: http.MethodPost, Path: registerPath, Header: named("Content-Encoding", "gzip"),
				Body: gzipBomb(), Status: http.StatusForbidden, Message: "register body:", MaxAlloc: smallAlloc},
			{Name: "deep json", Method: http.MethodPost, Path: registerPath, Header: named(),
				Body: hostiletest.DeepJSON(100_000), Status: http.StatusForbidden, Message: "register body:", MaxAlloc: smallAlloc},
			{Name: "unknown event", Method: http.MethodPost, Path: registerPath, Header: named(),
				Body: []byte(`{"events":["REBOOT"]}`), Status: http.StatusForbidden, Message: `unknown event type \"REBOOT`},
			{Name: "client dies mid-body", Method: http.MethodPost, Path: registerPath, Header: named(), Body: []byte(`{"events":`), Abort: true},
		}
		hostiletest.Run(t, base, cases, hostiletest.Case{})
		id = register(t, e.api)
	})
	if t.Failed() {
		t.FailNow()
	}
	e.handOver(id)
	t.Run("telemetry API", func(t *testing.T) {
		// The destination: the environment's loopback, as the agent's listener.
		dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		t.Cleanup(dest.Close)
		hdr := func(kv ...string) map[string]string {
			return with(append([]string{"Lambda-Extension-Identifier", id}, kv...)...)
		}
		cases := []hostiletest.Case{
			{Name: "missing id", Method: http.MethodPut, Path: telemetryPath, Header: jsonCT,
				Body: []byte(`{}`), Status: http.StatusForbidden, Message: "missing header Lambda-Extension-Identifier"},
			{Name: "unknown id", Method: http.MethodPut, Path: telemetryPath, Header: with("Lambda-Extension-Identifier", "3f9a1c2e-0000-4000-8000-000000000000"),
				Body: []byte(`{}`), Status: http.StatusForbidden, Message: "unknown extension"},
			{Name: "oversized body", Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
				Body: bytes.Repeat([]byte(" "), 1<<20+1), Status: http.StatusBadRequest, Message: "subscription body: unreadable or larger than 1 MiB", MaxAlloc: smallAlloc},
			{Name: "wrong method", Method: http.MethodPost, Path: telemetryPath, Header: hdr(), Body: []byte(`{}`),
				Status: http.StatusMethodNotAllowed, Message: "Method Not Allowed", Want: map[string]string{"Allow": "PUT"}},
			{Name: "wrong content type", Method: http.MethodPut, Path: telemetryPath, Header: map[string]string{"Lambda-Extension-Identifier": id, "Content-Type": "text/plain"},
				Body: []byte("platform"), Status: http.StatusBadRequest, Message: "request body must be a json object"},
			{Name: "truncated json", Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
				Body: []byte(`{"schemaVersion":"2022-12-13","destination":{`), Status: http.StatusBadRequest, Message: "request body must be a json object"},
			{Name: "gzip bomb", Method: http.MethodPut, Path: telemetryPath, Header: hdr("Content-Encoding", "gzip"),
				Body: gzipBomb(), Status: http.StatusBadRequest, Message: "request body must be a json object", MaxAlloc: smallAlloc},
			{Name: "deep json", Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
				Body: hostiletest.DeepJSON(100_000), Status: http.StatusBadRequest, Message: "request body must be a json object", MaxAlloc: smallAlloc},
			{Name: "deep buffering", Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
				Body:   []byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1/"},"buffering":` + string(hostiletest.DeepJSON(100_000)) + `}`),
				Status: http.StatusBadRequest, Message: "request body must be a json object", MaxAlloc: smallAlloc},
			{Name: "wrong field type", Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
				Body: []byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1/"},"types":"platform"}`), Status: http.StatusBadRequest, Message: "types"},
			{Name: "client dies mid-body", Method: http.MethodPut, Path: telemetryPath, Header: hdr(), Body: []byte(`{"schemaVersion":`), Abort: true},
		}
		_, p, _ := strings.Cut(dest.Listener.Addr().String(), ":")
		ok := hostiletest.Case{Method: http.MethodPut, Path: telemetryPath, Header: hdr(),
			Body:   []byte(fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%s/"},"types":["platform"]}`, p)),
			Status: http.StatusOK}
		hostiletest.Run(t, base, cases, ok)
	})
	e.endInit()
	if err := <-e.started; err != nil {
		t.Fatalf("init after the hostile requests: %v", err)
	}
	e.started <- nil // for the cleanup
	t.Run("runtime API", func(t *testing.T) {
		const bogus = "/2018-06-01/runtime/invocation/7d2e6a8c-0000-4000-8000-000000000000"
		cases := []hostiletest.Case{
			{Name: "oversized response of no invocation", Method: http.MethodPost, Path: bogus + "/response", Header: jsonCT,
				Body: bytes.Repeat([]byte(" "), 6<<20+1), Status: http.StatusBadRequest, Message: "invalid request id", MaxAlloc: smallAlloc},
			{Name: "wrong method", Method: http.MethodGet, Path: bogus + "/response",
				Status: http.StatusMethodNotAllowed, Message: "Method Not Allowed", Want: map[string]string{"Allow": "POST"}},
			{Name: "deep json error of no invocation", Method: http.MethodPost, Path: bogus + "/error", Header: jsonCT,
				Body: hostiletest.DeepJSON(100_000), Status: http.StatusBadRequest, Message: "invalid request id", MaxAlloc: smallAlloc},
			{Name: "gzip bomb as init error after init", Method: http.MethodPost, Path: "/2018-06-01/runtime/init/error", Header: with("Content-Encoding", "gzip"),
				Body: gzipBomb(), Status: http.StatusForbidden, Message: "init error is accepted only during init", MaxAlloc: smallAlloc},
			{Name: "metadata wrong method", Method: http.MethodPost, Path: "/2026-01-15/metadata/execution-environment",
				Status: http.StatusMethodNotAllowed, Message: "use GET", Want: map[string]string{"Allow": "GET"}},
			{Name: "client dies mid-body", Method: http.MethodPost, Path: bogus + "/response", Header: jsonCT, Body: []byte(`{"a":`), Abort: true},
		}
		ok := hostiletest.Case{Method: http.MethodPost, Path: "/2018-06-01/runtime/init/error", Header: jsonCT,
			Body: []byte(`{"errorMessage":"late","errorType":"Late"}`), Status: http.StatusForbidden}
		hostiletest.Run(t, base, cases, ok)
	})
	// The runtime and the extension still speak their APIs: an invocation goes through.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.sb.Invoke(ctx, &emulator.InvokeRequest{Payload: []byte(`{"after":"hostile"}`)})
	if err != nil || res.Status != "success" {
		t.Fatalf("invoke after the hostile requests: %v %+v", err, res)
	}
	<-res.Done
}
