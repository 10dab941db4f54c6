package detector_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// BenchmarkCostCurve measures what the detector costs as a collector's fleet grows: functions ×
// 3 zones × 10 environments each, every environment reporting its three series (successes,
// errors, the duration histogram) once per 10 s tick, on the production timings. Per size it
// reports the detector's live heap once the long window is full (bytes per series, so that
// linear growth shows as a flat line) and the CPU of one tick's work — observing every series
// once and evaluating every function — per series and as a share of one core at a 10 s tick.
// The target (docs/benchmark-suite.md): 10,000 functions × 3 zones within one core and 1 GiB.
func BenchmarkCostCurve(b *testing.B) {
	for _, functions := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("functions=%d", functions), func(b *testing.B) {
			costCurve(b, functions)
		})
	}
}

func costCurve(b *testing.B, functions int) {
	const envsPerZone = 10
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := detector.DefaultConfig()
	// The caller's points (what the processor's metrics pipeline hands over) are made first and
	// counted out: the heap measured is the detector's own.
	points := make([]detector.Point, 0, functions*len(zones)*envsPerZone*3)
	for f := range functions {
		fn := fmt.Sprintf("fn-%05d", f)
		for _, z := range zones {
			for e := range envsPerZone {
				id := fmt.Sprintf("%s/%s-%d", fn, z, e)
				mk := func(series string, k detector.Kind, outcome string) detector.Point {
					return detector.Point{Function: fn, Zone: z, Environment: id, Series: id + series,
						Kind: k, Outcome: outcome, Start: t0, Bounds: contract.DurationBounds,
						Buckets: make([]uint64, len(contract.DurationBounds)+1)}
				}
				points = append(points, mk("/ok", detector.KindInvocations, "success"),
					mk("/err", detector.KindInvocations, "error"), mk("/dur", detector.KindDuration, ""))
			}
		}
	}
	series := len(points)
	before := liveHeap()
	det, err := detector.New(cfg, t0)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	step := func() {
		now = now.Add(cfg.Tick)
		for i := range points {
			p := &points[i]
			switch {
			case p.Kind == detector.KindDuration:
				p.Count += 10
				p.Buckets[3] += 10
				p.Sum += 0.4
			case p.Outcome == "success":
				p.Value += 10
			default:
				p.Value += 0.01
			}
			det.Observe(now, p)
		}
		det.Tick(now)
	}
	// Fill the long window (and a little more, so that old buckets are being dropped).
	for range int(cfg.LongWindow/cfg.Tick) + 5 {
		step()
	}
	heap := liveHeap() - before
	start := time.Now()
	for b.Loop() {
		step()
	}
	perTick := time.Since(start) / time.Duration(b.N)
	runtime.KeepAlive(det)
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(heap)/float64(series), "heap-B/series")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(perTick.Nanoseconds())/float64(series), "tick-ns/series")
	b.ReportMetric(float64(perTick.Microseconds())/1e3, "tick-ms")
	b.ReportMetric(perTick.Seconds()/cfg.Tick.Seconds(), "core-share")
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
