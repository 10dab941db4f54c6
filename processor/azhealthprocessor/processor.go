package azhealthprocessor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.uber.org/zap"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

// Attribute names of the contract with the lambdatelemetry receiver, the
// canary runner and the zonalshift exporter. The metric names and the outcome attribute are the contract package's;
// the resource attributes are OpenTelemetry semantic conventions.
const (
	attrFunction    = string(semconv.FaaSNameKey)
	attrZone        = string(semconv.CloudAvailabilityZoneKey)
	attrInstance    = string(semconv.FaaSInstanceKey)
	attrRegion      = string(semconv.CloudRegionKey)
	attrServiceName = string(semconv.ServiceNameKey)

	scopeName = "github.com/azlens/azlens/processor/azhealthprocessor"
)

// azhealthProcessor owns the detector and the lock that serialises it: the
// data path and the ticker build under the lock, unlock, then call the next
// consumer.
type azhealthProcessor struct {
	logger *zap.Logger
	next   consumer.Metrics
	tick   time.Duration

	mu      sync.Mutex
	det     *detector.Detector
	regions map[string]string // function → cloud.region last seen
	started time.Time         // start of the cumulative shift_blocked counters
	scratch scratch           // observe's buffers, reused under mu

	cancel       context.CancelFunc
	done         chan struct{}
	shutdownOnce sync.Once
}

// scratch holds what observe builds per data point and the detector does not keep: the series
// key's bytes (only the final string is kept), the attribute keys it sorts, and a histogram's
// bounds and bucket counts (read by the detector during Observe). Reusing them leaves one
// allocation per point, the key string, where building afresh made several.
type scratch struct {
	key     []byte
	attrs   []string
	bounds  []float64
	buckets []uint64
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Metrics) (*azhealthProcessor, error) {
	now := time.Now()
	det, err := detector.New(cfg.detectorConfig(), now)
	if err != nil {
		return nil, fmt.Errorf("azhealth: %w", err)
	}
	return &azhealthProcessor{
		logger:  set.Logger,
		next:    next,
		tick:    cfg.Tick,
		det:     det,
		regions: map[string]string{},
		started: now,
	}, nil
}

func (p *azhealthProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start runs the evaluation ticker until Shutdown.
func (p *azhealthProcessor) Start(context.Context, component.Host) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	t := time.NewTicker(p.tick)
	go func() {
		defer close(p.done)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.evaluate(ctx)
			}
		}
	}()
	return nil
}

// Shutdown stops the ticker and waits for it; safe without Start and more
// than once.
func (p *azhealthProcessor) Shutdown(context.Context) error {
	p.shutdownOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
			<-p.done
		}
	})
	return nil
}

// ConsumeMetrics feeds the detector and passes the metrics on unchanged.
func (p *azhealthProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	p.mu.Lock()
	p.observe(md)
	p.mu.Unlock()
	return p.next.ConsumeMetrics(ctx, md)
}

func (p *azhealthProcessor) observe(md pmetric.Metrics) {
	now := time.Now()
	var pt detector.Point
	sc := &p.scratch
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		fn, ok1 := stringAttr(res, attrFunction)
		zone, ok2 := stringAttr(res, attrZone)
		if !ok1 || !ok2 {
			continue
		}
		instance, _ := stringAttr(res, attrInstance)
		if region, ok := stringAttr(res, attrRegion); ok && p.regions[fn] != region {
			p.regions[fn] = region
		}
		pt = detector.Point{Function: fn, Zone: zone, Environment: instance}
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				switch {
				case m.Name() == contract.MetricInvocations && m.Type() == pmetric.MetricTypeSum:
					p.observeSum(now, &pt, sc, m, detector.KindInvocations)
				case m.Name() == contract.MetricCanaryInvocations && m.Type() == pmetric.MetricTypeSum:
					p.observeSum(now, &pt, sc, m, detector.KindCanary)
				case m.Name() == contract.MetricInvokeDuration && m.Type() == pmetric.MetricTypeHistogram:
					p.observeHistogram(now, &pt, sc, m, detector.KindDuration)
				case m.Name() == contract.MetricCanaryDuration && m.Type() == pmetric.MetricTypeHistogram:
					p.observeHistogram(now, &pt, sc, m, detector.KindCanaryDuration)
				}
			}
		}
	}
}

func (p *azhealthProcessor) observeSum(now time.Time, pt *detector.Point, sc *scratch, m pmetric.Metric, kind detector.Kind) {
	sum := m.Sum()
	// Deltas are taken here from cumulative counters; a delta-temporality
	// sender would need a different path.
	if sum.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		return
	}
	dps := sum.DataPoints()
	for i := range dps.Len() {
		dp := dps.At(i)
		if dp.Flags().NoRecordedValue() {
			continue
		}
		pt.Kind = kind
		pt.Outcome, _ = stringAttr(dp.Attributes(), contract.AttrOutcome)
		pt.Series = seriesKey(sc, pt, m.Name(), dp.Attributes())
		pt.Start = startTime(dp.StartTimestamp())
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			pt.Value = float64(dp.IntValue())
		case pmetric.NumberDataPointValueTypeDouble:
			pt.Value = dp.DoubleValue()
		default:
			continue
		}
		p.det.Observe(now, pt)
	}
}

func (p *azhealthProcessor) observeHistogram(now time.Time, pt *detector.Point, sc *scratch, m pmetric.Metric, kind detector.Kind) {
	h := m.Histogram()
	if h.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		return
	}
	dps := h.DataPoints()
	for i := range dps.Len() {
		dp := dps.At(i)
		if dp.Flags().NoRecordedValue() {
			continue
		}
		pt.Kind = kind
		pt.Outcome, _ = stringAttr(dp.Attributes(), contract.AttrOutcome)
		pt.Series = seriesKey(sc, pt, m.Name(), dp.Attributes())
		pt.Start = startTime(dp.StartTimestamp())
		pt.Count, pt.Sum = dp.Count(), dp.Sum()
		sc.bounds, sc.buckets = sc.bounds[:0], sc.buckets[:0]
		for _, v := range dp.ExplicitBounds().All() {
			sc.bounds = append(sc.bounds, v)
		}
		for _, v := range dp.BucketCounts().All() {
			sc.buckets = append(sc.buckets, v)
		}
		pt.Bounds, pt.Buckets = sc.bounds, sc.buckets
		p.det.Observe(now, pt)
	}
}

// seriesKey identifies a cumulative series: function, zone, environment,
// metric and the data point attributes in a stable order.
func seriesKey(s *scratch, pt *detector.Point, metric string, attrs pcommon.Map) string {
	b := append(s.key[:0], pt.Function...)
	b = append(b, 0)
	b = append(b, pt.Zone...)
	b = append(b, 0)
	b = append(b, pt.Environment...)
	b = append(b, 0)
	b = append(b, metric...)
	keys := s.attrs[:0]
	for k := range attrs.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := attrs.Get(k)
		b = append(b, 0)
		b = append(b, k...)
		b = append(b, '=')
		if v.Type() == pcommon.ValueTypeStr {
			b = append(b, v.Str()...)
		} else {
			b = append(b, v.AsString()...)
		}
	}
	s.key, s.attrs = b, keys
	return string(b)
}

func startTime(ts pcommon.Timestamp) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return ts.AsTime()
}

func stringAttr(m pcommon.Map, key string) (string, bool) {
	v, ok := m.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return "", false
	}
	return v.Str(), true
}

// evaluate runs one tick: evaluate under the lock, then log the state
// changes and send each function's verdicts downstream.
func (p *azhealthProcessor) evaluate(ctx context.Context) {
	p.mu.Lock()
	now := time.Now()
	reports := p.det.Tick(now)
	out := make([]pmetric.Metrics, len(reports))
	for i := range reports {
		out[i] = p.buildMetrics(now, &reports[i])
	}
	p.mu.Unlock()

	for _, r := range reports {
		for _, e := range r.Events {
			p.logger.Info("azhealth: "+e.Message,
				zap.String(attrFunction, r.Function), zap.String(attrZone, e.Zone), zap.String("event", e.Kind))
		}
	}
	for _, md := range out {
		if err := p.next.ConsumeMetrics(ctx, md); err != nil {
			p.logger.Warn("azhealth: sending zone verdicts downstream", zap.Error(err))
		}
	}
}

func (p *azhealthProcessor) buildMetrics(now time.Time, r *detector.Report) pmetric.Metrics {
	ts := pcommon.NewTimestampFromTime(now)
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	res := rm.Resource().Attributes()
	res.PutStr(attrFunction, r.Function)
	if region := p.regions[r.Function]; region != "" {
		res.PutStr(attrRegion, region)
	}
	res.PutStr(attrServiceName, "azlens")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	ms := sm.Metrics()

	// The state and flag gauges have no unit: with unit "1" the collector's Prometheus exporter
	// appends "_ratio" (azlens_az_alarm_state_ratio), and the shipped rules, dashboard and
	// `azlens up` read them by their plain names.
	gauge := func(name, unit, desc string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		m.SetDescription(desc)
		return m.SetEmptyGauge().DataPoints()
	}
	point := func(dps pmetric.NumberDataPointSlice, zone string, v float64) pmetric.NumberDataPoint {
		dp := dps.AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(v)
		if zone != "" {
			dp.Attributes().PutStr(attrZone, zone)
		}
		return dp
	}
	pValue := gauge(contract.MetricAZPValue, "", "One-sided p-value of the zone against the other zones, per signal.")
	breach := gauge(contract.MetricAZBreach, "", "1 when the zone breached on the signal this tick.")
	state := gauge(contract.MetricAZAlarmState, "", "Alarm state of the zone: 0 OK, 1 PENDING, 2 ALARM.")
	// The decision time, so whoever reads the state later (a scraper, a timeline) can place
	// the alarm when the detector decided it, not when it happened to look.
	since := gauge(contract.MetricAZAlarmStateSince, "s", "Unix time of the detector tick that set the zone's current alarm state.")
	age := gauge(contract.MetricAZTelemetryAge, "s", "Time since the zone last sent telemetry.")
	stale := gauge(contract.MetricAZTelemetryStale, "", "1 when the zone's telemetry is stale.")
	weight := gauge(contract.MetricAZTrafficWeight, "", "Share of its traffic the zone receives (fail-back stage).")
	evacuate := gauge(contract.MetricAZEvacuate, "", "1 when the zone must be evacuated now: ALARM and every guard passed.")
	for _, z := range r.Zones {
		for s := range detector.NumSignals {
			if !math.IsNaN(z.PValue[s]) {
				point(pValue, z.Zone, z.PValue[s]).Attributes().PutStr("signal", s.String())
			}
			point(breach, z.Zone, b2f(z.Breach[s])).Attributes().PutStr("signal", s.String())
		}
		point(state, z.Zone, float64(z.State))
		if !z.StateSince.IsZero() {
			point(since, z.Zone, float64(z.StateSince.UnixMilli())/1000)
		}
		if z.TelemetryAge >= 0 {
			point(age, z.Zone, z.TelemetryAge.Seconds())
		}
		point(stale, z.Zone, b2f(z.Stale))
		point(weight, z.Zone, z.TrafficWeight)
		point(evacuate, z.Zone, b2f(z.Evacuate))
	}

	m := ms.AppendEmpty()
	m.SetName(contract.MetricAZShiftBlocked)
	m.SetUnit("1")
	m.SetDescription("Decisions to shift a zone that a guard blocked, by reason.")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	reasons := make([]string, 0, len(r.Blocked))
	for k := range r.Blocked {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.started))
		dp.SetTimestamp(ts)
		dp.SetIntValue(int64(r.Blocked[reason]))
		dp.Attributes().PutStr("reason", reason)
	}

	alert := gauge(contract.MetricRegionAlert, "", "1 while more than one zone is unhealthy: a regional problem, no shift.")
	point(alert, "", b2f(r.Regional)).Attributes().PutStr("kind", "regional")
	return md
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
