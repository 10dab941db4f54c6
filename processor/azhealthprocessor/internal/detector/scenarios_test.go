package detector_test

import (
	"time"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/azsim"
)

const (
	zoneA = "use1-az1"
	zoneB = "use1-az2"
	// faultAt leaves the long window full of healthy history before the fault.
	faultAt = 10 * time.Minute
)

// row is one row of the expected-detection table of docs/az-health.md.
type row struct {
	name     string
	scenario func(seed uint64) azsim.Scenario
	// alarmMin and alarmMax bound the median time to ALARM over the seeds
	// (the spec's expectation); every seed must alarm and shift by capMax.
	// A zero alarmMax means it must never alarm nor shift.
	alarmMin, alarmMax time.Duration
	capMax             time.Duration
}

func base(seed uint64, run time.Duration, faults ...azsim.Fault) azsim.Scenario {
	// Each seed also moves the fault within the tick, so runs sample every
	// alignment of fault start and evaluation.
	off := time.Duration(seed%10) * time.Second
	for i := range faults {
		faults[i].At += off
		if faults[i].Until > 0 {
			faults[i].Until += off
		}
	}
	return azsim.Scenario{
		BaseErrorRate:    0.001,
		BaseSlowFraction: 0.005,
		CanaryRPS:        1,
		Duration:         faultAt + off + run,
		Faults:           faults,
		Seed:             seed,
	}
}

var table = []row{
	{
		name: "crash",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Crash: true})
		},
		alarmMin: 40 * time.Second, alarmMax: 60 * time.Second, capMax: 65 * time.Second,
	},
	{
		name: "errors 5%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.05})
		},
		alarmMin: 50 * time.Second, alarmMax: 70 * time.Second, capMax: 80 * time.Second,
	},
	{
		name: "errors 2%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.02})
		},
		alarmMin: 65 * time.Second, alarmMax: 90 * time.Second, capMax: 100 * time.Second,
	},
	{
		name: "errors 0.3%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.003})
		},
	},
	{
		name: "latency 100%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, SlowFraction: 1})
		},
		alarmMin: 40 * time.Second, alarmMax: 60 * time.Second, capMax: 65 * time.Second,
	},
	{
		name: "latency 10%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, SlowFraction: 0.10})
		},
		alarmMin: 70 * time.Second, alarmMax: 95 * time.Second, capMax: 100 * time.Second,
	},
	{
		// The zone is so slow its callers give up: it completes 7 % of its share, every
		// one of them slow. The slow signal's fast path reads the per-tick fractions, which
		// its pre-fault traffic does not dilute; the pooled 60 s fraction needs ~30 s to
		// pass the 5 % gate, so the alarm comes ~10 s later than without the collapse.
		name: "latency 100% with throughput collapse",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, SlowFraction: 1, Throughput: 0.07})
		},
		alarmMin: 40 * time.Second, alarmMax: 65 * time.Second, capMax: 75 * time.Second,
	},
	{
		// Nothing the zone reports is wrong; it reports 7 % of its share. Only the volume
		// signal sees it.
		name: "throughput collapse",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, Throughput: 0.07})
		},
		alarmMin: 50 * time.Second, alarmMax: 100 * time.Second, capMax: 120 * time.Second,
	},
	{
		name: "latency 3%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, SlowFraction: 0.03})
		},
	},
	{
		name: "low traffic 2 rps, 10% errors",
		scenario: func(seed uint64) azsim.Scenario {
			s := base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.10})
			s.RPS, s.EnvsPerZone = 2, 3
			return s
		},
		alarmMin: 60 * time.Second, alarmMax: 110 * time.Second, capMax: 180 * time.Second,
	},
	{
		name: "telemetry loss 30%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 20*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, TelemetryLoss: 0.3})
		},
	},
	{
		name: "telemetry loss 30% + errors 5%",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 5*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, TelemetryLoss: 0.3, ErrorRate: 0.05})
		},
		alarmMin: 50 * time.Second, alarmMax: 75 * time.Second, capMax: 90 * time.Second,
	},
	{
		name: "flapping 5% every 30 s",
		scenario: func(seed uint64) azsim.Scenario {
			return base(seed, 40*time.Minute, azsim.Fault{Zone: zoneA, At: faultAt, ErrorRate: 0.05, FlapPeriod: 30 * time.Second})
		},
		alarmMin: 50 * time.Second, alarmMax: 75 * time.Second, capMax: 90 * time.Second,
	},
}
