package detector_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/azsim"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// b9Seeds is how many seeded runs each row of the table gets.
const b9Seeds = 100

// BenchmarkB9Detection is benchmark B9 of docs/benchmark-suite.md: for each row
// of the expected-detection table, the simulated time from fault start to
// ALARM and to zonal shift over many seeds (median and p90), printed beside
// the spec's expectation. Wall time per op is one full pass over the table.
//
//	go test -run '^$' -bench B9 -benchtime 1x -v ./processor/azhealthprocessor/internal/detector/
func BenchmarkB9Detection(b *testing.B) {
	for b.Loop() {
		for _, r := range b9Table() {
			var alarms, shifts []time.Duration
			fired, notOne, failback := 0, 0, 0
			for seed := uint64(1); seed <= b9Seeds; seed++ {
				res, err := azsim.Run(r.scenario(seed))
				if err != nil {
					b.Fatal(err)
				}
				if res.TimeToAlarm >= 0 {
					fired++
					alarms = append(alarms, res.TimeToAlarm)
				}
				if res.TimeToShift >= 0 {
					shifts = append(shifts, res.TimeToShift)
				}
				if (r.alarmMax > 0 && res.Shifts != 1) || (r.alarmMax == 0 && res.Shifts != 0) {
					notOne++
				}
				if res.TimeToFailback >= 0 {
					failback++
				}
			}
			b.Logf("%-38s expected %-18s alarm %3d/%d median %-6s p90 %-6s | shift %3d/%d median %-6s p90 %-6s | wrong shift count %d, fail-back during fault %d",
				r.name, r.expected, fired, b9Seeds, quantile(alarms, 0.5), quantile(alarms, 0.9),
				len(shifts), b9Seeds, quantile(shifts, 0.5), quantile(shifts, 0.9), notOne, failback)
		}
	}
}

type b9Row struct {
	row
	expected string
}

func b9Table() []b9Row {
	expected := map[string]string{
		"crash":                                 "~50 s",
		"errors 5%":                             "60-70 s",
		"errors 2%":                             "~80 s",
		"errors 0.3%":                           "never",
		"latency 100%":                          "~50 s",
		"latency 10%":                           "80-90 s",
		"latency 3%":                            "never",
		"latency 100% with throughput collapse": "~50 s",
		"throughput collapse":                   "(not in spec)",
		"low traffic 2 rps, 10% errors":         "60-110 s",
		"telemetry loss 30%":                    "never",
		"telemetry loss 30% + errors 5%":        "60-70 s",
		"flapping 5% every 30 s":                "60-70 s, one shift",
	}
	var out []b9Row
	for _, r := range table {
		out = append(out, b9Row{row: r, expected: expected[r.name]})
	}
	return out
}

func quantile(ds []time.Duration, q float64) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprint(s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Second))
}

// BenchmarkB9Tick measures one evaluation tick for 3 zones × 100
// environments, with every environment reporting once per tick.
func BenchmarkB9Tick(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	det, err := detector.New(detector.DefaultConfig(), t0)
	if err != nil {
		b.Fatal(err)
	}
	type envPoints struct{ ok, bad, dur detector.Point }
	var envs []*envPoints
	for _, z := range []string{"use1-az1", "use1-az2", "use1-az4"} {
		for i := range 100 {
			id := fmt.Sprintf("%s-%d", z, i)
			mk := func(series string, k detector.Kind, outcome string) detector.Point {
				return detector.Point{Function: "f", Zone: z, Environment: id, Series: id + series,
					Kind: k, Outcome: outcome, Start: t0, Bounds: contract.DurationBounds,
					Buckets: make([]uint64, len(contract.DurationBounds)+1)}
			}
			envs = append(envs, &envPoints{
				ok:  mk("/ok", detector.KindInvocations, "success"),
				bad: mk("/err", detector.KindInvocations, "error"),
				dur: mk("/dur", detector.KindDuration, ""),
			})
		}
	}
	now := t0
	step := func() {
		now = now.Add(10 * time.Second)
		for _, e := range envs {
			e.ok.Value += 10
			e.bad.Value += 0.01
			e.dur.Count += 10
			e.dur.Buckets[3] += 10
			e.dur.Sum += 0.4
			det.Observe(now, &e.ok)
			det.Observe(now, &e.bad)
			det.Observe(now, &e.dur)
		}
	}
	for range 40 { // fill the long window
		step()
		det.Tick(now)
	}
	b.Run("tick", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(10 * time.Second)
			det.Tick(now)
		}
	})
	b.Run("observe_300_envs_and_tick", func(b *testing.B) {
		for b.Loop() {
			step()
			det.Tick(now)
		}
	})
}
