package azhealthprocessor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/azlens/azlens/internal/contract"
)

var (
	// t0 is when every test starts: synctest's bubbles start their fake
	// clock at midnight UTC, 2000-01-01.
	t0    = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	zones = []string{"use1-az1", "use1-az2", "use1-az4"}
)

// fleet produces what the lambdatelemetry receiver and the canary runner
// send: cumulative counters per environment and per zone's canaries.
type fleet struct {
	envs    map[string][]*envCounters
	canary  map[string][2]int64 // success, failure
	errRate map[string]float64  // per zone, deterministic: every n-th call fails
}

type envCounters struct {
	id              string
	success, errors int64
	buckets         []uint64
	count           uint64
}

func newFleet() *fleet {
	f := &fleet{envs: map[string][]*envCounters{}, canary: map[string][2]int64{}, errRate: map[string]float64{}}
	for _, z := range zones {
		for i := range 5 {
			f.envs[z] = append(f.envs[z], &envCounters{id: fmt.Sprintf("%s-%d", z, i), buckets: make([]uint64, len(contract.DurationBounds)+1)})
		}
	}
	return f
}

// batch advances every counter by one tick of traffic (100 calls and 10
// canaries per zone) and returns it as one OTLP batch.
func (f *fleet) batch() pmetric.Metrics {
	md := pmetric.NewMetrics()
	start := pcommon.NewTimestampFromTime(t0.Add(-time.Hour))
	for _, z := range zones {
		bad := int64(f.errRate[z] * 20)
		for _, e := range f.envs[z] {
			e.errors += bad
			e.success += 20 - bad
			e.buckets[3] += 20
			e.count += 20
			rm := md.ResourceMetrics().AppendEmpty()
			res := rm.Resource().Attributes()
			res.PutStr(attrFunction, "checkout")
			res.PutStr(attrZone, z)
			res.PutStr(attrInstance, e.id)
			res.PutStr(attrRegion, "us-east-1")
			ms := rm.ScopeMetrics().AppendEmpty().Metrics()
			m := ms.AppendEmpty()
			m.SetName(contract.MetricInvocations)
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for outcome, v := range map[string]int64{"success": e.success, "error": e.errors} {
				dp := s.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(start)
				dp.SetIntValue(v)
				dp.Attributes().PutStr(contract.AttrOutcome, outcome)
			}
			m = ms.AppendEmpty()
			m.SetName(contract.MetricInvokeDuration)
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetCount(e.count)
			dp.SetSum(float64(e.count) * 0.04)
			dp.ExplicitBounds().FromRaw(contract.DurationBounds)
			dp.BucketCounts().FromRaw(e.buckets)
		}
		c := f.canary[z]
		fail := int64(f.errRate[z] * 10)
		c[0] += 10 - fail
		c[1] += fail
		f.canary[z] = c
		rm := md.ResourceMetrics().AppendEmpty()
		res := rm.Resource().Attributes()
		res.PutStr(attrFunction, "checkout")
		res.PutStr(attrZone, z)
		res.PutStr("azlens.canary", "true")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(contract.MetricCanaryInvocations)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i, outcome := range []string{"success", "failure"} {
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetIntValue(c[i])
			dp.Attributes().PutStr(contract.AttrOutcome, outcome)
		}
	}
	return md
}

type harness struct {
	t     *testing.T
	sink  *consumertest.MetricsSink
	logs  *observer.ObservedLogs
	proc  *azhealthProcessor
	fleet *fleet
	sent  []pmetric.Metrics
}

func newHarness(t *testing.T, cfg *Config, next consumer.Metrics) *harness {
	core, logs := observer.New(zap.InfoLevel)
	set := processortest.NewNopSettings(componentType)
	set.Logger = zap.New(core)
	h := &harness{t: t, logs: logs, fleet: newFleet()}
	if next == nil {
		h.sink = new(consumertest.MetricsSink)
		next = h.sink
	}
	p, err := newProcessor(set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	h.proc = p
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	return h
}

// step sends one batch, then lets one tick pass and waits until the
// processor's goroutine is idle again.
func (h *harness) step() {
	md := h.fleet.batch()
	h.sent = append(h.sent, md)
	if err := h.proc.ConsumeMetrics(context.Background(), md); err != nil && h.sink != nil {
		h.t.Fatal(err)
	}
	h.advance(10 * time.Second)
}

// advance lets d of the bubble's fake time pass (one tick for 10 s: the
// processor's ticker fires when every goroutine is blocked) and waits until
// the processor's goroutine is idle again.
func (h *harness) advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// verdicts returns the processor's own output, in order.
func (h *harness) verdicts() []pmetric.Metrics {
	var out []pmetric.Metrics
	for _, md := range h.sink.AllMetrics() {
		if v, ok := md.ResourceMetrics().At(0).Resource().Attributes().Get(attrServiceName); ok && v.Str() == "azlens" {
			out = append(out, md)
		}
	}
	return out
}

// value finds the value of metric name for zone (and extra attribute k=v).
func value(t *testing.T, md pmetric.Metrics, name, zone string, kv ...string) (float64, bool) {
	t.Helper()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		m := ms.At(i)
		if m.Name() != name {
			continue
		}
		var dps pmetric.NumberDataPointSlice
		if m.Type() == pmetric.MetricTypeSum {
			dps = m.Sum().DataPoints()
		} else {
			dps = m.Gauge().DataPoints()
		}
		for j := range dps.Len() {
			dp := dps.At(j)
			if z, ok := dp.Attributes().Get(attrZone); zone != "" && (!ok || z.Str() != zone) {
				continue
			}
			if len(kv) == 2 {
				if v, ok := dp.Attributes().Get(kv[0]); !ok || v.Str() != kv[1] {
					continue
				}
			}
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				return float64(dp.IntValue()), true
			}
			return dp.DoubleValue(), true
		}
	}
	return 0, false
}

func TestProcessorEvacuatesImpairedZone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), nil)
		defer func() {
			if err := h.proc.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		for range 35 { // fill the long window with healthy traffic
			h.step()
		}
		h.fleet.errRate["use1-az1"] = 0.5
		for range 8 {
			h.step()
		}

		// Pass-through: every input batch reached the next consumer unchanged.
		var passed int
		for _, md := range h.sink.AllMetrics() {
			for _, s := range h.sent {
				if md == s {
					passed++
				}
			}
		}
		if passed != len(h.sent) {
			t.Errorf("%d of %d input batches passed through", passed, len(h.sent))
		}

		vs := h.verdicts()
		if len(vs) != 43 {
			t.Fatalf("%d verdict batches, want one per tick (43)", len(vs))
		}
		last := vs[len(vs)-1]
		res := last.ResourceMetrics().At(0).Resource().Attributes()
		for k, want := range map[string]string{attrFunction: "checkout", attrRegion: "us-east-1", attrServiceName: "azlens"} {
			if v, _ := res.Get(k); v.Str() != want {
				t.Errorf("resource %s = %q, want %q", k, v.Str(), want)
			}
		}
		checks := []struct {
			name, zone string
			kv         []string
			want       float64
		}{
			{"azlens.az.alarm_state", "use1-az1", nil, 2},
			{"azlens.az.alarm_state", "use1-az2", nil, 0},
			{"azlens.az.evacuate", "use1-az1", nil, 1},
			{"azlens.az.evacuate", "use1-az2", nil, 0},
			{"azlens.az.evacuate", "use1-az4", nil, 0},
			{"azlens.az.traffic_weight", "use1-az1", nil, 0},
			{"azlens.az.traffic_weight", "use1-az4", nil, 1},
			{"azlens.az.breach", "use1-az1", []string{"signal", "bad"}, 1},
			{"azlens.az.breach", "use1-az2", []string{"signal", "bad"}, 0},
			// Every signal is exported, the volume signal too.
			{"azlens.az.breach", "use1-az2", []string{"signal", "volume"}, 0},
			{"azlens.az.telemetry_age", "use1-az1", nil, 10},
			{"azlens.region.alert", "", []string{"kind", "regional"}, 0},
		}
		for _, c := range checks {
			got, ok := value(t, last, c.name, c.zone, c.kv...)
			if !ok || got != c.want {
				t.Errorf("%s{%s %v} = %v (present %v), want %v", c.name, c.zone, c.kv, got, ok, c.want)
			}
		}
		if p, ok := value(t, last, "azlens.az.p_value", "use1-az1", "signal", "bad"); !ok || p > 1e-6 {
			t.Errorf("p_value{bad} of the impaired zone = %v (present %v), want < 1e-6", p, ok)
		}
		// Before the fault nothing was evacuated.
		if v, _ := value(t, vs[34], "azlens.az.evacuate", "use1-az1"); v != 0 {
			t.Error("evacuate = 1 before the fault")
		}

		// Each state change is logged once.
		for _, msg := range []string{"OK -> PENDING", "PENDING -> ALARM", "evacuating zone"} {
			if n := h.logs.FilterMessageSnippet(msg).Len(); n != 1 {
				t.Errorf("%d log lines with %q, want 1", n, msg)
			}
		}
	})
}

func TestProcessorRecordsBlockedShift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.Guards.KillSwitch = true
		h := newHarness(t, cfg, nil)
		defer h.proc.Shutdown(context.Background())
		for range 35 {
			h.step()
		}
		h.fleet.errRate["use1-az1"] = 0.5
		for range 10 {
			h.step()
		}
		vs := h.verdicts()
		last, prev := vs[len(vs)-1], vs[len(vs)-2]
		if v, _ := value(t, last, "azlens.az.alarm_state", "use1-az1"); v != 2 {
			t.Fatalf("alarm_state = %v, want 2", v)
		}
		if v, _ := value(t, last, "azlens.az.evacuate", "use1-az1"); v != 0 {
			t.Error("evacuate = 1 with the kill switch on")
		}
		n, ok := value(t, last, "azlens.az.shift_blocked", "", "reason", "KILL_SWITCH")
		m, _ := value(t, prev, "azlens.az.shift_blocked", "", "reason", "KILL_SWITCH")
		if !ok || n < 2 || n != m+1 {
			t.Errorf("shift_blocked{KILL_SWITCH} = %v then %v, want a cumulative count growing by 1 per tick", m, n)
		}
		if got := h.logs.FilterMessageSnippet("zonal shift blocked: KILL_SWITCH").Len(); got != 1 {
			t.Errorf("block logged %d times, want once", got)
		}
	})
}

func TestProcessorDownstreamError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), consumertest.NewErr(errors.New("boom")))
		defer h.proc.Shutdown(context.Background())
		if err := h.proc.ConsumeMetrics(context.Background(), h.fleet.batch()); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("ConsumeMetrics error %v, want the next consumer's", err)
		}
		h.step()
		if h.logs.FilterMessageSnippet("sending zone verdicts downstream").Len() != 1 {
			t.Error("downstream error on a tick not logged")
		}
	})
}

func TestProcessorIgnoresForeignMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), nil)
		defer h.proc.Shutdown(context.Background())
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(attrFunction, "f") // no zone
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(contract.MetricInvocations)
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(5)
		rm = md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(attrFunction, "g")
		rm.Resource().Attributes().PutStr(attrZone, "z")
		m = rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(contract.MetricInvocations)
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(5) // wrong type
		if err := h.proc.ConsumeMetrics(context.Background(), md); err != nil {
			t.Fatal(err)
		}
		h.advance(10 * time.Second)
		if len(h.sink.AllMetrics()) != 1 {
			t.Errorf("%d batches downstream, want only the pass-through (no function known)", len(h.sink.AllMetrics()))
		}
	})
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	p, err := newProcessor(processortest.NewNopSettings(componentType), createDefaultConfig().(*Config), consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
