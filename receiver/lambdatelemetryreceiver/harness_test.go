package lambdatelemetryreceiver

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/internal/clock/clocktest"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// harness is a started receiver on a loopback port with sinks for all
// three signals and a clock that only moves when the test says so.
type harness struct {
	r       *lambdaReceiver
	traces  *consumertest.TracesSink
	logs    *consumertest.LogsSink
	metrics *consumertest.MetricsSink
	clock   *clocktest.Clock
}

func newHarness(t *testing.T, configure func(*Config), opts ...func(*harnessConsumers)) *harness {
	t.Helper()
	h := &harness{
		traces:  new(consumertest.TracesSink),
		logs:    new(consumertest.LogsSink),
		metrics: new(consumertest.MetricsSink),
		clock:   clocktest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	cons := harnessConsumers{traces: h.traces, logs: h.logs, metrics: h.metrics}
	for _, o := range opts {
		o(&cons)
	}
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "localhost:0"
	if configure != nil {
		configure(cfg)
	}
	set := receivertest.NewNopSettings(metadata.Type)
	if cons.id != (component.ID{}) {
		set.ID = cons.id
	}
	if cons.telemetry != nil {
		set.TelemetrySettings = cons.telemetry.NewTelemetrySettings()
	}
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg, cons.traces)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateLogs(ctx, set, cfg, cons.logs); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateMetrics(ctx, set, cfg, cons.metrics); err != nil {
		t.Fatal(err)
	}
	h.r = tr.(*lambdaReceiver)
	h.r.clock = h.clock
	host := cons.host
	if host == nil {
		host = componenttest.NewNopHost()
	}
	if err := h.r.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return h
}

type harnessConsumers struct {
	traces  consumer.Traces
	logs    consumer.Logs
	metrics consumer.Metrics
	// host (default: no extensions) and telemetry (default: none) the receiver gets.
	host      component.Host
	telemetry *componenttest.Telemetry
	// id, when set, replaces the settings' unique test ID (a storage client is per ID).
	id component.ID
}

func (h *harness) advance(d time.Duration) { h.clock.Advance(d) }
