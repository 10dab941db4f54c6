package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
)

// TestRealReceiverAcceptsWhatTheAgentSends checks the wire contract against the other side's
// real implementation: the agent, in the emulator, forwards to the lambdatelemetry receiver, which
// must accept every batch (no 4xx: the agent would drop it) and turn each invocation into a span.
func TestRealReceiverAcceptsWhatTheAgentSends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := ln.Addr().String()
	ln.Close()

	f := lambdatelemetryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*lambdatelemetryreceiver.Config)
	cfg.NetAddr.Endpoint = endpoint
	set := receivertest.NewNopSettings(f.Type())
	traces, logs := new(consumertest.TracesSink), new(consumertest.LogsSink)
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := lr.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lr.Shutdown(context.Background())
		_ = tr.Shutdown(context.Background())
	})

	logsOut := &logBuffer{}
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name:       "orders",
			Env:        map[string]string{"AZLENS_COLLECTOR_ENDPOINT": "http://" + endpoint, "AZLENS_SPOOL_DIR": t.TempDir()},
			Runtime:    &emulator.ProcessRuntime{Path: functionPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		},
		Freeze:    true,
		LogOutput: logsOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sb.Start(sctx); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for range n {
		invoke(t, sb, `{"mode":"log","n":3}`)
	}
	shutdown(t, sb)
	// Everything was acknowledged before the agent exited (SHUTDOWN flushes), so the sinks are
	// complete now: one span per invocation at least, every function log line.
	logsOut.mu.Lock()
	out := logsOut.b.String()
	logsOut.mu.Unlock()
	if !strings.Contains(out, "dropped=0") || strings.Contains(out, "collector rejected") {
		t.Fatalf("the agent dropped events; its output:\n%s", out)
	}
	if traces.SpanCount() < n {
		t.Fatalf("%d spans for %d invocations; agent output:\n%s", traces.SpanCount(), n, out)
	}
	if logs.LogRecordCount() < 3*n {
		t.Fatalf("%d log records for %d function lines; agent output:\n%s", logs.LogRecordCount(), 3*n, out)
	}
}
