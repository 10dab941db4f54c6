package detector

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// DefaultConfig returns the production defaults of docs/az-health.md.
func DefaultConfig() Config {
	return Config{
		Tick:                      10 * time.Second,
		ShortWindow:               time.Minute,
		LongWindow:                5 * time.Minute,
		SlowLatency:               1,
		MinVolume:                 50,
		Alpha:                     1e-3,
		ErrorRatio:                3,
		ErrorMinDelta:             0.005,
		ErrorThreshold:            0.01,
		SlowRatio:                 2,
		SlowMinDelta:              0.05,
		SlowThreshold:             0.05,
		VolumeRatio:               0.5,
		AlarmBreaches:             5,
		AlarmTicks:                6,
		FastFraction:              0.5,
		FastMinVolume:             20,
		FastTicks:                 3,
		ClearTicks:                12,
		StaleAfter:                30 * time.Second,
		MinBadEnvironments:        2,
		MinBadEnvironmentFraction: 0.2,
		CapacityHeadroom:          0.8,
		CapacityWindow:            time.Hour,
		MaxShifts:                 3,
		ShiftLimitWindow:          24 * time.Hour,
		ZoneChangeCooldown:        10 * time.Minute,
		MinEvacuation:             15 * time.Minute,
		MaxEvacuation:             4 * time.Hour,
		FailbackStages:            []float64{0.1, 0.25, 0.5, 1},
		FailbackStageDuration:     5 * time.Minute,
	}
}

func (c *Config) check() error {
	var errs []error
	if c.Tick <= 0 {
		errs = append(errs, errors.New("tick must be positive"))
	}
	if c.ShortWindow < c.Tick {
		errs = append(errs, errors.New("short window must be at least one tick"))
	}
	if c.LongWindow < c.ShortWindow {
		errs = append(errs, errors.New("long window must not be shorter than the short window"))
	}
	if c.SlowLatency <= 0 {
		errs = append(errs, errors.New("slow latency must be positive"))
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		errs = append(errs, errors.New("alpha must be in (0, 1)"))
	}
	if c.VolumeRatio <= 0 || c.VolumeRatio >= 1 {
		errs = append(errs, errors.New("volume ratio must be in (0, 1)"))
	}
	if c.AlarmTicks < 1 || c.AlarmBreaches < 1 || c.AlarmBreaches > c.AlarmTicks {
		errs = append(errs, errors.New("alarm breaches must be between 1 and alarm ticks"))
	}
	if c.FastTicks < 1 || c.ClearTicks < 1 {
		errs = append(errs, errors.New("fast ticks and clear ticks must be at least 1"))
	}
	if c.CapacityHeadroom <= 0 || c.CapacityHeadroom > 1 {
		errs = append(errs, errors.New("capacity headroom must be in (0, 1]"))
	}
	if c.CapacityWindow <= 0 {
		errs = append(errs, errors.New("capacity window must be positive"))
	}
	if len(c.FailbackStages) == 0 || c.FailbackStages[len(c.FailbackStages)-1] != 1 {
		errs = append(errs, errors.New("fail-back stages must end at 1"))
	}
	return errors.Join(errs...)
}

// Detector holds the per-function state. It is not safe for concurrent use:
// its owner serialises Observe and Tick under one lock.
type Detector struct {
	cfg        Config
	start      time.Time
	nShort     int
	nLong      int
	killSwitch bool
	functions  map[string]*function
	names      []string
}

// New returns a detector that began observing at now; series that started
// before now are read as baselines, never as a burst of new events.
func New(cfg Config, now time.Time) (*Detector, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("detector config: %w", err)
	}
	return &Detector{
		cfg:        cfg,
		start:      now,
		nShort:     ticksIn(cfg.ShortWindow, cfg.Tick),
		nLong:      ticksIn(cfg.LongWindow, cfg.Tick),
		killSwitch: cfg.KillSwitch,
		functions:  map[string]*function{},
	}, nil
}

func ticksIn(w, tick time.Duration) int {
	return int((w + tick - 1) / tick)
}

// bucket holds the deltas of one tick.
type bucket struct {
	x, n   [NumSignals]float64
	durSum float64
}

func (b *bucket) add(o *bucket) {
	for s := range NumSignals {
		b.x[s] += o.x[s]
		b.n[s] += o.n[s]
	}
	b.durSum += o.durSum
}

// environment keeps exponentially decayed counts (time constant: the short
// window) of its own bad and slow events, so the breadth guard can tell the
// environments that fail from those that merely saw a baseline error.
type environment struct {
	lastSeen time.Time
	decayed  time.Time
	x, n     [2]float64 // SignalBad, SignalSlow
}

func (e *environment) decay(now time.Time, tau time.Duration) {
	if dt := now.Sub(e.decayed); dt > 0 && !e.decayed.IsZero() {
		f := math.Exp(-dt.Seconds() / tau.Seconds())
		for i := range e.x {
			e.x[i] *= f
			e.n[i] *= f
		}
	}
	e.decayed = now
}

func (e *environment) add(now time.Time, tau time.Duration, s Signal, x, n float64) {
	e.decay(now, tau)
	e.x[s] += x
	e.n[s] += n
}

type series struct {
	env      *environment
	zone     *zone
	start    time.Time
	lastSeen time.Time
	value    float64 // last cumulative sum or histogram count
	slow     float64 // last cumulative slow count
	sum      float64 // last cumulative histogram sum
}

type zone struct {
	name          string
	cur           bucket
	ring          []bucket
	head, filled  int
	lastTelemetry time.Time
	lastCanary    time.Time
	canaryOKSince time.Time // start of the current run of healthy canary ticks
	envs          map[string]*environment
	alarm         machine
	stale         bool
	breachMask    [NumSignals]bool // signals of the latest breaching tick
	clearedAt     time.Time        // when the zone's last ALARM cleared
	stateSince    time.Time        // the tick that set the current alarm state
	short, long   bucket           // window sums of the current tick
	verdict       verdict
	// fullSince is when the zone last returned to full traffic weight (or was first
	// seen); zero while it is shifted away or failing back. The volume signal only
	// judges a window the zone spent entirely at full weight.
	fullSince time.Time
	volIn     [2]bool // a member of the volume signal's pool of the short, the long window
}

func (z *zone) close() {
	z.ring[z.head] = z.cur
	z.head = (z.head + 1) % len(z.ring)
	z.filled = min(z.filled+1, len(z.ring))
	z.cur = bucket{}
}

// tickMean is the mean over the last k closed buckets that hold events of the fraction of
// signal s in each. The fast path reads it beside the window's pooled fraction: a zone whose
// invocations turn slow also completes fewer of them, so in the pooled window the many fast
// invocations from before the fault outweigh the few slow ones after it for most of a window,
// while every tick since the fault is all slow.
func (z *zone) tickMean(s Signal, k int) float64 {
	var sum float64
	ticks := 0
	k = min(k, z.filled)
	for i := 1; i <= k; i++ {
		b := &z.ring[(z.head-i+len(z.ring))%len(z.ring)]
		if b.n[s] > 0 {
			sum += min(1, b.x[s]/b.n[s]) // canary slow counts and their totals may land in different ticks
			ticks++
		}
	}
	if ticks == 0 {
		return 0
	}
	return sum / float64(ticks)
}

// window sums the last k closed buckets.
func (z *zone) window(k int) bucket {
	var b bucket
	k = min(k, z.filled)
	for i := 1; i <= k; i++ {
		b.add(&z.ring[(z.head-i+len(z.ring))%len(z.ring)])
	}
	return b
}

type shiftRecord struct {
	zone string
	at   time.Time
	auto bool
}

type shift struct {
	active     bool
	zone       string
	since      time.Time // when the zone was last fully evacuated
	k          int       // shifts of this zone in the limit window, for back-off
	stage      int       // -1 fully evacuated, else index of FailbackStages
	stageSince time.Time
}

type function struct {
	name      string
	zones     map[string]*zone
	order     []*zone
	series    map[string]*series
	shift     shift
	history   []shiftRecord
	lastEnd   time.Time
	lastZone  string
	regional  machine
	peaks     []float64
	peakSlot  int64
	blocked   map[string]uint64
	lastBlock string
	lastSweep time.Time
	volume    [2]volumePool // the volume signal's pools of the short and the long window
}

func (d *Detector) function(name string) *function {
	f, ok := d.functions[name]
	if !ok {
		f = &function{
			name:    name,
			zones:   map[string]*zone{},
			series:  map[string]*series{},
			peaks:   make([]float64, peakSlots),
			blocked: map[string]uint64{},
		}
		d.functions[name] = f
		d.names = append(d.names, name)
		slices.Sort(d.names)
	}
	return f
}

func (d *Detector) zone(f *function, name string, now time.Time) *zone {
	z, ok := f.zones[name]
	if !ok {
		z = &zone{name: name, ring: make([]bucket, d.nLong), envs: map[string]*environment{}, fullSince: now}
		f.zones[name] = z
		f.order = append(f.order, z)
		slices.SortFunc(f.order, func(a, b *zone) int {
			if a.name < b.name {
				return -1
			}
			if a.name > b.name {
				return 1
			}
			return 0
		})
	}
	return z
}

// Observe takes one cumulative point received at now. The delta since the
// previous point of the same series lands in the current tick's bucket, so a
// lost batch only moves counts to a later bucket: numerator and denominator
// move together and the ratio is not skewed.
func (d *Detector) Observe(now time.Time, p *Point) {
	if p.Function == "" || p.Zone == "" || p.Series == "" {
		return
	}
	f := d.function(p.Function)
	z := d.zone(f, p.Zone, now)

	var value, slow, sum float64
	switch p.Kind {
	case KindInvocations, KindCanary:
		if p.Value < 0 || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return
		}
		value = p.Value
	case KindDuration, KindCanaryDuration:
		s, ok := slowCount(p.Bounds, p.Buckets, d.cfg.SlowLatency)
		if !ok {
			return
		}
		value, slow, sum = float64(p.Count), s, p.Sum
	default:
		return
	}

	s, seen := f.series[p.Series]
	var dv, ds, dsum float64
	switch {
	case !seen:
		s = &series{zone: z, start: p.Start}
		f.series[p.Series] = s
		// A series that began after the detector did is a new environment
		// (or a first error): everything it counted is new. One that began
		// before is a baseline, else a collector restart would read hours
		// of history as one burst.
		if !p.Start.IsZero() && !p.Start.Before(d.start) {
			dv, ds, dsum = value, slow, sum
		}
	case !p.Start.IsZero() && p.Start.Before(s.start):
		return // a late point of a previous incarnation
	case p.Start.After(s.start) || value < s.value:
		// Counter reset: a new start time, or a drop without one.
		if !p.Start.IsZero() && p.Start.Equal(s.start) {
			return // same incarnation going backwards: out-of-order delivery
		}
		dv, ds, dsum = value, slow, sum
	default:
		dv, ds, dsum = value-s.value, slow-s.slow, sum-s.sum
		if ds < 0 {
			ds = 0
		}
	}
	s.start = p.Start
	s.value, s.slow, s.sum = value, slow, sum
	s.lastSeen = now

	if p.Kind == KindCanary {
		z.lastCanary = now
		z.cur.n[SignalCanary] += dv
		if p.Outcome != "success" {
			z.cur.x[SignalCanary] += dv
		}
		return
	}
	if p.Kind == KindCanaryDuration {
		// Only successes: every other outcome is already a failed canary in the counts, and
		// a canary the runner judged over its own bound is counted as "slow", not here.
		z.lastCanary = now
		if p.Outcome == "success" {
			z.cur.x[SignalCanary] += ds
		}
		return
	}

	z.lastTelemetry = now
	if s.env == nil && p.Environment != "" {
		env, ok := z.envs[p.Environment]
		if !ok {
			env = &environment{}
			z.envs[p.Environment] = env
		}
		s.env = env
	}
	if s.env != nil {
		s.env.lastSeen = now
	}
	if p.Kind == KindInvocations {
		z.cur.n[SignalBad] += dv
		bad := 0.0
		if p.Outcome != "success" {
			bad = dv
			z.cur.x[SignalBad] += dv
		}
		if s.env != nil && dv > 0 {
			s.env.add(now, d.cfg.ShortWindow, SignalBad, bad, dv)
		}
		return
	}
	z.cur.n[SignalSlow] += dv
	z.cur.x[SignalSlow] += ds
	z.cur.durSum += dsum
	if s.env != nil && dv > 0 {
		s.env.add(now, d.cfg.ShortWindow, SignalSlow, ds, dv)
	}
}

// slowCount returns the number of observations above threshold, which must
// be one of the bounds: bucket i holds (bounds[i-1], bounds[i]].
func slowCount(bounds []float64, buckets []uint64, threshold float64) (float64, bool) {
	if len(buckets) != len(bounds)+1 {
		return 0, false
	}
	for i, b := range bounds {
		if math.Abs(b-threshold) <= 1e-9*threshold {
			var n uint64
			for _, c := range buckets[i+1:] {
				n += c
			}
			return float64(n), true
		}
	}
	return 0, false
}
