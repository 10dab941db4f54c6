// Package azsim simulates the per-zone telemetry of one function as the
// lambdatelemetry receiver delivers it — cumulative counters per execution
// environment, reported in batches that can be lost — plus zone-pinned
// canaries, with faults injected into one or more zones. It drives the
// detector with a simulated clock, closing the loop through the zone traffic
// weights the detector decides, so hours of traffic run in a second.
package azsim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// Fault is injected into one zone from At (an offset from the start of the
// run) until Until (zero: to the end).
type Fault struct {
	Zone  string
	At    time.Duration
	Until time.Duration
	// ErrorRate replaces the baseline error rate of invocations and canaries.
	ErrorRate float64
	// SlowFraction replaces the baseline fraction of invocations slower than 1 s.
	SlowFraction float64
	// Crash: every environment dies; no telemetry, every canary fails.
	Crash bool
	// Blackout: the zone works but none of its telemetry arrives.
	Blackout bool
	// TelemetryLoss is the fraction of telemetry batches lost.
	TelemetryLoss float64
	// Throughput, when in (0, 1), is the fraction of its offered load the zone still
	// completes: the rest never runs to an end that telemetry reports (callers time out
	// and give up on a zone too slow to keep up). Zero leaves the load alone.
	Throughput float64
	// FlapPeriod, when set, switches the fault on and off every period.
	FlapPeriod time.Duration
	// Environments, when set, limits ErrorRate and SlowFraction to that many
	// environments of the zone (one bad host rather than a bad zone).
	Environments int
}

func (f *Fault) active(t time.Duration) bool {
	if t < f.At || (f.Until > 0 && t >= f.Until) {
		return false
	}
	return f.FlapPeriod == 0 || ((t-f.At)/f.FlapPeriod)%2 == 0
}

// Scenario describes one run.
type Scenario struct {
	Function         string
	Zones            []string
	RPS              float64 // offered load per zone when all zones take traffic
	EnvsPerZone      int
	BaseErrorRate    float64
	BaseSlowFraction float64
	CanaryRPS        float64 // per zone; zero runs no canaries
	// CanaryExportInterval is how often the canary runner exports its
	// counters (the emulator's runner: 10 s).
	CanaryExportInterval time.Duration
	ReportInterval       time.Duration // how often an environment sends its counters
	Step                 time.Duration // simulation resolution
	Duration             time.Duration
	// EnvLifetime, when set, recycles each environment after a random
	// lifetime up to twice this, as Lambda does.
	EnvLifetime time.Duration
	Faults      []Fault
	Seed        uint64
	Config      detector.Config
	// OnTick, when set, sees every report.
	OnTick func(at time.Duration, r detector.Report)
}

// Defaults fills the zero fields with the setting of the spec's table:
// 3 zones × 100 rps, 0.1 % baseline errors, Δ = 10 s.
func (s *Scenario) Defaults() {
	if s.Function == "" {
		s.Function = "checkout"
	}
	if len(s.Zones) == 0 {
		s.Zones = []string{"use1-az1", "use1-az2", "use1-az4"}
	}
	if s.RPS == 0 {
		s.RPS = 100
	}
	if s.EnvsPerZone == 0 {
		s.EnvsPerZone = 20
	}
	if s.ReportInterval == 0 {
		s.ReportInterval = 5 * time.Second
	}
	if s.CanaryExportInterval == 0 {
		s.CanaryExportInterval = 10 * time.Second
	}
	if s.Step == 0 {
		s.Step = time.Second
	}
	if s.Config.Tick == 0 {
		s.Config = detector.DefaultConfig()
	}
}

// Result is what happened, times measured from the first fault's start.
type Result struct {
	// TimeToAlarm and TimeToShift are -1 when it never happened.
	TimeToAlarm time.Duration
	TimeToShift time.Duration
	TimeToStale time.Duration
	// TimeToRegional is the first regional alert.
	TimeToRegional time.Duration
	// TimeToFailback is the first tick the shifted zone got traffic back.
	TimeToFailback time.Duration
	Shifts         int // evacuate rising edges over all zones
	AlarmTicks     int // zone-ticks in ALARM over all zones
	OtherAlarms    int // zone-ticks in ALARM in zones without a fault
	FinalWeights   map[string]float64
	Blocked        map[string]uint64
}

type env struct {
	id      string
	start   time.Time
	phase   time.Duration
	dies    time.Duration
	success float64
	errors  float64
	buckets []uint64
	count   uint64
	sum     float64
	keys    [3]string
}

type zoneSim struct {
	name     string
	envs     []*env
	weight   float64
	carry    float64
	cCarry   float64
	cSuccess float64
	cFail    float64
	crashed  bool
}

// Run simulates the scenario.
func Run(sc Scenario) (Result, error) {
	sc.Defaults()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	det, err := detector.New(sc.Config, t0)
	if err != nil {
		return Result{}, err
	}
	rng := rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x9e3779b97f4a7c15))
	envSeq := 0
	newEnv := func(z string, born time.Duration, start time.Time) *env {
		envSeq++
		e := &env{
			id:      fmt.Sprintf("%s-env-%d", z, envSeq),
			start:   start,
			phase:   time.Duration(rng.Int64N(int64(sc.ReportInterval/sc.Step))) * sc.Step,
			buckets: make([]uint64, len(contract.DurationBounds)+1),
		}
		if sc.EnvLifetime > 0 {
			e.dies = born + time.Duration(rng.Int64N(int64(2*sc.EnvLifetime)))
		}
		e.keys = [3]string{e.id + "/invocations/success", e.id + "/invocations/error", e.id + "/duration"}
		return e
	}
	zones := make([]*zoneSim, len(sc.Zones))
	for i, name := range sc.Zones {
		z := &zoneSim{name: name, weight: 1}
		for range sc.EnvsPerZone {
			// Environments that predate the collector: their first report
			// is a baseline.
			z.envs = append(z.envs, newEnv(name, 0, t0.Add(-time.Hour)))
		}
		zones[i] = z
	}

	res := Result{TimeToAlarm: -1, TimeToShift: -1, TimeToStale: -1, TimeToRegional: -1, TimeToFailback: -1}
	var faultAt time.Duration
	target := ""
	if len(sc.Faults) > 0 {
		faultAt, target = sc.Faults[0].At, sc.Faults[0].Zone
	}
	faulty := map[string]bool{}
	for _, f := range sc.Faults {
		faulty[f.Zone] = true
	}
	evacuating := map[string]bool{}
	shifted := false
	pt := &detector.Point{Function: sc.Function}

	for t := time.Duration(0); t < sc.Duration; t += sc.Step {
		now := t0.Add(t + sc.Step)
		var wsum float64
		for _, z := range zones {
			wsum += z.weight
		}
		for _, z := range zones {
			errRate, slow, loss := sc.BaseErrorRate, sc.BaseSlowFraction, 0.0
			affected := len(z.envs)
			canaryErr := 0.0
			crash, blackout := false, false
			throughput := 1.0
			for i := range sc.Faults {
				f := &sc.Faults[i]
				if f.Zone != z.name || !f.active(t) {
					continue
				}
				if f.ErrorRate > 0 {
					errRate, canaryErr = f.ErrorRate, f.ErrorRate
				}
				if f.Environments > 0 {
					affected = f.Environments
					canaryErr = 0
				}
				if f.SlowFraction > 0 {
					slow = f.SlowFraction
				}
				crash = crash || f.Crash
				blackout = blackout || f.Blackout
				loss = max(loss, f.TelemetryLoss)
				if f.Throughput > 0 {
					throughput = min(throughput, f.Throughput)
				}
			}
			if crash {
				canaryErr = 1
			}
			if z.crashed && !crash {
				// The zone comes back with fresh environments.
				for i := range z.envs {
					z.envs[i] = newEnv(z.name, t, now)
				}
			}
			z.crashed = crash

			// Offered load follows the traffic weights, as the router does.
			load := 0.0
			if wsum > 0 {
				load = sc.RPS * float64(len(zones)) * z.weight / wsum * throughput
			}
			z.carry += load * sc.Step.Seconds()
			n := int(z.carry)
			z.carry -= float64(n)
			if !crash && len(z.envs) > 0 {
				off := rng.IntN(len(z.envs))
				for j := range n {
					idx := (off + j) % len(z.envs)
					e := z.envs[idx]
					errRate, slow := errRate, slow
					if idx >= affected {
						errRate, slow = sc.BaseErrorRate, sc.BaseSlowFraction
					}
					if rng.Float64() < errRate {
						e.errors++
					} else {
						e.success++
					}
					u := rng.Float64()
					b, d := 2, 0.02
					switch {
					case u < slow:
						b, d = 8, 1.5
					case u < slow+(1-slow)/2:
						b, d = 3, 0.04
					}
					e.buckets[b]++
					e.count++
					e.sum += d
				}
			}

			z.cCarry += sc.CanaryRPS * sc.Step.Seconds()
			for z.cCarry >= 1 {
				z.cCarry--
				if rng.Float64() < canaryErr {
					z.cFail++
				} else {
					z.cSuccess++
				}
			}

			for i, e := range z.envs {
				if (t+sc.Step-e.phase)%sc.ReportInterval == 0 && !crash && !blackout && !(loss > 0 && rng.Float64() < loss) {
					report(det, now, pt, z.name, e)
				}
				if e.dies > 0 && t >= e.dies && !crash {
					if !blackout {
						report(det, now, pt, z.name, e) // the last flush at shutdown
					}
					z.envs[i] = newEnv(z.name, t, now)
				}
			}
			if sc.CanaryRPS > 0 && (t+sc.Step)%sc.CanaryExportInterval == 0 {
				pt.Zone, pt.Environment, pt.Kind, pt.Start = z.name, "", detector.KindCanary, t0
				pt.Series, pt.Outcome, pt.Value = z.name+"/canary/success", "success", z.cSuccess
				det.Observe(now, pt)
				pt.Series, pt.Outcome, pt.Value = z.name+"/canary/failure", "failure", z.cFail
				det.Observe(now, pt)
			}
		}

		if (t+sc.Step)%sc.Config.Tick != 0 {
			continue
		}
		for _, r := range det.Tick(now) {
			at := t + sc.Step
			if sc.OnTick != nil {
				sc.OnTick(at, r)
			}
			if r.Regional && res.TimeToRegional < 0 && at >= faultAt && len(sc.Faults) > 0 {
				res.TimeToRegional = at - faultAt
			}
			for _, zr := range r.Zones {
				for _, z := range zones {
					if z.name == zr.Zone {
						z.weight = zr.TrafficWeight
					}
				}
				if zr.State == detector.StateAlarm {
					res.AlarmTicks++
					if !faulty[zr.Zone] {
						res.OtherAlarms++
					}
				}
				if zr.Zone == target && at >= faultAt {
					if zr.State == detector.StateAlarm && res.TimeToAlarm < 0 {
						res.TimeToAlarm = at - faultAt
					}
					if zr.Stale && res.TimeToStale < 0 {
						res.TimeToStale = at - faultAt
					}
					if zr.Evacuate && res.TimeToShift < 0 {
						res.TimeToShift = at - faultAt
					}
					if shifted && zr.TrafficWeight > 0 && res.TimeToFailback < 0 {
						res.TimeToFailback = at - faultAt
					}
				}
				if zr.Evacuate && !evacuating[zr.Zone] {
					res.Shifts++
					shifted = true
				}
				evacuating[zr.Zone] = zr.Evacuate
			}
			res.Blocked = r.Blocked
		}
	}
	res.FinalWeights = map[string]float64{}
	for _, z := range zones {
		res.FinalWeights[z.name] = z.weight
	}
	return res, nil
}

func report(det *detector.Detector, now time.Time, pt *detector.Point, zone string, e *env) {
	pt.Zone, pt.Environment, pt.Start = zone, e.id, e.start
	pt.Kind, pt.Bounds, pt.Buckets = detector.KindInvocations, nil, nil
	pt.Series, pt.Outcome, pt.Value = e.keys[0], "success", e.success
	det.Observe(now, pt)
	if e.errors > 0 {
		// The receiver creates the error series on the first error.
		pt.Series, pt.Outcome, pt.Value = e.keys[1], "error", e.errors
		det.Observe(now, pt)
	}
	pt.Kind, pt.Series, pt.Outcome = detector.KindDuration, e.keys[2], ""
	pt.Count, pt.Sum, pt.Bounds, pt.Buckets = e.count, e.sum, contract.DurationBounds, e.buckets
	det.Observe(now, pt)
}
