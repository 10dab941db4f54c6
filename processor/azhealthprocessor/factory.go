package azhealthprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/metadata"
)

// componentType is the generated one (metadata.yaml).
var componentType = metadata.Type

// NewFactory returns the factory of the azhealth processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(componentType, createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability))
}

// createDefaultConfig is the detector's production defaults, the one place
// they are written, in the processor's configuration shape.
func createDefaultConfig() component.Config {
	d := detector.DefaultConfig()
	return &Config{
		Tick:          d.Tick,
		ShortWindow:   d.ShortWindow,
		LongWindow:    d.LongWindow,
		SlowThreshold: time.Duration(d.SlowLatency * float64(time.Second)),
		MinVolume:     int(d.MinVolume),
		Alpha:         d.Alpha,
		Errors:        GateConfig{Ratio: d.ErrorRatio, MinDelta: d.ErrorMinDelta, Threshold: d.ErrorThreshold},
		Slow:          GateConfig{Ratio: d.SlowRatio, MinDelta: d.SlowMinDelta, Threshold: d.SlowThreshold},
		Volume:        VolumeConfig{Ratio: d.VolumeRatio},
		Alarm: AlarmConfig{
			Breaches:      d.AlarmBreaches,
			Ticks:         d.AlarmTicks,
			FastFraction:  d.FastFraction,
			FastMinVolume: int(d.FastMinVolume),
			FastTicks:     d.FastTicks,
			ClearTicks:    d.ClearTicks,
		},
		// StaleAfter stays zero: 3 × tick, which is what the detector's
		// default is, and follows a tick the user changes.
		Guards: GuardsConfig{
			KillSwitch:                d.KillSwitch,
			MinBadEnvironments:        d.MinBadEnvironments,
			MinBadEnvironmentFraction: d.MinBadEnvironmentFraction,
			CapacityHeadroom:          d.CapacityHeadroom,
			CapacityWindow:            d.CapacityWindow,
			MaxShifts:                 d.MaxShifts,
			ShiftLimitWindow:          d.ShiftLimitWindow,
			ZoneChangeCooldown:        d.ZoneChangeCooldown,
		},
		Recovery: RecoveryConfig{
			MinEvacuation:         d.MinEvacuation,
			MaxEvacuation:         d.MaxEvacuation,
			FailbackStages:        d.FailbackStages,
			FailbackStageDuration: d.FailbackStageDuration,
		},
	}
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	return newProcessor(set, cfg.(*Config), next)
}
