package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
)

// TestRealReceiverAcceptsWhatTheAgentSends checks the wire contract against the other side's
// real implementation: the agent, in the emulator, forwards to the lambdatelemetry receiver, which
// must accept every batch (no 4xx: the agent would drop it) and turn each invocation into a span.
func TestRealReceiverAcceptsWhatTheAgentSends(t *testing.T) {
	traces, logs := new(consumertest.TracesSink), new(consumertest.LogsSink)
	endpoint, _ := startReceiver(t, traces, logs, nil)
	ctx := context.Background()

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

// startReceiver starts the real lambdatelemetry receiver on a free loopback port, feeding the
// sinks given (nil: that signal is not consumed), and returns its endpoint and a stop that shuts
// it down — which emits what it still correlates, so the sinks are complete afterwards. Cleanup
// stops it if the test did not.
func startReceiver(t *testing.T, traces *consumertest.TracesSink, logs *consumertest.LogsSink, metrics *consumertest.MetricsSink) (string, func()) {
	t.Helper()
	endpoint := freeport.Addr(t)
	var tc consumer.Traces
	var lc consumer.Logs
	var mc consumer.Metrics
	if traces != nil {
		tc = traces
	}
	if logs != nil {
		lc = logs
	}
	if metrics != nil {
		mc = metrics
	}
	return endpoint, startReceiverAt(t, endpoint, tc, lc, mc)
}

// startReceiverAt is startReceiver on a given endpoint, with any consumers.
func startReceiverAt(t *testing.T, endpoint string, traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) func() {
	t.Helper()
	f := lambdatelemetryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*lambdatelemetryreceiver.Config)
	cfg.NetAddr.Endpoint = endpoint
	set := receivertest.NewNopSettings(f.Type())
	ctx := context.Background()
	var started []component.Component
	start := func(c component.Component, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
		started = append(started, c)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for _, c := range slices.Backward(started) {
				_ = c.Shutdown(context.Background())
			}
		})
	}
	t.Cleanup(stop)
	if traces != nil {
		start(f.CreateTraces(ctx, set, cfg, traces))
	}
	if logs != nil {
		start(f.CreateLogs(ctx, set, cfg, logs))
	}
	if metrics != nil {
		start(f.CreateMetrics(ctx, set, cfg, metrics))
	}
	return stop
}
