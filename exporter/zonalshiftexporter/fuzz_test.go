package zonalshiftexporter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/azlens/azlens/internal/clock/clocktest"
)

// answer is an http.RoundTripper that answers every request with the fuzzer's bytes: the API's
// answers are the outside bytes the AWS SDK parses for this exporter, and what the exporter makes
// of the SDK's result (retryable or permanent) must hold for any of them. (Not a stand-in for
// the API's behaviour — the other tests use the real emulator handler.)
type answer struct {
	status int
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: a.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(a.body)),
		Request:    r,
	}, nil
}

func FuzzAPIResponse(f *testing.F) {
	f.Add(200, []byte(`{"items":[{"zonalShiftId":"x","resourceIdentifier":"fn","awayFrom":"use1-az1","status":"ACTIVE","shiftType":"ZONAL_SHIFT","comment":""}]}`))
	f.Add(200, []byte(`{"items":[{"zonalShiftId":"x","resourceIdentifier":"fn","awayFrom":"use1-az1","status":"ACTIVE","shiftType":"ZONAL_SHIFT","comment":"azlens-zonalshift: evacuate use1-az1"}],"nextToken":"t"}`))
	f.Add(200, []byte(`{"items":[{"zonalShiftId":"x","startTime":"yesterday"}]}`))
	f.Add(200, []byte(`{"items":null}`))
	f.Add(200, []byte(`{"zonalShiftId":1}`))
	f.Add(400, []byte(`{"__type":"ValidationException","message":"awayFrom is required"}`))
	f.Add(409, []byte(`{"__type":"com.amazonaws#ConflictException","message":"exists"}`))
	f.Add(429, []byte(``))
	f.Add(500, []byte(`<html>`))
	awsTestEnv(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		tel := componenttest.NewNopTelemetrySettings()
		cfg := createDefaultConfig().(*Config)
		cfg.Endpoint, cfg.MaxAttempts = "http://api", 1
		e, err := newShiftExporter(cfg, tel, clocktest.NewClock(t0))
		if err != nil {
			t.Fatal(err)
		}
		if e.client, err = newAPIClient(context.Background(), cfg, &http.Client{Transport: answer{status, body}}); err != nil {
			t.Fatal(err)
		}
		for _, md := range []func() error{
			func() error { return e.pushMetrics(context.Background(), evacuate(t0, "use1-az1")) },
			func() error { return e.pushMetrics(context.Background(), healthy(t0.Add(1))) },
		} {
			err := md()
			switch {
			case status/100 == 2:
				// Any error from a 2xx is an undecodable answer: permanent.
				if err != nil && !consumererror.IsPermanent(err) {
					t.Fatalf("2xx gave a retryable error: %v", err)
				}
			case status >= 500 || status == 404 || status == 409 || status == 408 || status == 429:
				if err == nil || consumererror.IsPermanent(err) {
					t.Fatalf("%d: err = %v, want retryable", status, err)
				}
			default:
				if err == nil || !consumererror.IsPermanent(err) {
					t.Fatalf("%d: err = %v, want permanent", status, err)
				}
			}
		}
	})
}
