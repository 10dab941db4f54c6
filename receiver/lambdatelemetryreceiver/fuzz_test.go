package lambdatelemetryreceiver

import (
	"context"
	"net/http"
	"os"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

func fuzzReceiver(f *testing.F) *lambdaReceiver {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxPendingInvocations = 64
	cfg.MaxEnvironments = 16
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	if err != nil {
		f.Fatal(err)
	}
	r.nextTraces, r.nextLogs, r.nextMetrics = consumertest.NewNop(), consumertest.NewNop(), consumertest.NewNop()
	return r
}

func checkStatus(t *testing.T, status int, msg string) {
	switch status {
	case http.StatusOK:
	case http.StatusBadRequest:
		if msg == "" {
			t.Fatal("400 without a message")
		}
	default:
		t.Fatalf("unexpected status %d: %s", status, msg)
	}
}

// FuzzAgentBatchHandler feeds raw bytes to the /v1/agent/batch handler's
// body processing, state included: any input must be answered 200 or 400.
func FuzzAgentBatchHandler(f *testing.F) {
	samples, err := os.ReadFile("testdata/golden/aws_samples/telemetry.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(agentBody(f, 1, rawEvents(f, string(samples))))
	f.Add(agentBody(f, 2, rawEvents(f, oneInvocation)))
	f.Add([]byte(`{"resource":{"faas.instance":"e"},"events":[{"time":"2026-03-01T10:00:00.000Z","type":"platform.report","record":{"requestId":"x","metrics":{"durationMs":1e308}}}]}`))
	r := fuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, status, _, msg := r.process(context.Background(), body, bodyAgentV1)
		checkStatus(t, status, msg)
	})
}

// FuzzTelemetryHandler does the same for /v1/telemetry.
func FuzzTelemetryHandler(f *testing.F) {
	samples, err := os.ReadFile("testdata/golden/aws_samples/telemetry.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(samples)
	f.Add([]byte(oneInvocation))
	r := fuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, status, _, msg := r.process(context.Background(), body, bodyTelemetry)
		checkStatus(t, status, msg)
	})
}
