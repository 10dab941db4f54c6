package azhealthprocessor

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// Config of the azhealth processor. Every duration may be compressed for
// tests and demos; the defaults are the production values of
// docs/az-health.md.
type Config struct {
	// Tick is Δ, how often zones are evaluated and azlens.az.* metrics
	// emitted. Must be positive.
	Tick time.Duration `mapstructure:"tick"`
	// ShortWindow is the first comparison window; at least one tick.
	ShortWindow time.Duration `mapstructure:"short_window"`
	// LongWindow decides alone when the short window lacks volume, and
	// otherwise can hold a breach the short window shows but cannot yet
	// prove; not shorter than short_window.
	LongWindow time.Duration `mapstructure:"long_window"`
	// SlowThreshold is T_slow: invocations slower than this are "slow". It
	// must be a bucket bound of faas.invoke_duration (e.g. 1s, 2.5s).
	SlowThreshold time.Duration `mapstructure:"slow_threshold"`
	// MinVolume is the volume gate: a zone and the rest each need this many
	// events in a window for a verdict. Must be at least 1.
	MinVolume int `mapstructure:"min_volume"`
	// Alpha is the family-wise significance, split (Bonferroni) over zones
	// × signals. Must be in (0, 1).
	Alpha float64 `mapstructure:"alpha"`
	// Errors gates the bad-outcome and canary signals.
	Errors GateConfig `mapstructure:"errors"`
	// Slow gates the slow signal.
	Slow GateConfig `mapstructure:"slow"`
	// Volume gates the volume signal.
	Volume VolumeConfig `mapstructure:"volume"`
	// Alarm is the state machine.
	Alarm AlarmConfig `mapstructure:"alarm"`
	// StaleAfter marks a zone's telemetry stale, and breaks the quorum when a
	// zone sends neither telemetry nor canary results for that long. Zero
	// means 3 × tick.
	StaleAfter time.Duration `mapstructure:"stale_after"`
	// Guards stand between an ALARM and a shift.
	Guards GuardsConfig `mapstructure:"guards"`
	// Recovery paces the return of traffic.
	Recovery RecoveryConfig `mapstructure:"recovery"`
}

// GateConfig is the effect size and absolute gate of a signal.
type GateConfig struct {
	// Ratio: the zone's fraction must be at least ratio × the rest's. Zero
	// disables the relative gate.
	Ratio float64 `mapstructure:"ratio"`
	// MinDelta: the zone's fraction must exceed the rest's by this much
	// (0.005 = 0.5 percentage points). Zero disables it.
	MinDelta float64 `mapstructure:"min_delta"`
	// Threshold is the absolute (SLO) gate, a fraction in (0, 1]; other zones
	// at or above it make the problem regional.
	Threshold float64 `mapstructure:"threshold"`
}

// VolumeConfig is the effect size of the volume signal: a zone whose share of the
// function's invocations falls far below what its traffic weight predicts (its callers
// give up on it, or it cannot take them) breaches when the deficit is significant and large.
type VolumeConfig struct {
	// Ratio: the zone's share must be below ratio × its expected share (0.5: less
	// than half). In (0, 1). Lower it for functions whose zones take deliberately
	// unequal traffic: the detector expects zones at full weight to take equal shares.
	Ratio float64 `mapstructure:"ratio"`
}

// AlarmConfig is the OK → PENDING → ALARM state machine.
type AlarmConfig struct {
	// Breaches of the last Ticks ticks raise ALARM (M of N); 1 ≤ breaches ≤ ticks.
	Breaches int `mapstructure:"breaches"`
	Ticks    int `mapstructure:"ticks"`
	// FastFraction, with at least FastMinVolume events, for FastTicks ticks
	// in a row raises ALARM at once. A fraction above 1 disables it.
	FastFraction  float64 `mapstructure:"fast_fraction"`
	FastMinVolume int     `mapstructure:"fast_min_volume"`
	FastTicks     int     `mapstructure:"fast_ticks"`
	// ClearTicks consecutive healthy ticks return ALARM to OK; at least 1.
	ClearTicks int `mapstructure:"clear_ticks"`
}

// GuardsConfig holds the conditions checked before any shift.
type GuardsConfig struct {
	// KillSwitch disables automatic shifts and ends the active one.
	KillSwitch bool `mapstructure:"kill_switch"`
	// BlockedWindows are [start, end) intervals (RFC 3339) during which no
	// shift starts. Empty: none.
	BlockedWindows []BlockedWindow `mapstructure:"blocked_windows"`
	// MinBadEnvironments or MinBadEnvironmentFraction of a zone's
	// environments must themselves be failing: else it is one bad host.
	MinBadEnvironments        int     `mapstructure:"min_bad_environments"`
	MinBadEnvironmentFraction float64 `mapstructure:"min_bad_environment_fraction"`
	// CapacityHeadroom: the zones left must have capacity ≥ peak / headroom;
	// in (0, 1].
	CapacityHeadroom float64 `mapstructure:"capacity_headroom"`
	// Capacity is the number of execution environments (concurrent
	// executions) each zone can run. Zones absent: the number of distinct
	// environments seen within capacity_window.
	Capacity map[string]float64 `mapstructure:"capacity"`
	// CapacityWindow is the look-back for the peak load and for environments
	// seen; silent series are forgotten after it. Must be positive.
	CapacityWindow time.Duration `mapstructure:"capacity_window"`
	// MaxShifts automatic shifts per ShiftLimitWindow; zero forbids all.
	MaxShifts        int           `mapstructure:"max_shifts"`
	ShiftLimitWindow time.Duration `mapstructure:"shift_limit_window"`
	// ZoneChangeCooldown must pass after a shift ends before another zone is
	// shifted (no ping-pong). Zero: none.
	ZoneChangeCooldown time.Duration `mapstructure:"zone_change_cooldown"`
}

// BlockedWindow is one interval without automatic shifts.
type BlockedWindow struct {
	Start time.Time `mapstructure:"start"`
	End   time.Time `mapstructure:"end"`
}

// RecoveryConfig paces the fail-back.
type RecoveryConfig struct {
	// MinEvacuation × 2^(k−1) is how long the k-th shift of a zone (within
	// shift_limit_window) lasts at least, capped at MaxEvacuation.
	MinEvacuation time.Duration `mapstructure:"min_evacuation"`
	MaxEvacuation time.Duration `mapstructure:"max_evacuation"`
	// FailbackStages are the traffic weights returned in turn, increasing,
	// ending at 1.
	FailbackStages []float64 `mapstructure:"failback_stages"`
	// FailbackStageDuration is how long each stage holds; zero moves on
	// every tick.
	FailbackStageDuration time.Duration `mapstructure:"failback_stage_duration"`
}

// Validate checks the configuration; errors name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Tick <= 0 {
		bad("tick must be positive")
	}
	if c.ShortWindow < c.Tick {
		bad("short_window must be at least tick")
	}
	if c.LongWindow < c.ShortWindow {
		bad("long_window must not be shorter than short_window")
	}
	if !slices.Contains(contract.DurationBounds, c.SlowThreshold.Seconds()) {
		bad("slow_threshold must be a bucket bound of faas.invoke_duration (%v s)", contract.DurationBounds)
	}
	if c.MinVolume < 1 {
		bad("min_volume must be at least 1")
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		bad("alpha must be between 0 and 1 (exclusive)")
	}
	// A slice, not a map: errors come in the order of the YAML.
	for _, gate := range []struct {
		key string
		g   GateConfig
	}{{"errors", c.Errors}, {"slow", c.Slow}} {
		key, g := gate.key, gate.g
		if g.Ratio < 0 {
			bad("%s.ratio must not be negative", key)
		}
		if g.MinDelta < 0 || g.MinDelta >= 1 {
			bad("%s.min_delta must be in [0, 1)", key)
		}
		if g.Threshold <= 0 || g.Threshold > 1 {
			bad("%s.threshold must be in (0, 1]", key)
		}
	}
	if c.Volume.Ratio <= 0 || c.Volume.Ratio >= 1 {
		bad("volume.ratio must be in (0, 1)")
	}
	if c.Alarm.Ticks < 1 || c.Alarm.Breaches < 1 || c.Alarm.Breaches > c.Alarm.Ticks {
		bad("alarm.breaches must be between 1 and alarm.ticks")
	}
	if c.Alarm.FastFraction <= 0 {
		bad("alarm.fast_fraction must be positive")
	}
	if c.Alarm.FastMinVolume < 1 {
		bad("alarm.fast_min_volume must be at least 1")
	}
	if c.Alarm.FastTicks < 1 {
		bad("alarm.fast_ticks must be at least 1")
	}
	if c.Alarm.ClearTicks < 1 {
		bad("alarm.clear_ticks must be at least 1")
	}
	if c.StaleAfter < 0 {
		bad("stale_after must not be negative")
	}
	g := &c.Guards
	for i, w := range g.BlockedWindows {
		if !w.End.After(w.Start) {
			bad("guards.blocked_windows[%d].end must be after start", i)
		}
	}
	if g.MinBadEnvironments < 0 {
		bad("guards.min_bad_environments must not be negative")
	}
	if g.MinBadEnvironmentFraction < 0 || g.MinBadEnvironmentFraction > 1 {
		bad("guards.min_bad_environment_fraction must be in [0, 1]")
	}
	if g.CapacityHeadroom <= 0 || g.CapacityHeadroom > 1 {
		bad("guards.capacity_headroom must be in (0, 1]")
	}
	for _, zone := range slices.Sorted(maps.Keys(g.Capacity)) {
		if n := g.Capacity[zone]; n < 0 {
			bad("guards.capacity[%s] must not be negative", zone)
		}
	}
	if g.CapacityWindow <= 0 {
		bad("guards.capacity_window must be positive")
	}
	if g.MaxShifts < 0 {
		bad("guards.max_shifts must not be negative")
	}
	if g.ShiftLimitWindow <= 0 {
		bad("guards.shift_limit_window must be positive")
	}
	if g.ZoneChangeCooldown < 0 {
		bad("guards.zone_change_cooldown must not be negative")
	}
	r := &c.Recovery
	if r.MinEvacuation < 0 {
		bad("recovery.min_evacuation must not be negative")
	}
	if r.MaxEvacuation < r.MinEvacuation {
		bad("recovery.max_evacuation must not be shorter than recovery.min_evacuation")
	}
	if len(r.FailbackStages) == 0 || r.FailbackStages[len(r.FailbackStages)-1] != 1 {
		bad("recovery.failback_stages must end at 1")
	}
	for i, s := range r.FailbackStages {
		if s <= 0 || s > 1 || (i > 0 && s <= r.FailbackStages[i-1]) {
			bad("recovery.failback_stages must increase within (0, 1]")
			break
		}
	}
	if r.FailbackStageDuration < 0 {
		bad("recovery.failback_stage_duration must not be negative")
	}
	return errors.Join(errs...)
}

func (c *Config) detectorConfig() detector.Config {
	stale := c.StaleAfter
	if stale == 0 {
		stale = 3 * c.Tick
	}
	windows := make([]detector.TimeRange, len(c.Guards.BlockedWindows))
	for i, w := range c.Guards.BlockedWindows {
		windows[i] = detector.TimeRange{Start: w.Start, End: w.End}
	}
	return detector.Config{
		Tick:                      c.Tick,
		ShortWindow:               c.ShortWindow,
		LongWindow:                c.LongWindow,
		SlowLatency:               c.SlowThreshold.Seconds(),
		MinVolume:                 float64(c.MinVolume),
		Alpha:                     c.Alpha,
		ErrorRatio:                c.Errors.Ratio,
		ErrorMinDelta:             c.Errors.MinDelta,
		ErrorThreshold:            c.Errors.Threshold,
		SlowRatio:                 c.Slow.Ratio,
		SlowMinDelta:              c.Slow.MinDelta,
		SlowThreshold:             c.Slow.Threshold,
		VolumeRatio:               c.Volume.Ratio,
		AlarmBreaches:             c.Alarm.Breaches,
		AlarmTicks:                c.Alarm.Ticks,
		FastFraction:              c.Alarm.FastFraction,
		FastMinVolume:             float64(c.Alarm.FastMinVolume),
		FastTicks:                 c.Alarm.FastTicks,
		ClearTicks:                c.Alarm.ClearTicks,
		StaleAfter:                stale,
		KillSwitch:                c.Guards.KillSwitch,
		BlockedWindows:            windows,
		MinBadEnvironments:        c.Guards.MinBadEnvironments,
		MinBadEnvironmentFraction: c.Guards.MinBadEnvironmentFraction,
		CapacityHeadroom:          c.Guards.CapacityHeadroom,
		Capacity:                  c.Guards.Capacity,
		CapacityWindow:            c.Guards.CapacityWindow,
		MaxShifts:                 c.Guards.MaxShifts,
		ShiftLimitWindow:          c.Guards.ShiftLimitWindow,
		ZoneChangeCooldown:        c.Guards.ZoneChangeCooldown,
		MinEvacuation:             c.Recovery.MinEvacuation,
		MaxEvacuation:             c.Recovery.MaxEvacuation,
		FailbackStages:            c.Recovery.FailbackStages,
		FailbackStageDuration:     c.Recovery.FailbackStageDuration,
	}
}
