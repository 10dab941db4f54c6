package detector

import (
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newDetector(t *testing.T) *Detector {
	t.Helper()
	d, err := New(DefaultConfig(), t0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func inv(series, outcome string, start time.Time, v float64) *Point {
	return &Point{Function: "f", Zone: "a", Environment: "e1", Series: series, Kind: KindInvocations,
		Outcome: outcome, Start: start, Value: v}
}

func cur(d *Detector) bucket { return d.functions["f"].zones["a"].cur }

func TestObserveDeltas(t *testing.T) {
	old := t0.Add(-time.Hour)
	fresh := t0.Add(time.Minute)
	steps := []struct {
		name    string
		p       *Point
		n, x    float64 // cumulative bucket content after the step
		comment string
	}{
		{"baseline", inv("s", "success", old, 1000), 0, 0, "a series older than the detector is a baseline"},
		{"delta", inv("s", "success", old, 1010), 10, 0, ""},
		{"out of order", inv("s", "success", old, 1005), 10, 0, "same start, lower value: a late batch, ignored"},
		{"lost batch", inv("s", "success", old, 1040), 40, 0, "the lost batch's counts arrive with the next"},
		{"reset", inv("s", "success", fresh, 7), 47, 0, "new start time: everything since it is new"},
		{"late old incarnation", inv("s", "success", old, 1050), 47, 0, "a point from before the reset"},
		{"new error series", inv("e", "error", fresh, 3), 50, 3, "first error of a new environment counts in full"},
		{"reset without start", inv("z", "timeout", time.Time{}, 5), 50, 3, "unknown start: baseline"},
		{"drop without start", inv("z", "timeout", time.Time{}, 2), 52, 5, "a drop is a reset"},
	}
	d := newDetector(t)
	for _, s := range steps {
		d.Observe(t0.Add(time.Minute), s.p)
		b := cur(d)
		if b.n[SignalBad] != s.n || b.x[SignalBad] != s.x {
			t.Fatalf("%s: n=%v x=%v, want n=%v x=%v (%s)", s.name, b.n[SignalBad], b.x[SignalBad], s.n, s.x, s.comment)
		}
	}
}

func TestObserveHistogramSlow(t *testing.T) {
	bounds := []float64{0.1, 1, 10}
	d := newDetector(t)
	h := func(count uint64, buckets ...uint64) *Point {
		return &Point{Function: "f", Zone: "a", Environment: "e1", Series: "h", Kind: KindDuration,
			Start: t0, Count: count, Sum: 1, Bounds: bounds, Buckets: buckets}
	}
	d.Observe(t0, h(10, 5, 3, 2, 0))
	d.Observe(t0, h(20, 8, 6, 4, 2))
	b := cur(d)
	if b.n[SignalSlow] != 20 || b.x[SignalSlow] != 6 {
		t.Errorf("n=%v slow=%v, want 20 and 6 (observations above 1 s)", b.n[SignalSlow], b.x[SignalSlow])
	}
	// T_slow not among the bounds, or malformed buckets: ignored, not guessed.
	d2, _ := New(func() Config { c := DefaultConfig(); c.SlowLatency = 2; return c }(), t0)
	d2.Observe(t0, h(10, 5, 3, 2, 0))
	if got := d2.functions["f"].zones["a"].cur.n[SignalSlow]; got != 0 {
		t.Errorf("T_slow not a bound: counted %v", got)
	}
	d.Observe(t0, h(30, 1, 2))
	if b := cur(d); b.n[SignalSlow] != 20 {
		t.Errorf("malformed buckets counted: n=%v", b.n[SignalSlow])
	}
}

func TestObserveIgnoresBadInput(t *testing.T) {
	d := newDetector(t)
	d.Observe(t0, &Point{Zone: "a", Series: "s", Kind: KindInvocations, Value: 1})
	d.Observe(t0, &Point{Function: "f", Zone: "a", Series: "s", Kind: KindInvocations, Value: math.NaN()})
	d.Observe(t0, &Point{Function: "f", Zone: "a", Series: "s", Kind: KindInvocations, Value: -1})
	d.Observe(t0, &Point{Function: "f", Zone: "a", Series: "s", Kind: Kind(42), Value: 1})
	if f, ok := d.functions["f"]; ok && len(f.series) != 0 {
		t.Errorf("bad points created %d series", len(f.series))
	}
}

func TestMachine(t *testing.T) {
	cfg := DefaultConfig()
	const (
		M = verdictMissing
		H = verdictHealthy
		B = verdictBreach
	)
	cases := []struct {
		name string
		in   []verdict
		fast []bool
		want []State
	}{
		{"5 of 6", []verdict{B, B, H, B, B, B},
			nil, []State{StatePending, StatePending, StatePending, StatePending, StatePending, StateAlarm}},
		{"missing never breaches", []verdict{B, B, M, B, B, M, B},
			nil, []State{StatePending, StatePending, StatePending, StatePending, StatePending, StatePending, StatePending}},
		{"pending clears without breaches", []verdict{B, H, H, H, H, H, H},
			nil, []State{StatePending, StatePending, StatePending, StatePending, StatePending, StatePending, StateOK}},
		{"fast path", []verdict{B, B, B}, []bool{true, true, true},
			[]State{StatePending, StatePending, StateAlarm}},
	}
	for _, c := range cases {
		var m machine
		for i, v := range c.in {
			fast := c.fast != nil && c.fast[i]
			m.step(v, fast, &cfg)
			if m.state != c.want[i] {
				t.Errorf("%s: tick %d: %v, want %v", c.name, i, m.state, c.want[i])
			}
		}
	}

	// ALARM clears only after 12 consecutive healthy ticks; missing ticks
	// neither count nor reset the run, a breach resets it.
	var m machine
	for range 5 {
		m.step(B, false, &cfg)
	}
	seq := []verdict{H, H, H, H, H, M, H, H, H, H, H, B}
	for _, v := range seq {
		m.step(v, false, &cfg)
	}
	if m.state != StateAlarm {
		t.Fatalf("state %v after a breach, want ALARM", m.state)
	}
	for i := range 12 {
		if m.state != StateAlarm {
			t.Fatalf("cleared after %d healthy ticks", i)
		}
		m.step(H, false, &cfg)
	}
	if m.state != StateOK {
		t.Errorf("state %v after 12 healthy ticks, want OK", m.state)
	}
}

func TestMinEvacuationBackoff(t *testing.T) {
	d := newDetector(t)
	for k, want := range map[int]time.Duration{1: 15 * time.Minute, 2: 30 * time.Minute, 3: time.Hour, 5: 4 * time.Hour, 9: 4 * time.Hour} {
		if got := d.minEvacuation(k); got != want {
			t.Errorf("shift %d: minimum evacuation %v, want %v", k, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AlarmBreaches = 7
	if _, err := New(cfg, t0); err == nil {
		t.Error("alarm breaches > alarm ticks accepted")
	}
}

// TestObserveCanaryLatency: a successful canary slower than the slow latency is a failed canary,
// read from azlens.canary.duration; other outcomes' latencies add nothing (their counts already
// failed), and the canary volume comes from the counts alone.
func TestObserveCanaryLatency(t *testing.T) {
	d := newDetector(t)
	now := t0.Add(time.Minute)
	bounds := []float64{0.5, 1, 2.5}
	canary := func(series, outcome string, kind Kind, v float64, buckets []uint64) *Point {
		var n uint64
		for _, b := range buckets {
			n += b
		}
		return &Point{Function: "f", Zone: "a", Series: series, Kind: kind, Outcome: outcome, Start: now,
			Value: v, Count: n, Bounds: bounds, Buckets: buckets}
	}
	d.Observe(now, canary("ok", "success", KindCanary, 10, nil))
	d.Observe(now, canary("to", "timeout", KindCanary, 2, nil))
	d.Observe(now, canary("okd", "success", KindCanaryDuration, 0, []uint64{6, 1, 3, 0})) // 3 above 1 s
	d.Observe(now, canary("tod", "timeout", KindCanaryDuration, 0, []uint64{0, 0, 0, 2}))
	b := cur(d)
	if b.n[SignalCanary] != 12 || b.x[SignalCanary] != 5 {
		t.Errorf("canary n=%v x=%v, want 12 canaries, 5 failed (2 timeouts, 3 slow successes)", b.n[SignalCanary], b.x[SignalCanary])
	}
	if z := d.functions["f"].zones["a"]; !z.lastCanary.Equal(now) || !z.lastTelemetry.IsZero() {
		t.Errorf("canary latency must count as a canary report, not as telemetry: %+v", z.lastTelemetry)
	}
}
