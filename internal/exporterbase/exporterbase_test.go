package exporterbase

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var testType = component.MustNewType("exporterbase")

// TestShutdownTwice: both kinds start, push, and shut down twice with the
// implementation's shutdown called once and its error returned both times.
func TestShutdownTwice(t *testing.T) {
	ctx := context.Background()
	errShutdown := errors.New("shutdown failed")
	for _, kind := range []string{"logs", "metrics"} {
		t.Run(kind, func(t *testing.T) {
			var pushed, shutdowns int
			s := Settings{
				Shutdown: func(context.Context) error { shutdowns++; return errShutdown },
				Retry:    configretry.NewDefaultBackOffConfig(),
				Queue:    configoptional.None[exporterhelper.QueueBatchConfig](),
			}
			set := exportertest.NewNopSettings(testType)
			var c component.Component
			var push func() error
			switch kind {
			case "logs":
				l, err := NewLogs(ctx, set, struct{}{}, func(context.Context, plog.Logs) error { pushed++; return nil }, s)
				if err != nil {
					t.Fatal(err)
				}
				c, push = l, func() error { return l.ConsumeLogs(ctx, plog.NewLogs()) }
			case "metrics":
				m, err := NewMetrics(ctx, set, struct{}{}, func(context.Context, pmetric.Metrics) error { pushed++; return nil }, s)
				if err != nil {
					t.Fatal(err)
				}
				c, push = m, func() error { return m.ConsumeMetrics(ctx, pmetric.NewMetrics()) }
			}
			if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
				t.Fatal(err)
			}
			if err := push(); err != nil || pushed != 1 {
				t.Fatalf("push: %v, %d pushes", err, pushed)
			}
			for i := range 2 {
				if err := c.Shutdown(ctx); !errors.Is(err, errShutdown) {
					t.Errorf("shutdown %d: %v, want %v", i+1, err, errShutdown)
				}
			}
			if shutdowns != 1 {
				t.Errorf("implementation shut down %d times, want once", shutdowns)
			}
		})
	}
}
