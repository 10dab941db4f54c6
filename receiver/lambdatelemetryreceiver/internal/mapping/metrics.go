package mapping

import (
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
)

var outcomes = [...]string{contract.OutcomeSuccess, contract.OutcomeError, contract.OutcomeTimeout, contract.OutcomeFailure}

func outcomeIndex(status string) int {
	switch status {
	case contract.OutcomeSuccess:
		return 0
	case contract.OutcomeTimeout:
		return 2
	case contract.OutcomeFailure:
		return 3
	}
	// Any other status is an error: the Telemetry API documents four values.
	return 1
}

// Bucket bounds. Durations use contract.DurationBounds (seconds); memory uses
// powers of two from 32 MiB to Lambda's 10,240 MB maximum.
var (
	memoryBounds = []float64{32 << 20, 64 << 20, 128 << 20, 256 << 20, 512 << 20, 1 << 30, 2 << 30, 4 << 30, 8 << 30, 10240 << 20}
)

type histogram struct {
	bounds   []float64
	counts   []uint64
	count    uint64
	sum      float64
	min, max float64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) record(v float64) {
	// Bucket i holds (bounds[i-1], bounds[i]], as OTel explicit buckets do.
	h.counts[sort.SearchFloat64s(h.bounds, v)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if h.count == 0 || v > h.max {
		h.max = v
	}
	h.count++
	h.sum += v
}

type envMetrics struct {
	invocations       [len(outcomes)]uint64
	coldstarts        uint64
	invokeDuration    histogram
	initDuration      histogram
	memUsage          histogram
	billedDuration    histogram
	responseLatency   histogram
	extensionOverhead histogram
	producedBytes     float64
	droppedRecords    float64
}

func (mt *envMetrics) init() {
	mt.invokeDuration = newHistogram(contract.DurationBounds)
	mt.initDuration = newHistogram(contract.DurationBounds)
	mt.memUsage = newHistogram(memoryBounds)
	mt.billedDuration = newHistogram(contract.DurationBounds)
	mt.responseLatency = newHistogram(contract.DurationBounds)
	mt.extensionOverhead = newHistogram(contract.DurationBounds)
}

type agentState struct {
	name, version string
	start         time.Time
	counters      []telemetryevent.Counter
}

func (env *environment) updateAgent(a *telemetryevent.Agent, now time.Time) {
	if env.agent == nil {
		env.agent = &agentState{start: now}
	}
	st := env.agent
	st.name, st.version = a.Name, a.Version
	// A counter going down means the agent restarted: a new cumulative series.
	for _, c := range a.Counters {
		for _, old := range st.counters {
			if old.Key == c.Key && c.Value < old.Value {
				st.start = now
			}
		}
	}
	st.counters = st.counters[:0]
	for _, c := range a.Counters {
		st.counters = append(st.counters, telemetryevent.Counter{Key: contract.MetricAgentPrefix + c.Key, Value: c.Value})
	}
}

// emitMetrics appends the environment's cumulative metrics to out.
func (m *Mapper) emitMetrics(env *environment, now time.Time, out *Output) {
	env.dirty = false
	rm := out.Metrics.ResourceMetrics().AppendEmpty()
	env.resource.CopyTo(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	m.scope(sm.Scope())
	ms := sm.Metrics()
	start, stamp := ts(env.firstSeen), ts(now)
	mt := &env.metrics
	// Sized once: the metrics below (6 sums, 6 histograms) and the agent's counters.
	n := 12
	if env.agent != nil {
		n += len(env.agent.counters)
	}
	ms.EnsureCapacity(n)

	sum := func(name, unit, desc string) pmetric.NumberDataPointSlice {
		mm := ms.AppendEmpty()
		mm.SetName(name)
		mm.SetUnit(unit)
		mm.SetDescription(desc)
		s := mm.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s.DataPoints()
	}
	intPoint := func(dps pmetric.NumberDataPointSlice, v uint64) pmetric.NumberDataPoint {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(stamp)
		dp.SetIntValue(int64(v))
		return dp
	}

	dps := sum(contract.MetricInvocations, "{invocation}", "Invocations of the function in this execution environment, by outcome.")
	dps.EnsureCapacity(4)
	var errs uint64
	// Sorted by outcome, the order golden files and exporters normalise to.
	for _, o := range []string{contract.OutcomeError, contract.OutcomeFailure, contract.OutcomeSuccess, contract.OutcomeTimeout} {
		i := outcomeIndex(o)
		intPoint(dps, mt.invocations[i]).Attributes().PutStr(contract.AttrOutcome, o)
		if i > 0 {
			errs += mt.invocations[i]
		}
	}
	intPoint(sum(contract.MetricErrors, "{invocation}", "Invocations that did not succeed (error, timeout or failure)."), errs)
	intPoint(sum(contract.MetricTimeouts, "{invocation}", "Invocations that timed out."), mt.invocations[2])
	intPoint(sum(contract.MetricColdstarts, "{coldstart}", "Invocations that were the first after an init or restore."), mt.coldstarts)

	hist := func(name, unit, desc string, h *histogram) {
		mm := ms.AppendEmpty()
		mm.SetName(name)
		mm.SetUnit(unit)
		mm.SetDescription(desc)
		hh := mm.SetEmptyHistogram()
		hh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := hh.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(stamp)
		dp.SetCount(h.count)
		dp.SetSum(h.sum)
		if h.count > 0 {
			dp.SetMin(h.min)
			dp.SetMax(h.max)
		}
		dp.ExplicitBounds().FromRaw(h.bounds)
		dp.BucketCounts().FromRaw(h.counts)
	}
	hist(contract.MetricInvokeDuration, "s", "Duration of invocations (platform.report durationMs).", &mt.invokeDuration)
	hist(contract.MetricInitDuration, "s", "Duration of init phases (platform.initReport durationMs).", &mt.initDuration)
	hist(contract.MetricMemUsage, "By", "Maximum memory used per invocation.", &mt.memUsage)
	hist(contract.MetricBilledDuration, "s", "Billed duration of invocations.", &mt.billedDuration)
	hist(contract.MetricResponseLatency, "s", "Time from the invoke hand-off until the runtime began sending its response.", &mt.responseLatency)
	hist(contract.MetricExtensionOverhead, "s", "Time extensions added after the runtime finished (report minus runtimeDone duration).", &mt.extensionOverhead)

	intPoint(sum(contract.MetricProducedBytes, "By", "Bytes of responses produced by the function."), uint64(mt.producedBytes))
	intPoint(sum(contract.MetricDroppedRecords, "{record}", "Telemetry records Lambda dropped (platform.logsDropped)."), uint64(mt.droppedRecords))

	if a := env.agent; a != nil {
		for _, c := range a.counters {
			dp := sum(c.Key, "", "Cumulative counter reported by the azlens agent.").AppendEmpty()
			dp.SetStartTimestamp(ts(a.start))
			dp.SetTimestamp(stamp)
			dp.SetDoubleValue(c.Value)
		}
	}
}
