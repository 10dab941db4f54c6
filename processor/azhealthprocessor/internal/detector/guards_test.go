package detector_test

import (
	"testing"
	"time"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/azsim"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// compressed shortens the recovery durations the way a demo does.
func compressed(sc *azsim.Scenario) {
	sc.Config = detector.DefaultConfig()
	sc.Config.MinEvacuation = 2 * time.Minute
	sc.Config.FailbackStageDuration = 30 * time.Second
	sc.Config.LongWindow = 2 * time.Minute
}

func errors5(seed uint64) azsim.Scenario {
	return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.05})
}

// blockedOnly asserts the zone alarmed, nothing shifted, and reason was the
// (first) block recorded.
func blockedOnly(t *testing.T, res azsim.Result, reason string) {
	t.Helper()
	if res.TimeToAlarm < 0 {
		t.Fatal("no ALARM")
	}
	if res.Shifts != 0 {
		t.Errorf("%d shifts, want none", res.Shifts)
	}
	if res.Blocked[reason] == 0 {
		t.Errorf("blocked %v, want %s", res.Blocked, reason)
	}
}

func TestGuardKillSwitch(t *testing.T) {
	sc := errors5(1)
	sc.Defaults()
	sc.Config.KillSwitch = true
	blockedOnly(t, run(t, sc), detector.BlockKillSwitch)
}

func TestGuardBlockedWindow(t *testing.T) {
	sc := errors5(1)
	sc.Defaults()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sc.Config.BlockedWindows = []detector.TimeRange{{Start: t0, End: t0.Add(time.Hour)}}
	blockedOnly(t, run(t, sc), detector.BlockBlockedWindow)
}

func TestGuardBreadth(t *testing.T) {
	// One host failing every call: the zone's error rate is ~5 % but the
	// fault is a host, not the zone.
	sc := base(1, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 1, Environments: 1})
	blockedOnly(t, run(t, sc), detector.BlockBreadth)

	// Four of twenty environments (20 %) is a zone-wide fault.
	sc = base(1, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.25, Environments: 4})
	if res := run(t, sc); res.Shifts != 1 {
		t.Errorf("4 of 20 environments failing: %d shifts, want 1 (blocked %v)", res.Shifts, res.Blocked)
	}
}

func TestGuardCapacity(t *testing.T) {
	sc := errors5(1)
	sc.Defaults()
	sc.Config.Capacity = map[string]float64{zoneB: 1, "use1-az4": 1}
	blockedOnly(t, run(t, sc), detector.BlockCapacity)
}

func TestTwoZones(t *testing.T) {
	// Two zones: the survivor must carry all the traffic. 200 rps × 30 ms
	// needs 6 environments, 7.5 with headroom.
	sc := errors5(2)
	sc.Zones = []string{zoneA, zoneB}
	if res := run(t, sc); res.Shifts != 1 || res.TimeToShift > 90*time.Second {
		t.Errorf("two zones, survivor large enough: %d shifts after %v, want 1 within 90 s (blocked %v)", res.Shifts, res.TimeToShift, res.Blocked)
	}
	sc.Defaults()
	sc.Config.Capacity = map[string]float64{zoneB: 7}
	blockedOnly(t, run(t, sc), detector.BlockCapacity)
}

func TestGuardQuorum(t *testing.T) {
	// Without canaries, a silent zone leaves the view partial.
	sc := base(1, 5*time.Minute,
		azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.05},
		azsim.Fault{Zone: zoneB, At: faultAt, Blackout: true})
	sc.CanaryRPS = 0
	blockedOnly(t, run(t, sc), detector.BlockTelemetryQuorum)
}

func TestGuardMultipleZonesInAlarm(t *testing.T) {
	sc := base(1, 5*time.Minute,
		azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.05},
		azsim.Fault{Zone: zoneB, At: faultAt, SlowFraction: 1})
	sc.Defaults()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Hold both alarms back until both zones are in ALARM.
	sc.Config.BlockedWindows = []detector.TimeRange{{Start: t0, End: t0.Add(faultAt + 3*time.Minute)}}
	res := run(t, sc)
	if res.Shifts != 0 || res.Blocked[detector.BlockMultipleZones] == 0 {
		t.Errorf("%d shifts, blocked %v; want none and %s", res.Shifts, res.Blocked, detector.BlockMultipleZones)
	}
}

func TestGuardOneZoneShiftedAtATime(t *testing.T) {
	sc := base(1, 8*time.Minute,
		azsim.Fault{Zone: zoneA, At: faultAt, Crash: true},
		// Another signal: errors in a second zone while the first is out
		// would be regional (two zones over the gate on the canaries).
		azsim.Fault{Zone: zoneB, At: faultAt + 3*time.Minute, SlowFraction: 1})
	var bAlarm bool
	sc.OnTick = func(_ time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			if z.Zone == zoneB && z.State == detector.StateAlarm {
				bAlarm = true
			}
		}
	}
	res := run(t, sc)
	if !bAlarm {
		t.Fatal("second zone never in ALARM")
	}
	if res.Shifts != 1 || res.Blocked[detector.BlockZoneShifted] == 0 {
		t.Errorf("%d shifts, blocked %v; want 1 and %s", res.Shifts, res.Blocked, detector.BlockZoneShifted)
	}
}

func TestGuardRateLimit(t *testing.T) {
	sc := base(1, 40*time.Minute,
		azsim.Fault{Zone: zoneA, At: faultAt, Until: faultAt + 2*time.Minute, Crash: true},
		azsim.Fault{Zone: zoneA, At: faultAt + 25*time.Minute, Crash: true})
	compressed(&sc)
	sc.Config.MaxShifts = 1
	res := run(t, sc)
	if res.Shifts != 1 || res.Blocked[detector.BlockRateLimit] == 0 {
		t.Errorf("%d shifts, blocked %v; want 1 and %s", res.Shifts, res.Blocked, detector.BlockRateLimit)
	}
	if res.FinalWeights[zoneA] != 1 {
		t.Errorf("zone weight %v at the end, want 1: the second crash is blocked", res.FinalWeights[zoneA])
	}
}

func TestGuardZoneChangeCooldown(t *testing.T) {
	faults := []azsim.Fault{
		{Zone: zoneA, At: faultAt, Until: faultAt + 2*time.Minute, Crash: true},
		{Zone: zoneB, At: 1000 * time.Hour, Crash: true}, // moved when A is back
	}
	sc := base(1, 40*time.Minute)
	sc.Faults = faults
	compressed(&sc)
	var wasShifted bool
	var bShiftAt, aBackAt time.Duration = -1, -1
	sc.OnTick = func(at time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			switch {
			case z.Zone == zoneA && z.Evacuate:
				wasShifted = true
			case z.Zone == zoneA && wasShifted && z.TrafficWeight == 1 && aBackAt < 0:
				aBackAt = at
				faults[1].At = at // the Run loop reads the same backing array
			case z.Zone == zoneB && z.Evacuate && bShiftAt < 0:
				bShiftAt = at
			}
		}
	}
	res := run(t, sc)
	if aBackAt < 0 || bShiftAt < 0 {
		t.Fatalf("zone A back at %v, zone B shifted at %v; blocked %v", aBackAt, bShiftAt, res.Blocked)
	}
	if res.Blocked[detector.BlockZoneChangeCooldn] == 0 {
		t.Errorf("blocked %v, want %s", res.Blocked, detector.BlockZoneChangeCooldn)
	}
	if got := bShiftAt - aBackAt; got < 10*time.Minute || got > 11*time.Minute {
		t.Errorf("zone B shifted %v after zone A's shift ended, want just after the 10 min cooldown", got)
	}
}

// TestRecoveryStagedFailback: a crash that ends. The zone stays out for
// the minimum evacuation time and until its canaries are healthy, then
// traffic returns 10 → 25 → 50 → 100 %, each stage held.
func TestRecoveryStagedFailback(t *testing.T) {
	sc := base(1, 60*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Until: faultAt + 5*time.Minute, Crash: true})
	type change struct {
		at     time.Duration
		weight float64
	}
	var changes []change
	last := 1.0
	sc.OnTick = func(at time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			if z.Zone == zoneA && z.TrafficWeight != last {
				changes = append(changes, change{at, z.TrafficWeight})
				last = z.TrafficWeight
			}
		}
	}
	res := run(t, sc)
	want := []float64{0, 0.1, 0.25, 0.5, 1}
	if len(changes) != len(want) {
		t.Fatalf("weight changes %v, want %v", changes, want)
	}
	for i, c := range changes {
		if c.weight != want[i] {
			t.Errorf("change %d: weight %v, want %v", i, c.weight, want[i])
		}
		if i >= 2 && c.at-changes[i-1].at < 5*time.Minute {
			t.Errorf("stage %v held %v, want ≥ 5 min", changes[i-1].weight, c.at-changes[i-1].at)
		}
	}
	if out := changes[1].at - changes[0].at; out < 15*time.Minute {
		t.Errorf("fail-back after %v, want ≥ the 15 min minimum evacuation", out)
	}
	if res.Shifts != 1 {
		t.Errorf("%d shifts, want 1", res.Shifts)
	}
}

// TestRecoveryReshiftOnBreach: the fault comes back during fail-back; the
// zone is evacuated again at once and, as the second shift of the zone in
// 24 h, stays out at least twice as long.
func TestRecoveryReshiftOnBreach(t *testing.T) {
	faults := []azsim.Fault{
		{Zone: zoneA, At: faultAt, Until: faultAt + 5*time.Minute, ErrorRate: 0.2},
		{Zone: zoneA, At: 1000 * time.Hour, ErrorRate: 0.2},
	}
	sc := base(1, 90*time.Minute)
	sc.Faults = faults
	var failback, reshift, second time.Duration = -1, -1, -1
	shifted := false
	sc.OnTick = func(at time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			if z.Zone != zoneA {
				continue
			}
			switch {
			case z.Evacuate && !shifted:
				shifted = true
			case shifted && failback < 0 && z.TrafficWeight > 0:
				failback = at
				faults[1].At, faults[1].Until = at, at+5*time.Minute // the fault is back
			case failback >= 0 && reshift < 0 && z.Evacuate:
				reshift = at
			case reshift >= 0 && second < 0 && z.TrafficWeight > 0:
				second = at
			}
		}
	}
	res := run(t, sc)
	if failback < 0 || reshift < 0 {
		t.Fatalf("fail-back at %v, re-shift at %v", failback, reshift)
	}
	if d := reshift - failback; d > time.Minute {
		t.Errorf("re-shift %v after the fault came back, want within 1 min", d)
	}
	if second >= 0 && second-reshift < 30*time.Minute {
		t.Errorf("second fail-back %v after the re-shift, want ≥ 30 min (15 min × 2)", second-reshift)
	}
	if second < 0 {
		t.Errorf("no second fail-back within the run")
	}
	if res.Shifts != 2 {
		t.Errorf("%d evacuations, want 2", res.Shifts)
	}
}
