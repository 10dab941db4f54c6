package mapping

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/telemetryevent"
)

// BenchmarkCostCurveCorrelation measures the receiver's correlation table as it grows: N
// invocations open (platform.start seen, the report not yet — the table holds one up to
// correlation_timeout, so with reports lost N ≈ invocations/s × timeout), either each in an
// execution environment of its own (envs=N: the cost of an environment's state, its cumulative
// metrics included) or spread over 10 environments (envs=10: the cost of an open invocation
// alone). It reports the live heap per open invocation and the cost of one Sweep, which the
// receiver runs on a ticker, per open invocation when nothing is due — the table's steady cost.
func BenchmarkCostCurveCorrelation(b *testing.B) {
	for _, c := range []struct{ envs, n int }{{100, 100}, {1000, 1000}, {10000, 10000}, {100000, 100000},
		{10, 1000}, {10, 10000}, {10, 100000}} {
		n := c.n
		b.Run(fmt.Sprintf("envs=%d/open=%d", c.envs, n), func(b *testing.B) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			bodies := make([][]byte, n)
			for i := range bodies {
				bodies[i] = fmt.Appendf(nil, `[{"time":"2026-03-01T12:00:00.000Z","type":"platform.start","record":{"requestId":"req-%08d","version":"$LATEST"}}]`, i)
			}
			before := heapInUse()
			m := New(Settings{CorrelationTimeout: time.Minute, MaxPending: 2 * n, MaxEnvironments: 2 * n,
				EnvironmentIdle: time.Hour, ScopeName: "bench"})
			var d telemetryevent.Decoder
			for i, body := range bodies {
				batch, err := d.DecodeEvents(body)
				if err != nil {
					b.Fatal(err)
				}
				m.Apply(resource(fmt.Sprintf("env-%06d", i%c.envs)), batch, uint64(i), now)
				d.Release(batch)
			}
			m.Sweep(now) // the first sweep emits every new environment's metrics
			if got := m.Pending(); got != n {
				b.Fatalf("%d open invocations, want %d", got, n)
			}
			heap := heapInUse() - before
			for b.Loop() {
				now = now.Add(time.Second)
				m.Sweep(now)
			}
			if got := m.Pending(); got != n {
				b.Fatalf("%d open invocations after the sweeps, want %d (none was due)", got, n)
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/open")
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "sweep-ns/open")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
