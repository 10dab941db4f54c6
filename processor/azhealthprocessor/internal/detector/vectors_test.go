package detector

import (
	"math"
	"testing"
	"time"
)

// TestVolumeVectors runs the detector on the vectors of the Prometheus rules' volume test
// (deploy/prometheus/tests/volume_test.yaml): three zones, one cumulative counter each, a point
// every 10 s step and a tick after it. Both must agree on when, and whether, a zone alarms.
func TestVolumeVectors(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az4"}
	// perStep returns each zone's invocations in step i (ending at i × 10 s).
	cases := []struct {
		name    string
		perStep func(zone string, i int) float64
		alarmAt time.Duration // first ALARM of use1-az1; zero: no zone ever alarms
		verdict bool          // the volume signal has verdicts
	}{
		{
			name: "one zone falls to 7 % of its share at 2m",
			perStep: func(z string, i int) float64 {
				if z == "use1-az1" && i > 12 {
					return 70
				}
				return 1000
			},
			alarmAt: 3*time.Minute + 20*time.Second, verdict: true,
		},
		{
			name: "two zones fall at once",
			perStep: func(z string, i int) float64 {
				if z != "use1-az4" && i > 12 {
					return 70
				}
				return 1000
			},
			verdict: true,
		},
		{
			name: "low volume",
			perStep: func(z string, i int) float64 {
				if z == "use1-az1" && i > 12 {
					return 0.1
				}
				return 1
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDetector(t)
			cum := map[string]float64{}
			var alarmAt time.Duration
			alarms, verdicts, regional := 0, 0, false
			for i := 0; i <= 42; i++ {
				now := t0.Add(time.Duration(i) * 10 * time.Second)
				for _, z := range zones {
					if i > 0 {
						cum[z] += c.perStep(z, i)
					}
					d.Observe(now, &Point{Function: "fn", Zone: z, Environment: z + "-env-1", Series: z + "/success",
						Kind: KindInvocations, Outcome: "success", Start: t0, Value: cum[z]})
				}
				r := d.Tick(now)[0]
				regional = regional || r.Regional
				for _, zr := range r.Zones {
					if !math.IsNaN(zr.PValue[SignalVolume]) {
						verdicts++
					}
					if zr.State == StateAlarm {
						alarms++
						if zr.Zone == "use1-az1" && alarmAt == 0 {
							alarmAt = now.Sub(t0)
						}
					}
				}
			}
			if alarmAt != c.alarmAt {
				t.Errorf("use1-az1 alarmed at %v, want %v (the rules' AZLensZoneVolumeDeficit)", alarmAt, c.alarmAt)
			}
			if c.alarmAt == 0 && alarms != 0 {
				t.Errorf("%d zone-ticks in ALARM, want none", alarms)
			}
			if c.verdict != (verdicts > 0) {
				t.Errorf("%d volume verdicts, want verdicts: %v", verdicts, c.verdict)
			}
			if c.name == "two zones fall at once" && !regional {
				t.Error("two zones short of their share: no regional alert")
			}
		})
	}
}
