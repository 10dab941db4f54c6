package emulator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type echoIn struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
}

// echoHandler is what the test function's echo mode does, for the direct-call reference.
func echoHandler(_ context.Context, in echoIn) (map[string]string, error) {
	return map[string]string{"echo": in.Message}, nil
}

var benchPayload = []byte(`{"mode":"echo","message":"hello"}`)

// directLatencies is the reference: the same handler called through aws-lambda-go's handler
// machinery, no API in between. Measured in the same run as the sandbox, as a ratio baseline.
func directLatencies(b *testing.B, n int) []time.Duration {
	h := lambda.NewHandler(echoHandler)
	ctx := context.Background()
	out := make([]time.Duration, n)
	for i := range out {
		t0 := time.Now()
		if _, err := h.Invoke(ctx, benchPayload); err != nil {
			b.Fatal(err)
		}
		out[i] = time.Since(t0)
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func benchSandbox(b *testing.B, cfg SandboxConfig) {
	s, err := NewSandbox(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background(), ShutdownSpindown)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	ref := directLatencies(b, max(b.N, 1000))
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := s.Invoke(ctx, &InvokeRequest{Payload: benchPayload})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		<-res.Done
		if res.Status != "success" {
			b.Fatalf("invocation: %+v", res)
		}
	}
	b.StopTimer()
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	r50, r99 := percentile(ref, 0.5), percentile(ref, 0.99)
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(r50.Nanoseconds()), "direct-p50-ns")
	b.ReportMetric(float64(r99.Nanoseconds()), "direct-p99-ns")
	b.ReportMetric(float64(p50)/float64(r50), "p50-ratio")
	b.ReportMetric(float64(p99)/float64(r99), "p99-ratio")
}

// BenchmarkInvokeInProcess: Invoke round trip (answer, not Done) of an in-process sandbox.
func BenchmarkInvokeInProcess(b *testing.B) {
	benchSandbox(b, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: echoHandler}}})
}

// BenchmarkInvokeInProcessWithExtension adds an INVOKE-subscribed in-process extension.
func BenchmarkInvokeInProcessWithExtension(b *testing.B) {
	ext := &InProcessExtension{Name: "bench-ext", Run: func(ctx context.Context, api string) error {
		return runTinyExtension(ctx, api, "bench-ext", nil)
	}}
	benchSandbox(b, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: echoHandler}, Extensions: []Extension{ext}}})
}

// BenchmarkInvokeProcess: the same through the real aws-lambda-go bootstrap process.
func BenchmarkInvokeProcess(b *testing.B) {
	benchSandbox(b, SandboxConfig{Function: processFunction(nil)})
}
