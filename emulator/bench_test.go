package emulator

import (
	"context"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/emulatortest"
)

func benchSandbox(b *testing.B, cfg SandboxConfig) {
	s, err := NewSandbox(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background(), ShutdownSpindown)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	ref := emulatortest.DirectLatencies(b, max(b.N, 1000))
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := s.Invoke(ctx, &InvokeRequest{Payload: emulatortest.BenchPayload})
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
	emulatortest.ReportLatencies(b, lat, ref)
}

// BenchmarkInvokeInProcess: Invoke round trip (answer, not Done) of an in-process sandbox.
func BenchmarkInvokeInProcess(b *testing.B) {
	benchSandbox(b, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: emulatortest.EchoHandler}}})
}

// BenchmarkInvokeInProcessWithExtension adds an INVOKE-subscribed in-process extension.
func BenchmarkInvokeInProcessWithExtension(b *testing.B) {
	ext := &InProcessExtension{Name: "bench-ext", Run: func(ctx context.Context, api string) error {
		return runTinyExtension(ctx, api, "bench-ext", nil)
	}}
	benchSandbox(b, SandboxConfig{Function: Function{Runtime: &InProcessRuntime{Handler: emulatortest.EchoHandler}, Extensions: []Extension{ext}}})
}

// BenchmarkInvokeProcess: the same through the real aws-lambda-go bootstrap process.
func BenchmarkInvokeProcess(b *testing.B) {
	benchSandbox(b, SandboxConfig{Function: processFunction(nil)})
}

// BenchmarkInvokeProcessIsolated: the same process in network and mount namespaces of its own, as
// `azlens up` runs every environment where the host allows it. The Runtime API is then reached
// through the namespace's loopback, forwarded to the emulator's listener on the host.
func BenchmarkInvokeProcessIsolated(b *testing.B) {
	benchSandbox(b, SandboxConfig{Function: processFunction(nil), Network: NetworkIsolated})
}
