package emulator

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// failingReader fails mid-body, like a handler's response stream that errors: aws-lambda-go then
// reports the error in trailers after the body.
type failingReader struct {
	r       io.Reader
	trailer http.Header
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		f.trailer.Set(hdrFuncErrorType, "Function.StreamBroke")
		f.trailer.Set(hdrFuncErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"broke","errorType":"Function.StreamBroke"}`)))
	}
	return n, err
}

// TestErrorTypeFromTrailersAndHeader answers invocations by hand from inside the handler (which
// holds the invocation), the way aws-lambda-go and other runtimes do on the wire.
func TestErrorTypeFromTrailersAndHeader(t *testing.T) {
	var api string
	handler := func(ctx context.Context, mode string) (string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		base := "http://" + api + "/2018-06-01/runtime/invocation/" + lc.AwsRequestID
		var req *http.Request
		switch mode {
		case "trailer":
			fr := &failingReader{r: strings.NewReader(`{"partial":`), trailer: http.Header{hdrFuncErrorType: nil, hdrFuncErrorBody: nil}}
			req, _ = http.NewRequest(http.MethodPost, base+"/response", fr)
			req.Trailer = fr.trailer
		case "header":
			req, _ = http.NewRequest(http.MethodPost, base+"/error", strings.NewReader(`{"errorMessage":"m","errorType":"ignored"}`))
			req.Header.Set(hdrFuncErrorType, "Function.FromHeader")
		case "not-json":
			req, _ = http.NewRequest(http.MethodPost, base+"/error", strings.NewReader(`plain text failure`))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return "", errors.New(resp.Status)
		}
		return "late", nil // refused (400): this in-process runtime then exits, like aws-lambda-go
	}
	s, log, err := startSandbox(t, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: handler}}})
	if err != nil {
		t.Fatal(err)
	}
	api = s.APIAddr()
	for _, tc := range []struct{ mode, errType, payload string }{
		{"trailer", "Function.StreamBroke", `{"errorMessage":"broke","errorType":"Function.StreamBroke"}`},
		{"header", "Function.FromHeader", `{"errorMessage":"m","errorType":"ignored"}`},
		{"not-json", "Runtime.Unknown", `{"errorMessage":"plain text failure","errorType":"Runtime.Unknown"}`},
	} {
		res := invoke(t, s, `"`+tc.mode+`"`)
		if res.ErrorType != tc.errType || res.FunctionError != "Unhandled" || string(res.Payload) != tc.payload {
			t.Errorf("%s: %+v %s", tc.mode, res, res.Payload)
		}
	}
	if n := len(log.find("platform.report")); n != 3 {
		t.Errorf("reports = %d", n)
	}
}

func TestInvocationsAreSerialised(t *testing.T) {
	var mu sync.Mutex
	running, most := 0, 0
	release := make(chan struct{})
	handler := func() (string, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return "ok", nil
	}
	s, _, err := startSandbox(t, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: handler}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan *InvokeResult, 4)
	for range 4 {
		wg.Go(func() {
			res, err := s.Invoke(context.Background(), &InvokeRequest{})
			if err != nil {
				t.Error(err)
				return
			}
			<-res.Done
			results <- res
		})
	}
	for range 4 {
		release <- struct{}{}
	}
	wg.Wait()
	close(results)
	n := 0
	for res := range results {
		n++
		if string(res.Payload) != `"ok"` {
			t.Errorf("result %s", res.Payload)
		}
	}
	if n != 4 || most != 1 {
		t.Errorf("%d results, at most %d running at once", n, most)
	}
}

func TestShutdownDuringAnInvocation(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *InvokeResult, 1)
	go func() {
		r, _ := s.Invoke(ctx, &InvokeRequest{Payload: []byte(`{"mode":"sleep","ms":60000}`)})
		done <- r
	}()
	log.waitFor(t, "platform.start", func(e tapped) bool { return e.Type == "platform.start" })
	// A Shutdown whose context is already over does not wait for the invocation: it kills it.
	sctx, scancel := context.WithCancel(context.Background())
	scancel()
	if err := s.Shutdown(sctx, ShutdownSpindown); err != nil {
		t.Fatal(err)
	}
	r := <-done
	cancel()
	if r == nil || r.Status != "failure" || r.ErrorType != "Sandbox.Failure" {
		t.Errorf("interrupted invocation: %+v", r)
	}
	<-r.Done
}

func TestJSONLogFormat(t *testing.T) {
	ext, rec := testExtension(t, "json-logs", "-subscribe", "platform,function")
	fn := processFunction(nil, ext)
	fn.LogFormat = "JSON"
	s, _, err := startSandbox(t, SandboxConfig{Function: fn})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range []string{`{"mode":"jsonlog","n":2}`, `{"mode":"log","n":2}`, `{"mode":"log","n":2}`} {
		ids = append(ids, invoke(t, s, p).RequestID)
	}
	shutdown(t, s, ShutdownSpindown)
	// Records arrive in emission order: each invocation's log lines between its platform.start
	// and platform.runtimeDone; plain lines wrapped with the request id active when printed.
	var current string
	var slogLines, wrapped int
	for _, r := range recordsOf(readRecords(t, rec), "telemetry") {
		for _, e := range r["body"].([]any) {
			ev := e.(map[string]any)
			switch ev["type"] {
			case "platform.start":
				current = ev["record"].(map[string]any)["requestId"].(string)
			case "platform.runtimeDone":
				current = ""
			case "function":
				rec, ok := ev["record"].(map[string]any)
				if !ok {
					t.Fatalf("JSON-format record is not an object: %v", ev)
				}
				if current == "" {
					t.Errorf("log record outside an invocation: %v", rec)
				}
				if rec["msg"] == "json line" {
					slogLines++
					continue
				}
				wrapped++
				if rec["requestId"] != current || !strings.HasPrefix(rec["message"].(string), "log line") {
					t.Errorf("wrapped record %v, want requestId %s", rec, current)
				}
			}
		}
	}
	if slogLines != 2 || wrapped != 4 {
		t.Errorf("JSON lines %d, wrapped lines %d; want 2 and 4 (requests %v)", slogLines, wrapped, ids)
	}
}
