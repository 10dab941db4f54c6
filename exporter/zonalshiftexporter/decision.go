package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/azlens/azlens/internal/contract"
)

// The contract with the azhealth processor: its metric names are the
// contract package's, its resource attributes semantic conventions.
const (
	metricEvacuate      = contract.MetricAZEvacuate
	metricTrafficWeight = contract.MetricAZTrafficWeight
	attrFunction        = string(semconv.FaaSNameKey)
	attrZone            = string(semconv.CloudAvailabilityZoneKey)
)

// Reasons a data point is dropped (the reason attribute of the dropped data points counter).
const (
	dropNoFunction = "no_function"
	dropNoZone     = "no_zone"
	dropBadValue   = "bad_value"
)

// decision is what the processor wants for one function at one time.
type decision struct {
	function string
	// zone is the zone to keep out; empty means every zone may take its full traffic.
	zone string
	// weight is the share of its traffic the kept-out zone gets (0 = all moved away; 0.1, 0.25,
	// 0.5 during a staged fail-back).
	weight float64
	// conflict lists the zones when more than one is to be kept out: the processor never asks
	// for that, so the exporter refuses to guess.
	conflict []string
	// at is the newest data point's time, to tell a stale (retried, reordered) push from a fresh one.
	at time.Time
}

type zoneSignal struct {
	evacuate, hasEvacuate bool
	evacuateAt            pcommon.Timestamp
	weight                float64
	hasWeight             bool
	weightAt              pcommon.Timestamp
}

// decisionsFrom reads the processor's gauges. Functions without either gauge get no decision
// (nothing changes for them). Data points it cannot use are counted per reason in drops.
func decisionsFrom(md pmetric.Metrics) (ds []decision, drops map[string]int64) {
	drops = map[string]int64{}
	type fn struct {
		zones map[string]*zoneSignal
		at    pcommon.Timestamp
	}
	fns := map[string]*fn{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		function := ""
		if v, ok := rm.Resource().Attributes().Get(attrFunction); ok {
			function = v.AsString()
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != metricEvacuate && m.Name() != metricTrafficWeight {
					continue
				}
				dps, ok := numberPoints(m)
				if !ok {
					drops[dropBadValue]++ // a histogram or summary under the gauge's name
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					if function == "" {
						drops[dropNoFunction]++
						continue
					}
					zone := ""
					if v, ok := dp.Attributes().Get(attrZone); ok {
						zone = v.AsString()
					}
					if zone == "" {
						drops[dropNoZone]++
						continue
					}
					v, ok := value(dp)
					if !ok || v < 0 || v > 1 || (m.Name() == metricEvacuate && v != 0 && v != 1) {
						drops[dropBadValue]++
						continue
					}
					f := fns[function]
					if f == nil {
						f = &fn{zones: map[string]*zoneSignal{}}
						fns[function] = f
					}
					z := f.zones[zone]
					if z == nil {
						z = &zoneSignal{}
						f.zones[zone] = z
					}
					ts := dp.Timestamp()
					if m.Name() == metricEvacuate {
						if !z.hasEvacuate || ts >= z.evacuateAt {
							z.evacuate, z.hasEvacuate, z.evacuateAt = v == 1, true, ts
						}
					} else if !z.hasWeight || ts >= z.weightAt {
						z.weight, z.hasWeight, z.weightAt = v, true, ts
					}
					f.at = max(f.at, ts)
				}
			}
		}
	}
	for name, f := range fns {
		d := decision{function: name, at: f.at.AsTime()}
		var out []string
		for zone, z := range f.zones {
			if (z.hasEvacuate && z.evacuate) || (z.hasWeight && z.weight < 1) {
				out = append(out, zone)
			}
		}
		slices.Sort(out)
		switch len(out) {
		case 0:
		case 1:
			d.zone = out[0]
			if z := f.zones[out[0]]; z.hasWeight && !(z.hasEvacuate && z.evacuate) {
				d.weight = z.weight
			}
		default:
			d.conflict = out
		}
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b decision) int {
		switch {
		case a.function < b.function:
			return -1
		case a.function > b.function:
			return 1
		}
		return 0
	})
	return ds, drops
}

func numberPoints(m pmetric.Metric) (pmetric.NumberDataPointSlice, bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints(), true
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints(), true
	}
	return pmetric.NumberDataPointSlice{}, false
}

func value(dp pmetric.NumberDataPoint) (float64, bool) {
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeDouble:
		v := dp.DoubleValue()
		return v, !math.IsNaN(v)
	case pmetric.NumberDataPointValueTypeInt:
		return float64(dp.IntValue()), true
	}
	return 0, false
}
