package zonalshiftexporter

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
)

// sigV4 is the form of the Authorization header of an ARC request signed with the dummy static
// credentials awsTestEnv puts in the environment: scoped to the region and ARC's signing name.
var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/arc-zonal-shift/aws4_request, ` +
	`SignedHeaders=([a-z0-9-]+;)*host(;[a-z0-9-]+)*, Signature=[0-9a-f]{64}$`)

// TestRequestsAreSigned: with static credentials in the default chain, every API call the
// exporter makes carries a well-formed SigV4 Authorization header and its X-Amz-Date.
func TestRequestsAreSigned(t *testing.T) {
	en := newEnv(t)
	var mu sync.Mutex
	var seen []http.Header
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		return false
	}
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	en.push(e, healthy(en.clk.Now()))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 { // list, start, list, cancel
		t.Fatalf("%d requests, want at least 3", len(seen))
	}
	for i, h := range seen {
		if a := h.Get("Authorization"); !sigV4.MatchString(a) {
			t.Errorf("request %d: Authorization %q is not a SigV4 header for arc-zonal-shift in us-east-1", i, a)
		}
		if d := h.Get("X-Amz-Date"); !regexp.MustCompile(`^\d{8}T\d{6}Z$`).MatchString(d) {
			t.Errorf("request %d: X-Amz-Date %q", i, d)
		}
	}
}

// TestSDKRetries: a 503 is retried by the SDK's standard retryer inside one push.
func TestSDKRetries(t *testing.T) {
	en := newEnv(t)
	var failed atomic.Bool
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if failed.CompareAndSwap(false, true) {
			w.Header().Set("X-Amzn-ErrorType", "InternalServerException")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"__type":"InternalServerException","message":"try again"}`))
			return true
		}
		return false
	}
	e := en.exporter(func(c *Config) { c.MaxAttempts = 2 })
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	if !failed.Load() || len(en.active("fn")) != 1 {
		t.Fatalf("after a 503 and the SDK's retry: failed %v, active %+v", failed.Load(), en.active("fn"))
	}
}

// TestRealARCEndpoint: without an endpoint the SDK resolves ARC's own endpoint for the region.
func TestRealARCEndpoint(t *testing.T) {
	awsTestEnv(t)
	var host atomic.Value
	cfg := createDefaultConfig().(*Config)
	cfg.Region, cfg.MaxAttempts = "eu-west-1", 1
	c, err := newAPIClient(context.Background(), cfg, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		host.Store(r.URL.Scheme + "://" + r.URL.Host)
		return answer{200, []byte(`{"items":[]}`)}.RoundTrip(r)
	})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.listActive(context.Background(), "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1"); err != nil {
		t.Fatal(err)
	}
	if got := host.Load(); got != "https://arc-zonal-shift.eu-west-1.amazonaws.com" {
		t.Errorf("real ARC endpoint = %v", got)
	}
	// No region anywhere and no endpoint: a clear error at start, not a request to nowhere.
	t.Setenv("AWS_REGION", "")
	cfg.Region = ""
	e, err := newShiftExporter(cfg, componenttest.NewNopTelemetrySettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.start(context.Background(), componenttest.NewNopHost()); err == nil || !regexp.MustCompile(`region must be set`).MatchString(err.Error()) {
		t.Errorf("start without a region: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
