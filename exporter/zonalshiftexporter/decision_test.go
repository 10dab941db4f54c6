package zonalshiftexporter

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestDecisionsFrom(t *testing.T) {
	at := t0
	type want struct {
		zone     string
		weight   float64
		conflict []string
	}
	for _, tc := range []struct {
		name   string
		states map[string]zoneState
		want   want
	}{
		{"one zone out", map[string]zoneState{"a": {1, 0}, "b": {0, 1}, "c": {0, 1}}, want{zone: "a"}},
		{"evacuate wins over a stale weight", map[string]zoneState{"a": {1, 0.5}, "b": {0, 1}}, want{zone: "a"}},
		{"fail-back stage", map[string]zoneState{"a": {0, 0.25}, "b": {0, 1}}, want{zone: "a", weight: 0.25}},
		{"all healthy", map[string]zoneState{"a": {0, 1}, "b": {0, 1}}, want{}},
		{"weight gauge only", map[string]zoneState{"a": {-1, 0.5}, "b": {-1, 1}}, want{zone: "a", weight: 0.5}},
		{"evacuate gauge only", map[string]zoneState{"a": {0, -1}, "b": {1, -1}}, want{zone: "b"}},
		{"two zones", map[string]zoneState{"a": {1, 0}, "b": {0, 0.5}, "c": {0, 1}}, want{conflict: []string{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, drops := decisionsFrom(decisionMetrics(at, "fn", tc.states))
			if len(drops) != 0 {
				t.Errorf("drops = %v", drops)
			}
			if len(ds) != 1 {
				t.Fatalf("decisions = %+v, want one", ds)
			}
			got := want{zone: ds[0].zone, weight: ds[0].weight, conflict: ds[0].conflict}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if ds[0].function != "fn" || !ds[0].at.Equal(at) {
				t.Errorf("function %q at %v", ds[0].function, ds[0].at)
			}
		})
	}
}

func TestDecisionsFromDrops(t *testing.T) {
	md := decisionMetrics(t0, "", map[string]zoneState{"a": {1, 0}}) // no faas.name: 2 points
	sm := md.ResourceMetrics().AppendEmpty()
	sm.Resource().Attributes().PutStr(attrFunction, "fn")
	ms := sm.ScopeMetrics().AppendEmpty().Metrics()
	ev := ms.AppendEmpty()
	ev.SetName(metricEvacuate)
	dps := ev.SetEmptyGauge().DataPoints()
	dps.AppendEmpty().SetIntValue(1) // no zone
	for _, v := range []float64{0.5, math.NaN(), -1} {
		dp := dps.AppendEmpty()
		dp.Attributes().PutStr(attrZone, "b")
		dp.SetDoubleValue(v)
	}
	tw := ms.AppendEmpty()
	tw.SetName(metricTrafficWeight)
	dp := tw.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr(attrZone, "b")
	dp.SetDoubleValue(1.5)
	h := ms.AppendEmpty()
	h.SetName(metricEvacuate)
	h.SetEmptyHistogram().DataPoints().AppendEmpty()
	other := ms.AppendEmpty()
	other.SetName("faas.invocations")
	other.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(5)

	ds, drops := decisionsFrom(md)
	if len(ds) != 0 {
		t.Errorf("decisions = %+v, want none from unusable points", ds)
	}
	want := map[string]int64{dropNoFunction: 2, dropNoZone: 1, dropBadValue: 5}
	if diff := cmp.Diff(want, drops); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
}

func TestDecisionsLatestPointWins(t *testing.T) {
	older := decisionMetrics(t0, "fn", map[string]zoneState{"a": {1, 0}, "b": {0, 1}})
	newer := decisionMetrics(t0.Add(10*time.Second), "fn", map[string]zoneState{"a": {0, 1}, "b": {0, 1}})
	md := pmetric.NewMetrics()
	newer.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	older.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	// A sum-typed gauge is read too.
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrFunction, "other")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(metricEvacuate)
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	dp.Attributes().PutStr(attrZone, "c")
	dp.SetIntValue(1)
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t0))

	ds, _ := decisionsFrom(md)
	if len(ds) != 2 || ds[0].function != "fn" || ds[1].function != "other" {
		t.Fatalf("decisions = %+v", ds)
	}
	if ds[0].zone != "" || !ds[0].at.Equal(t0.Add(10*time.Second)) {
		t.Errorf("fn: zone %q at %v, want the newer, healthy point", ds[0].zone, ds[0].at)
	}
	if ds[1].zone != "c" {
		t.Errorf("other: zone %q, want c", ds[1].zone)
	}
}
