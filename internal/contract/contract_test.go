package contract

import (
	"slices"
	"testing"

	"github.com/prometheus/otlptranslator"
)

// TestPromAZAlarmState: the Prometheus name `azlens up` scrapes is the one the Prometheus
// exporter derives from the OTLP name (dots to underscores; the gauge has no unit).
func TestPromAZAlarmState(t *testing.T) {
	namer := otlptranslator.MetricNamer{WithMetricSuffixes: true}
	got, err := namer.Build(otlptranslator.Metric{Name: MetricAZAlarmState, Type: otlptranslator.MetricTypeGauge})
	if err != nil {
		t.Fatal(err)
	}
	if got != PromAZAlarmState {
		t.Errorf("Prometheus name of %s: %s, contract says %s", MetricAZAlarmState, got, PromAZAlarmState)
	}
}

// TestDurationBounds: explicit bucket bounds must increase strictly (OTLP requires it).
func TestDurationBounds(t *testing.T) {
	if !slices.IsSorted(DurationBounds) || len(slices.Compact(slices.Clone(DurationBounds))) != len(DurationBounds) {
		t.Errorf("DurationBounds %v do not increase strictly", DurationBounds)
	}
}
