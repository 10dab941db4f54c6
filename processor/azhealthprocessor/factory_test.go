package azhealthprocessor

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

func detectorDefaults() detector.Config {
	c := detector.DefaultConfig()
	c.BlockedWindows = []detector.TimeRange{}
	return c
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type().String() != "azhealth" {
		t.Errorf("type %q, want azhealth", f.Type())
	}
	if f.MetricsStability() != component.StabilityLevelAlpha {
		t.Errorf("stability %v, want alpha", f.MetricsStability())
	}
	cfg := f.CreateDefaultConfig()
	if err := componenttest.CheckConfigStruct(cfg); err != nil {
		t.Error(err)
	}
	if err := cfg.(*Config).Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop()); err == nil {
		t.Error("traces pipeline accepted")
	}
}
