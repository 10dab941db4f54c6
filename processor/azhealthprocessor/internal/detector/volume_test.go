package detector_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/azsim"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// volumeTrace records, over a run, what the volume signal said about each zone.
type volumeTrace struct {
	verdicts map[string]int // ticks with a volume verdict, per zone
	breaches map[string]int // ticks with a volume breach, per zone
	events   []string       // alarm_state and shift events, "zone: message"
}

func traceVolume(sc *azsim.Scenario, also func(at time.Duration, r detector.Report)) *volumeTrace {
	tr := &volumeTrace{verdicts: map[string]int{}, breaches: map[string]int{}}
	sc.OnTick = func(at time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			if !math.IsNaN(z.PValue[detector.SignalVolume]) {
				tr.verdicts[z.Zone]++
			}
			if z.Breach[detector.SignalVolume] {
				tr.breaches[z.Zone]++
			}
		}
		for _, e := range r.Events {
			tr.events = append(tr.events, e.Zone+": "+e.Message)
		}
		if also != nil {
			also(at, r)
		}
	}
	return tr
}

// TestVolumeCollapseAlarmsOnVolume: a zone that completes 7 % of its share, with nothing
// wrong in what it does report, alarms and is evacuated on the volume signal alone, and says so.
func TestVolumeCollapseAlarmsOnVolume(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		sc := base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.07})
		tr := traceVolume(&sc, nil)
		res := run(t, sc)
		if res.TimeToAlarm < 0 || res.TimeToShift < 0 || res.Shifts != 1 || res.OtherAlarms != 0 {
			t.Fatalf("seed %d: alarm %v shift %v (%d shifts, %d other alarms, blocked %v); want one shift of %s",
				seed, res.TimeToAlarm, res.TimeToShift, res.Shifts, res.OtherAlarms, res.Blocked, zoneA)
		}
		var alarm, shift bool
		for _, e := range tr.events {
			alarm = alarm || (strings.HasPrefix(e, zoneA+": ") && strings.Contains(e, "-> ALARM (breaching: volume)"))
			shift = shift || (strings.HasPrefix(e, zoneA+": evacuating zone (breaching: volume;"))
		}
		if !alarm || !shift {
			t.Errorf("seed %d: events do not name the volume signal for the alarm (%v) and the shift (%v):\n%s",
				seed, alarm, shift, strings.Join(tr.events, "\n"))
		}
		for z, n := range tr.breaches {
			if z != zoneA {
				t.Errorf("seed %d: %d volume breaches in %s, which only took more than its share", seed, n, z)
			}
		}
	}
}

// TestVolumeNeverFires: the situations in which fewer reports are not evidence of a bad zone.
// Each must give no volume breach at all; where the signal has a verdict the test also asks
// that it had one, so a signal that never decides cannot pass.
func TestVolumeNeverFires(t *testing.T) {
	cases := []struct {
		name string
		sc   azsim.Scenario
		// verdicts: the signal must have decided on most ticks (it is not silenced).
		verdicts bool
	}{
		{
			// Lost batches delay cumulative counts to a later report; they do not remove them.
			name: "telemetry loss 30%", verdicts: true,
			sc: base(1, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, TelemetryLoss: 0.3}),
		},
		{
			name: "telemetry loss 30%, another seed", verdicts: true,
			sc: base(2, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, TelemetryLoss: 0.3}),
		},
		{
			// Telemetry lost event by event (not as whole batches of cumulative counters) is lost
			// for good: 30 % of the zone's invocations never counted look like a zone completing
			// 70 % of its share, well above half of it. Only a loss above 60 % would cross.
			name: "30% of the zone's invocation events lost for good", verdicts: true,
			sc: base(1, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.7}),
		},
		{
			// A zone that sends nothing is stale, not deficient: its traffic is unknown.
			name: "blackout", verdicts: true,
			sc: base(1, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Blackout: true}),
		},
		{
			// 0.1 invocations/s per zone: even 5 minutes expect fewer than min_volume per zone.
			name: "low totals",
			sc: func() azsim.Scenario {
				s := base(1, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.05})
				s.RPS, s.EnvsPerZone = 0.1, 2
				return s
			}(),
		},
		{
			// Environments recycled every few minutes in every zone, new ones starting cold.
			name: "environment churn", verdicts: true,
			sc: func() azsim.Scenario {
				s := base(1, time.Hour)
				s.EnvLifetime = 2 * time.Minute
				return s
			}(),
		},
		{
			// Two zones collapse: the rest is not healthy, so neither breaches (regional).
			name: "two zones collapse", verdicts: true,
			sc: base(1, 10*time.Minute,
				azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.07},
				azsim.Fault{Zone: zoneB, At: faultAt, Throughput: 0.07}),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ticks := 0
			tr := traceVolume(&c.sc, func(time.Duration, detector.Report) { ticks++ })
			res := run(t, c.sc)
			if len(tr.breaches) != 0 {
				t.Errorf("volume breaches %v, want none", tr.breaches)
			}
			if res.Shifts != 0 {
				t.Errorf("%d shifts, want none", res.Shifts)
			}
			if res.AlarmTicks != 0 {
				t.Errorf("%d zone-ticks in ALARM, want none", res.AlarmTicks)
			}
			for _, z := range []string{zoneA, zoneB, "use1-az4"} {
				n := tr.verdicts[z]
				if c.verdicts && z == "use1-az4" && n < ticks/2 {
					t.Errorf("%s: a volume verdict on %d of %d ticks; the case tests nothing", z, n, ticks)
				}
				if !c.verdicts && n != 0 {
					t.Errorf("%s: a volume verdict on %d ticks, want none below the volume gate", z, n)
				}
			}
		})
	}
}

// TestVolumeTwoZonesRegional: two zones whose throughput collapses at once raise the regional
// alert (the volume signal counts toward it like the others) and nothing is shifted.
func TestVolumeTwoZonesRegional(t *testing.T) {
	res := run(t, base(1, 10*time.Minute,
		azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.07},
		azsim.Fault{Zone: zoneB, At: faultAt, Throughput: 0.07}))
	if res.Shifts != 0 || res.TimeToRegional < 0 || res.TimeToRegional > 2*time.Minute {
		t.Errorf("%d shifts, regional after %v; want none and a regional alert within 2 min", res.Shifts, res.TimeToRegional)
	}
}

// TestVolumeQuietWhileShifted: a zone shifted away takes no traffic and one failing back takes a
// fraction of it; neither is a deficit. A crash evacuates the zone, the zone recovers, fails back
// through every stage and returns to full weight without a volume breach, a second shift, or
// the volume signal judging it before it has held full weight for a whole window.
func TestVolumeQuietWhileShifted(t *testing.T) {
	sc := base(1, time.Hour, azsim.Fault{Zone: zoneA, At: faultAt, Until: faultAt + 5*time.Minute, Crash: true})
	var shiftedAt, fullAt time.Duration = -1, -1
	weight := map[string]float64{}
	judgedOutOfWeight, breachesAfterShift, lastVerdict := 0, 0, time.Duration(-1)
	sc.OnTick = func(at time.Duration, r detector.Report) {
		for _, z := range r.Zones {
			if z.Zone != zoneA {
				if shiftedAt >= 0 && z.Breach[detector.SignalVolume] {
					breachesAfterShift++
				}
				continue
			}
			// The weight the previous tick decided is what the zone had during this one.
			if w, ok := weight[z.Zone]; ok && w < 1 && !math.IsNaN(z.PValue[detector.SignalVolume]) {
				judgedOutOfWeight++
			}
			if fullAt >= 0 && at-fullAt < time.Minute && !math.IsNaN(z.PValue[detector.SignalVolume]) {
				judgedOutOfWeight++
			}
			if shiftedAt >= 0 && z.Breach[detector.SignalVolume] {
				breachesAfterShift++
			}
			if !math.IsNaN(z.PValue[detector.SignalVolume]) {
				lastVerdict = at
			}
			if z.Evacuate && shiftedAt < 0 {
				shiftedAt = at
			}
			if shiftedAt >= 0 && fullAt < 0 && z.TrafficWeight == 1 {
				fullAt = at
			}
			weight[z.Zone] = z.TrafficWeight
		}
	}
	res := run(t, sc)
	if res.Shifts != 1 || shiftedAt < 0 || fullAt < 0 {
		t.Fatalf("%d shifts, shifted at %v, back at full weight at %v; want one shift and a complete fail-back (blocked %v)",
			res.Shifts, shiftedAt, fullAt, res.Blocked)
	}
	if judgedOutOfWeight != 0 {
		t.Errorf("the volume signal judged %s on %d ticks below full weight or within a window of its return", zoneA, judgedOutOfWeight)
	}
	if breachesAfterShift != 0 {
		t.Errorf("%d volume breaches after the shift", breachesAfterShift)
	}
	if lastVerdict <= fullAt {
		t.Errorf("no volume verdict on %s after its return to full weight at %v: it must be judged again", zoneA, fullAt)
	}
}
