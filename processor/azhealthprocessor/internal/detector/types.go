// Package detector decides, from cumulative per-environment counters, whether one
// Availability Zone of a function is impaired compared with the others, runs the
// alarm state machine and the guards that stand between an alarm and a zonal
// shift, and paces the fail-back. It has no collector dependency and no clock of
// its own: callers pass the time in, so tests and simulations run hours of
// traffic in milliseconds.
package detector

import "time"

// Signal is one kind of evidence compared between zones.
type Signal int

const (
	// SignalBad is the fraction of invocations whose outcome is not success.
	SignalBad Signal = iota
	// SignalSlow is the fraction of invocations slower than the slow threshold.
	SignalSlow
	// SignalCanary is the fraction of zone-pinned synthetic invocations that failed.
	SignalCanary
	// SignalVolume is the zone's share of the function's invocations against the
	// share its traffic weight predicts: a zone so slow or so broken that its
	// callers give up completes, and reports, far fewer invocations than its
	// peers, and that deficit is evidence too.
	SignalVolume
	// NumSignals is the m of the Bonferroni correction.
	NumSignals
)

func (s Signal) String() string {
	switch s {
	case SignalBad:
		return "bad"
	case SignalSlow:
		return "slow"
	case SignalCanary:
		return "canary"
	case SignalVolume:
		return "volume"
	}
	return "unknown"
}

// State is the alarm state of one zone (or of the region).
type State int

const (
	StateOK State = iota
	StatePending
	StateAlarm
)

func (s State) String() string {
	switch s {
	case StateOK:
		return "OK"
	case StatePending:
		return "PENDING"
	case StateAlarm:
		return "ALARM"
	}
	return "UNKNOWN"
}

// Kind says which metric of the contract a Point carries.
type Kind int

const (
	// KindInvocations is faas.invocations{outcome}, a cumulative monotonic sum.
	KindInvocations Kind = iota
	// KindDuration is faas.invoke_duration, a cumulative explicit-bounds histogram.
	KindDuration
	// KindCanary is azlens.canary.invocations{outcome}, a cumulative monotonic sum.
	KindCanary
	// KindCanaryDuration is azlens.canary.duration{outcome}, a cumulative explicit-bounds
	// histogram: successful canaries slower than the slow threshold are failed canaries.
	KindCanaryDuration
)

// Point is one cumulative data point of one series.
type Point struct {
	Function string
	Zone     string
	// Environment is faas.instance; empty for canaries, which are not tied to one.
	Environment string
	// Series identifies the cumulative series (environment, metric and
	// attributes); deltas are taken between points of the same series.
	Series string
	Kind   Kind
	// Outcome is the outcome attribute of invocation and canary points.
	Outcome string
	// Start is the series' start timestamp; zero when the sender did not set it.
	Start time.Time
	// Value is the cumulative count of a sum.
	Value float64
	// Count, Sum, Bounds and Buckets are the cumulative histogram fields.
	Count   uint64
	Sum     float64
	Bounds  []float64
	Buckets []uint64
}

// Block reasons: why an ALARM did not become a shift. Exported as the
// reason attribute of azlens.az.shift_blocked.
const (
	BlockKillSwitch       = "KILL_SWITCH"
	BlockBlockedWindow    = "BLOCKED_WINDOW"
	BlockTelemetryQuorum  = "TELEMETRY_QUORUM"
	BlockRegional         = "REGIONAL"
	BlockMultipleZones    = "MULTIPLE_ZONES_IN_ALARM"
	BlockBreadth          = "BREADTH"
	BlockZoneShifted      = "ZONE_ALREADY_SHIFTED"
	BlockCapacity         = "CAPACITY_CHECK_FAILED"
	BlockRateLimit        = "RATE_LIMIT"
	BlockZoneChangeCooldn = "ZONE_CHANGE_COOLDOWN"
)

// TimeRange is a closed-open interval [Start, End) during which no automatic
// shift starts.
type TimeRange struct {
	Start, End time.Time
}

// Config holds every knob of the detector. Durations are in wall time and all
// of them may be compressed for tests and demos.
type Config struct {
	Tick        time.Duration // Δ, evaluation period
	ShortWindow time.Duration // first window (60 s)
	LongWindow  time.Duration // second window, alone when the short lacks volume (300 s)

	SlowLatency float64 // T_slow in seconds; must be a bound of the duration histogram
	MinVolume   float64 // volume gate on both sides of the comparison
	Alpha       float64 // family-wise significance, split over zones × signals

	ErrorRatio     float64 // p_i ≥ ratio · p_rest
	ErrorMinDelta  float64 // p_i − p_rest ≥ delta (fraction, 0.005 = 0.5 pp)
	ErrorThreshold float64 // absolute gate (fraction)
	SlowRatio      float64
	SlowMinDelta   float64
	SlowThreshold  float64 // absolute gate for the slow fraction
	// VolumeRatio is the volume signal's effect size: a zone breaches only when its
	// share of the invocations is below VolumeRatio × the share its weight predicts.
	VolumeRatio float64

	AlarmBreaches int // M of the M-of-N rule
	AlarmTicks    int // N of the M-of-N rule
	FastFraction  float64
	FastMinVolume float64
	FastTicks     int
	ClearTicks    int

	StaleAfter time.Duration // telemetry older than this is stale; also the quorum age

	KillSwitch     bool
	BlockedWindows []TimeRange

	MinBadEnvironments        int
	MinBadEnvironmentFraction float64

	CapacityHeadroom float64            // remaining capacity must be ≥ peak / headroom
	Capacity         map[string]float64 // environments per zone; zones absent use environments seen
	CapacityWindow   time.Duration      // look-back for the peak and for environments seen

	MaxShifts          int
	ShiftLimitWindow   time.Duration
	ZoneChangeCooldown time.Duration

	MinEvacuation         time.Duration
	MaxEvacuation         time.Duration
	FailbackStages        []float64
	FailbackStageDuration time.Duration
}

// ZoneReport is the verdict on one zone after one tick.
type ZoneReport struct {
	Zone string
	// PValue is NaN when the signal had no verdict (volume gate).
	PValue [NumSignals]float64
	Breach [NumSignals]bool
	State  State
	// StateSince is the tick at which the detector moved the zone to State; zero while the
	// zone has been OK since the detector started.
	StateSince time.Time
	// TelemetryAge is the time since the zone's last passive telemetry; -1
	// when it never sent any.
	TelemetryAge  time.Duration
	Stale         bool
	TrafficWeight float64
	Evacuate      bool
}

// Event is a state change worth one log line.
type Event struct {
	Zone    string
	Kind    string
	Message string
}

// Report is the outcome of one tick for one function.
type Report struct {
	Function string
	Zones    []ZoneReport
	Regional bool
	// Blocked holds cumulative counts of blocked shift decisions per reason.
	Blocked map[string]uint64
	Events  []Event
}
