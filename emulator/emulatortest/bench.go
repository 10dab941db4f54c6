package emulatortest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// What the benchmarks of the emulator and of its region share: the echo handler they run, and the
// direct-call reference they divide by.

// EchoIn is the echo handler's event.
type EchoIn struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
}

// EchoHandler is what the test function's echo mode does, for the direct-call reference.
func EchoHandler(_ context.Context, in EchoIn) (map[string]string, error) {
	return map[string]string{"echo": in.Message}, nil
}

// BenchPayload is the event the benchmarks invoke with: the test function's echo mode.
var BenchPayload = []byte(`{"mode":"echo","message":"hello"}`)

// DirectLatencies is the reference: the same handler called through aws-lambda-go's handler
// machinery, no API in between. Measured in the same run as the sandbox, as a ratio baseline.
func DirectLatencies(b *testing.B, n int) []time.Duration {
	h := lambda.NewHandler(EchoHandler)
	ctx := context.Background()
	out := make([]time.Duration, n)
	for i := range out {
		t0 := time.Now()
		if _, err := h.Invoke(ctx, BenchPayload); err != nil {
			b.Fatal(err)
		}
		out[i] = time.Since(t0)
	}
	return out
}

// Percentile is the p-quantile (0 ≤ p ≤ 1) of d, nearest rank below; d is not reordered.
func Percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// ReportLatencies reports the invocations' p50 and p99 (lat), the direct-call reference's (ref),
// and their ratios, the figures the suite compares across machines.
func ReportLatencies(b *testing.B, lat, ref []time.Duration) {
	p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
	r50, r99 := Percentile(ref, 0.5), Percentile(ref, 0.99)
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(r50.Nanoseconds()), "direct-p50-ns")
	b.ReportMetric(float64(r99.Nanoseconds()), "direct-p99-ns")
	b.ReportMetric(float64(p50)/float64(r50), "p50-ratio")
	b.ReportMetric(float64(p99)/float64(r99), "p99-ratio")
}
