// Package exporterbase is the one way azlens exporters are put together on
// exporterhelper: the same options (start, shutdown, no data mutation, the
// request timeout, the retry policy and sending queue of the config) and a
// Shutdown that can be called twice.
package exporterbase

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Settings are what an exporter's config and implementation give
// exporterhelper.
type Settings struct {
	Start    component.StartFunc
	Shutdown component.ShutdownFunc
	// Timeout bounds one push; zero leaves it to the exporter's own clients.
	Timeout time.Duration
	Retry   configretry.BackOffConfig
	Queue   configoptional.Optional[exporterhelper.QueueBatchConfig]
}

func (s Settings) options() []exporterhelper.Option {
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = s.Timeout
	return []exporterhelper.Option{
		exporterhelper.WithStart(s.Start),
		exporterhelper.WithShutdown(s.Shutdown),
		// Pushes build their requests from the data, never write into it.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(timeout),
		exporterhelper.WithRetry(s.Retry),
		exporterhelper.WithQueue(s.Queue),
	}
}

// NewLogs is exporterhelper.NewLogs with the settings, its Shutdown
// idempotent.
func NewLogs(ctx context.Context, set exporter.Settings, cfg component.Config, push func(context.Context, plog.Logs) error, s Settings) (exporter.Logs, error) {
	logs, err := exporterhelper.NewLogs(ctx, set, cfg, push, s.options()...)
	if err != nil {
		return nil, err
	}
	return &onceLogs{Logs: logs}, nil
}

// NewMetrics is exporterhelper.NewMetrics with the settings, its Shutdown
// idempotent.
func NewMetrics(ctx context.Context, set exporter.Settings, cfg component.Config, push func(context.Context, pmetric.Metrics) error, s Settings) (exporter.Metrics, error) {
	metrics, err := exporterhelper.NewMetrics(ctx, set, cfg, push, s.options()...)
	if err != nil {
		return nil, err
	}
	return &onceMetrics{Metrics: metrics}, nil
}

// once makes Shutdown idempotent: exporterhelper's closes its retry channel
// and panics when called a second time, which a collector failing to start
// or a test's cleanup can do.
type once struct {
	o   sync.Once
	err error
}

func (s *once) do(ctx context.Context, shutdown component.ShutdownFunc) error {
	s.o.Do(func() { s.err = shutdown(ctx) })
	return s.err
}

type onceLogs struct {
	exporter.Logs
	once once
}

func (l *onceLogs) Shutdown(ctx context.Context) error { return l.once.do(ctx, l.Logs.Shutdown) }

type onceMetrics struct {
	exporter.Metrics
	once once
}

func (m *onceMetrics) Shutdown(ctx context.Context) error { return m.once.do(ctx, m.Metrics.Shutdown) }
