package azhealthprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
)

// Defaults: the production values of docs/az-health.md.
const (
	defaultTick                      = 10 * time.Second
	defaultShortWindow               = time.Minute
	defaultLongWindow                = 5 * time.Minute
	defaultSlowThreshold             = time.Second
	defaultMinVolume                 = 50
	defaultAlpha                     = 1e-3
	defaultErrorRatio                = 3
	defaultErrorMinDelta             = 0.005
	defaultErrorThreshold            = 0.01
	defaultSlowRatio                 = 2
	defaultSlowMinDelta              = 0.05
	defaultSlowGate                  = 0.05
	defaultAlarmBreaches             = 5
	defaultAlarmTicks                = 6
	defaultFastFraction              = 0.5
	defaultFastMinVolume             = 20
	defaultFastTicks                 = 3
	defaultClearTicks                = 12
	defaultMinBadEnvironments        = 2
	defaultMinBadEnvironmentFraction = 0.2
	defaultCapacityHeadroom          = 0.8
	defaultCapacityWindow            = time.Hour
	defaultMaxShifts                 = 3
	defaultShiftLimitWindow          = 24 * time.Hour
	defaultZoneChangeCooldown        = 10 * time.Minute
	defaultMinEvacuation             = 15 * time.Minute
	defaultMaxEvacuation             = 4 * time.Hour
	defaultFailbackStageDuration     = 5 * time.Minute
)

var (
	componentType         = component.MustNewType("azhealth")
	defaultFailbackStages = []float64{0.1, 0.25, 0.5, 1}
)

// NewFactory returns the factory of the azhealth processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(componentType, createDefaultConfig,
		processor.WithMetrics(createMetrics, component.StabilityLevelAlpha))
}

func createDefaultConfig() component.Config {
	return &Config{
		Tick:          defaultTick,
		ShortWindow:   defaultShortWindow,
		LongWindow:    defaultLongWindow,
		SlowThreshold: defaultSlowThreshold,
		MinVolume:     defaultMinVolume,
		Alpha:         defaultAlpha,
		Errors:        GateConfig{Ratio: defaultErrorRatio, MinDelta: defaultErrorMinDelta, Threshold: defaultErrorThreshold},
		Slow:          GateConfig{Ratio: defaultSlowRatio, MinDelta: defaultSlowMinDelta, Threshold: defaultSlowGate},
		Alarm: AlarmConfig{
			Breaches:      defaultAlarmBreaches,
			Ticks:         defaultAlarmTicks,
			FastFraction:  defaultFastFraction,
			FastMinVolume: defaultFastMinVolume,
			FastTicks:     defaultFastTicks,
			ClearTicks:    defaultClearTicks,
		},
		Guards: GuardsConfig{
			MinBadEnvironments:        defaultMinBadEnvironments,
			MinBadEnvironmentFraction: defaultMinBadEnvironmentFraction,
			CapacityHeadroom:          defaultCapacityHeadroom,
			CapacityWindow:            defaultCapacityWindow,
			MaxShifts:                 defaultMaxShifts,
			ShiftLimitWindow:          defaultShiftLimitWindow,
			ZoneChangeCooldown:        defaultZoneChangeCooldown,
		},
		Recovery: RecoveryConfig{
			MinEvacuation:         defaultMinEvacuation,
			MaxEvacuation:         defaultMaxEvacuation,
			FailbackStages:        append([]float64(nil), defaultFailbackStages...),
			FailbackStageDuration: defaultFailbackStageDuration,
		},
	}
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	return newProcessor(set, cfg.(*Config), next, realClock{})
}
