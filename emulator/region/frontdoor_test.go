package region

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/azlens/azlens/emulator"
)

// testEvent is what the in-process test function understands.
type testEvent struct {
	Name  string `json:"name"`
	Fail  bool   `json:"fail"`
	Block bool   `json:"block"`
}

// newTestRegion runs an in-process aws-lambda-go handler in a region; release unblocks invocations
// that asked to block, started receives one value per started invocation.
func newTestRegion(t *testing.T, cfg Config) (r *Region, release chan struct{}, started chan string) {
	t.Helper()
	release = make(chan struct{})
	started = make(chan string, 1000)
	handler := func(ctx context.Context, ev testEvent) (map[string]string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		started <- lc.AwsRequestID
		if ev.Block {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if ev.Fail {
			return nil, errors.New("failing as asked")
		}
		return map[string]string{"hello": ev.Name}, nil
	}
	if cfg.Function.Name == "" {
		cfg.Function.Name = "hello"
	}
	cfg.Function.Runtime = &emulator.InProcessRuntime{Handler: handler}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return r, release, started
}

func postInvoke(t *testing.T, url, name, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/2015-03-31/functions/"+name+"/invocations", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrontDoorInvokeAPI(t *testing.T) {
	region, _, _ := newTestRegion(t, Config{})
	srv := httptest.NewServer(NewFrontDoor(nil, region))
	t.Cleanup(srv.Close)

	t.Run("success", func(t *testing.T) {
		resp := postInvoke(t, srv.URL, "hello", `{"name":"ada"}`, nil)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := strings.TrimSpace(string(body)); got != `{"hello":"ada"}` {
			t.Errorf("body = %s", got)
		}
		if got := resp.Header.Get("X-Amz-Executed-Version"); got != "$LATEST" {
			t.Errorf("X-Amz-Executed-Version = %q", got)
		}
		if got := resp.Header.Get("X-Amz-Function-Error"); got != "" {
			t.Errorf("X-Amz-Function-Error = %q on success", got)
		}
		zone := resp.Header.Get(ZoneHeader)
		if !strings.HasPrefix(zone, "use1-az") || !strings.HasPrefix(resp.Header.Get(EnvironmentHeader), zone+"-env") {
			t.Errorf("zone %q, environment %q", zone, resp.Header.Get(EnvironmentHeader))
		}
		if resp.Header.Get("X-Amzn-RequestId") == "" {
			t.Error("no X-Amzn-RequestId")
		}
	})
	t.Run("function error", func(t *testing.T) {
		resp := postInvoke(t, srv.URL, "hello", `{"fail":true}`, nil)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
			t.Fatalf("status %d, X-Amz-Function-Error %q", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
		}
		var e struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(body, &e); err != nil || e.ErrorMessage != "failing as asked" || e.ErrorType == "" {
			t.Errorf("error body %s (%v)", body, err)
		}
	})
	t.Run("pinned zone", func(t *testing.T) {
		for range 5 {
			resp := postInvoke(t, srv.URL, "hello", `{}`, map[string]string{ZoneHeader: "use1-az2"})
			if resp.StatusCode != http.StatusOK || resp.Header.Get(ZoneHeader) != "use1-az2" {
				t.Fatalf("status %d zone %q", resp.StatusCode, resp.Header.Get(ZoneHeader))
			}
		}
	})
	t.Run("arn and qualifier", func(t *testing.T) {
		resp := postInvoke(t, srv.URL, "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST", `{}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("client context", func(t *testing.T) {
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
		resp := postInvoke(t, srv.URL, "hello", `{}`, map[string]string{"X-Amz-Client-Context": cc})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	for _, tc := range []struct {
		name, function, body string
		hdr                  map[string]string
		status               int
		errType              string
	}{
		{"unknown function", "nope", `{}`, nil, 404, "ResourceNotFoundException"},
		{"unknown qualifier", "hello:prod", `{}`, nil, 404, "ResourceNotFoundException"},
		{"invalid json", "hello", `{"name":`, nil, 400, "InvalidRequestContentException"},
		{"too large", "hello", `"` + strings.Repeat("x", maxInvokePayload) + `"`, nil, 413, "RequestTooLargeException"},
		{"bad invocation type", "hello", `{}`, map[string]string{"X-Amz-Invocation-Type": "Sometimes"}, 400, "InvalidParameterValueException"},
		{"bad client context", "hello", `{}`, map[string]string{"X-Amz-Client-Context": "%%%"}, 400, "InvalidRequestContentException"},
		{"unknown zone", "hello", `{}`, map[string]string{ZoneHeader: "use1-az9"}, 400, "InvalidParameterValueException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := postInvoke(t, srv.URL, tc.function, tc.body, tc.hdr)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.errType {
				t.Fatalf("got %d %q, want %d %q (%s)", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.status, tc.errType, body)
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || e["message"] == "" || e["__type"] != tc.errType {
				t.Errorf("error body %s (%v)", body, err)
			}
		})
	}
	t.Run("dry run", func(t *testing.T) {
		resp := postInvoke(t, srv.URL, "hello", `{}`, map[string]string{"X-Amz-Invocation-Type": "DryRun"})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestFrontDoorEventInvocationRuns(t *testing.T) {
	region, _, started := newTestRegion(t, Config{Zones: []string{"use1-az1"}})
	fd := NewFrontDoor(nil, region)
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close)
	resp := postInvoke(t, srv.URL, "hello", `{"name":"later"}`, map[string]string{"X-Amz-Invocation-Type": "Event"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("asynchronous invocation never reached the function")
	}
	if err := fd.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRegionSpreadsOverZonesAndCounts(t *testing.T) {
	region, _, _ := newTestRegion(t, Config{EnvsPerZone: 2})
	const n = 300
	seen := map[string]int{}
	for range n {
		inv, err := region.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(`{}`)}, InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-inv.Done
		seen[inv.Zone]++
	}
	var total int64
	for _, s := range region.Stats() {
		if s.Environments != 2 {
			t.Errorf("zone %s has %d environments, want 2", s.Zone, s.Environments)
		}
		// Equal weights: each zone gets a third; 50 is far below the 100 expected.
		if seen[s.Zone] < 50 || s.Invocations != int64(seen[s.Zone]) {
			t.Errorf("zone %s: served %d, counted %d", s.Zone, seen[s.Zone], s.Invocations)
		}
		total += s.Invocations
	}
	if total != n {
		t.Errorf("total %d, want %d", total, n)
	}
}

func TestRegionHonoursZeroWeightButNotForPinnedInvocations(t *testing.T) {
	region, _, _ := newTestRegion(t, Config{
		Weights: func([]string) map[string]float64 {
			return map[string]float64{"use1-az1": 1, "use1-az2": 0, "use1-az3": 1}
		},
	})
	for range 60 {
		inv, err := region.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(`{}`)}, InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-inv.Done
		if inv.Zone == "use1-az2" {
			t.Fatal("an invocation was routed to a zone shifted away")
		}
	}
	// Canaries keep probing an evacuated zone.
	inv, err := region.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(`{}`)}, InvokeOptions{Zone: "use1-az2"})
	if err != nil || inv.Zone != "use1-az2" {
		t.Fatalf("pinned invocation: %v, zone %v", err, inv)
	}
	<-inv.Done
}

func TestRegionThrottlesWhenNoEnvironmentIsFree(t *testing.T) {
	region, release, started := newTestRegion(t, Config{Zones: []string{"use1-az1"}, AcquireTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(NewFrontDoor(nil, region))
	t.Cleanup(srv.Close)

	blocked := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/2015-03-31/functions/hello/invocations", "application/json", bytes.NewBufferString(`{"block":true}`))
		if err != nil {
			t.Error(err)
		}
		blocked <- resp
	}()
	<-started // the only environment is busy now
	resp := postInvoke(t, srv.URL, "hello", `{}`, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Fatalf("got %d %q, want 429 TooManyRequestsException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	close(release)
	if r := <-blocked; r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("blocked invocation answered %v", r)
	} else {
		r.Body.Close()
	}
	// Once the environment is back in the pool, invocations succeed again.
	for {
		resp := postInvoke(t, srv.URL, "hello", `{}`, nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}
