package e2etest

import (
	"context"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// WaitLimit bounds a wait for data that should arrive: a generous failure deadline, not a pace.
const WaitLimit = 5 * time.Minute

// Sink is the collector's own OTLP receiver (gRPC) running in the test process, with consumertest
// sinks: the same protocol an upstream backend (Jaeger, an OTLP gateway) serves.
type Sink struct {
	// Addr is host:port of the gRPC endpoint, for an otlp_grpc exporter with tls.insecure.
	Addr    string
	Traces  *consumertest.TracesSink
	Logs    *consumertest.LogsSink
	Metrics *consumertest.MetricsSink

	arrived chan struct{} // one token per batch, whatever the signal
}

// OTLPSink starts the sink on a free loopback port; t.Cleanup shuts it down.
func OTLPSink(t testing.TB) *Sink {
	t.Helper()
	s := &Sink{
		Addr:    freeport.Addr(t),
		Traces:  new(consumertest.TracesSink),
		Logs:    new(consumertest.LogsSink),
		Metrics: new(consumertest.MetricsSink),
		arrived: make(chan struct{}, 1),
	}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{
		"protocols": map[string]any{"grpc": map[string]any{"endpoint": s.Addr}},
	}).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	set := receivertest.NewNopSettings(f.Type())
	ctx := context.Background()
	// The three signals share one receiver (one gRPC server) per config; each is started and
	// shut down, as the collector does.
	tr, err := f.CreateTraces(ctx, set, cfg, notifyTraces{s.Traces, s.notify})
	if err != nil {
		t.Fatal(err)
	}
	lr, err := f.CreateLogs(ctx, set, cfg, notifyLogs{s.Logs, s.notify})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMetrics(ctx, set, cfg, notifyMetrics{s.Metrics, s.notify})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []component.Component{tr, lr, mr} {
		t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
		if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *Sink) notify() {
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// Wait returns once cond holds, re-checking it whenever a batch arrives (and every second, for
// conditions on other things); it fails the test after WaitLimit with what cond last described.
func (s *Sink) Wait(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	limit := time.NewTimer(WaitLimit)
	defer limit.Stop()
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-s.arrived:
		case <-recheck.C:
		case <-limit.C:
			t.Fatalf("%s: not reached after %s; last state: %s", what, WaitLimit, state)
		}
	}
}

// SpanCount is the number of spans received so far.
func (s *Sink) SpanCount() int { return s.Traces.SpanCount() }

type notifyTraces struct {
	*consumertest.TracesSink
	notify func()
}

func (n notifyTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	err := n.TracesSink.ConsumeTraces(ctx, td)
	n.notify()
	return err
}

type notifyLogs struct {
	*consumertest.LogsSink
	notify func()
}

func (n notifyLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	err := n.LogsSink.ConsumeLogs(ctx, ld)
	n.notify()
	return err
}

type notifyMetrics struct {
	*consumertest.MetricsSink
	notify func()
}

func (n notifyMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	err := n.MetricsSink.ConsumeMetrics(ctx, md)
	n.notify()
	return err
}
