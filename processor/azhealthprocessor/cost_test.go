package azhealthprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/azlens/azlens/internal/contract"
)

// BenchmarkCostCurveObserve is the processor's side of the detector's BenchmarkCostCurve (in
// internal/detector, which fills the 5-minute window on a simulated clock and measures the heap):
// what the processor adds per tick for a fleet of functions × 3 zones × 10 environments — turning
// every environment's cumulative faas.invocations and faas.invoke_duration points (pdata, as the
// receiver emits them, 100 environments per ConsumeMetrics as a batch processor would send) into
// the detector's series — and one evaluation with the verdict metrics it builds. Time is the
// real clock here, so the windows hold one tick: this measures the conversion, not the window.
func BenchmarkCostCurveObserve(b *testing.B) {
	for _, functions := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("functions=%d", functions), func(b *testing.B) {
			p, err := newProcessor(processortest.NewNopSettings(componentType), createDefaultConfig().(*Config), consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			batches, series := costFleet(functions, 100)
			ctx := context.Background()
			for b.Loop() {
				for _, md := range batches {
					if err := p.ConsumeMetrics(ctx, md); err != nil {
						b.Fatal(err)
					}
				}
				p.evaluate(ctx)
			}
			perTick := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(series), "series")
			b.ReportMetric(float64(perTick.Nanoseconds())/float64(series), "tick-ns/series")
			b.ReportMetric(float64(perTick.Microseconds())/1e3, "tick-ms")
			b.ReportMetric(perTick.Seconds()/10, "core-share")
		})
	}
}

// costFleet is one report period of functions × 3 zones × 10 environments, in batches of perBatch
// environments, and the number of series it carries.
func costFleet(functions, perBatch int) ([]pmetric.Metrics, int) {
	var out []pmetric.Metrics
	md, envs, series := pmetric.NewMetrics(), 0, 0
	start := pcommon.NewTimestampFromTime(time.Now().Add(-time.Hour))
	for f := range functions {
		fn := fmt.Sprintf("fn-%05d", f)
		for _, z := range []string{"use1-az1", "use1-az2", "use1-az3"} {
			for e := range 10 {
				rm := md.ResourceMetrics().AppendEmpty()
				res := rm.Resource().Attributes()
				res.PutStr(attrFunction, fn)
				res.PutStr(attrZone, z)
				res.PutStr(attrInstance, fmt.Sprintf("%s-env%d", z, e))
				res.PutStr(attrRegion, "us-east-1")
				ms := rm.ScopeMetrics().AppendEmpty().Metrics()
				inv := ms.AppendEmpty()
				inv.SetName(contract.MetricInvocations)
				sum := inv.SetEmptySum()
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				sum.SetIsMonotonic(true)
				for outcome, v := range map[string]int64{"success": 1000, "error": 1} {
					dp := sum.DataPoints().AppendEmpty()
					dp.Attributes().PutStr(contract.AttrOutcome, outcome)
					dp.SetStartTimestamp(start)
					dp.SetIntValue(v)
				}
				dur := ms.AppendEmpty()
				dur.SetName(contract.MetricInvokeDuration)
				h := dur.SetEmptyHistogram()
				h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				dp := h.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(start)
				dp.ExplicitBounds().FromRaw(contract.DurationBounds)
				buckets := make([]uint64, len(contract.DurationBounds)+1)
				buckets[3] = 1001
				dp.BucketCounts().FromRaw(buckets)
				dp.SetCount(1001)
				dp.SetSum(40)
				series += 3
				if envs++; envs%perBatch == 0 {
					out = append(out, md)
					md = pmetric.NewMetrics()
				}
			}
		}
	}
	if md.ResourceMetrics().Len() > 0 {
		out = append(out, md)
	}
	return out, series
}
