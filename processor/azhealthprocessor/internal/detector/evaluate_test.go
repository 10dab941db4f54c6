package detector

import (
	"math"
	"testing"
	"time"
)

// TestEvaluateWindows pins down how the short and the long window combine
// (3 zones, zone "a" under test, signal bad, threshold α/(3·4) ≈ 8.3e-5).
func TestEvaluateWindows(t *testing.T) {
	type counts struct{ x, n float64 }
	type setup struct {
		name                 string
		shortA, shortB       counts // zone b; zone c is always healthy
		longA, longB         counts
		clearedAgo           time.Duration // 0: never cleared
		breach, has, fromLng bool
	}
	healthyShort, healthyLong := counts{0, 120}, counts{1, 600}
	// Short: 8 of 120 against 0 of 240 is every gate but significance
	// (exact p ≈ 1.4e-4); long: 20 of 600 against 1 of 1200 is far below.
	flickerShort, faultLong := counts{8, 120}, counts{20, 600}
	cases := []setup{
		{name: "short window alone breaches", shortA: counts{12, 120}, shortB: healthyShort,
			longA: healthyLong, longB: healthyLong, breach: true, has: true},
		{name: "long window holds a flickering short window", shortA: flickerShort, shortB: healthyShort,
			longA: faultLong, longB: healthyLong, breach: true, has: true, fromLng: true},
		{name: "short window below the absolute gate: the long window's memory does not count",
			shortA: counts{1, 120}, shortB: healthyShort, longA: faultLong, longB: healthyLong, has: true},
		{name: "another zone over the gate in the short window: regional, no breach",
			shortA: flickerShort, shortB: counts{3, 120}, longA: faultLong, longB: counts{3, 600}, has: true},
		{name: "within a long window of a clear the long window is not consulted",
			shortA: flickerShort, shortB: healthyShort, longA: faultLong, longB: healthyLong,
			clearedAgo: 2 * time.Minute, has: true},
		{name: "a clear older than the long window no longer matters",
			shortA: flickerShort, shortB: healthyShort, longA: faultLong, longB: healthyLong,
			clearedAgo: 6 * time.Minute, breach: true, has: true, fromLng: true},
		{name: "short window without volume: the long window decides alone",
			shortA: counts{4, 30}, shortB: healthyShort, longA: faultLong, longB: healthyLong,
			breach: true, has: true, fromLng: true},
	}
	now := t0.Add(time.Hour)
	for _, c := range cases {
		d := newDetector(t)
		f := d.function("f")
		a, b, cz := d.zone(f, "a", t0), d.zone(f, "b", t0), d.zone(f, "c", t0)
		set := func(z *zone, short, long counts) {
			z.short.x[SignalBad], z.short.n[SignalBad] = short.x, short.n
			z.long.x[SignalBad], z.long.n[SignalBad] = long.x, long.n
		}
		set(a, c.shortA, c.longA)
		set(b, c.shortB, c.longB)
		set(cz, healthyShort, counts{0, 600})
		if c.clearedAgo > 0 {
			a.clearedAt = now.Add(-c.clearedAgo)
		}
		threshold := d.cfg.Alpha / float64(3*int(NumSignals))
		res := d.evaluate(f, a, SignalBad, threshold, now)
		if res.breach != c.breach || res.has != c.has {
			t.Errorf("%s: breach %v has %v (p %.2g), want breach %v has %v", c.name, res.breach, res.has, res.p, c.breach, c.has)
		}
		rest := func(sel func(*zone) *bucket) (float64, float64) {
			return sel(b).x[SignalBad] + sel(cz).x[SignalBad], sel(b).n[SignalBad] + sel(cz).n[SignalBad]
		}
		want := math.NaN()
		if c.fromLng {
			xr, nr := rest(func(z *zone) *bucket { return &z.long })
			want = testGreater(c.longA.x, c.longA.n, xr, nr)
		} else if c.shortA.n >= d.cfg.MinVolume {
			xr, nr := rest(func(z *zone) *bucket { return &z.short })
			want = testGreater(c.shortA.x, c.shortA.n, xr, nr)
		}
		if res.p != want {
			t.Errorf("%s: reported p %.3g, want %.3g (the window that decided)", c.name, res.p, want)
		}
	}
	// The premise of the flicker cases: the short window alone is not
	// significant even at the full threshold, the long one is at half of it.
	threshold := 1e-3 / float64(3*int(NumSignals))
	if p := testGreater(flickerShort.x, flickerShort.n, 0, 240); p < threshold {
		t.Fatalf("flicker short window p %.3g is significant; the cases above test nothing", p)
	}
	if p := testGreater(faultLong.x, faultLong.n, 1, 1200); p >= threshold/2 {
		t.Fatalf("fault long window p %.3g is not significant at threshold/2", p)
	}
}

// TestTickMean: a zone that turned all slow while completing a fourteenth of what it did
// before. The pooled window still reads 6.5 % slow; every tick since the fault reads 100 %.
func TestTickMean(t *testing.T) {
	z := &zone{ring: make([]bucket, 6)}
	for i := range 6 {
		var b bucket
		if i < 3 {
			b.n[SignalSlow] = 1000
		} else {
			b.n[SignalSlow], b.x[SignalSlow] = 70, 70
		}
		z.cur = b
		z.close()
	}
	w := z.window(6)
	if pooled := w.x[SignalSlow] / w.n[SignalSlow]; math.Abs(pooled-210.0/3210) > 1e-12 {
		t.Fatalf("pooled fraction %v, want 210/3210", pooled)
	}
	if m := z.tickMean(SignalSlow, 6); m != 0.5 {
		t.Errorf("tick mean %v, want 0.5 (three all-slow ticks of six)", m)
	}
	// Ticks without events do not count; a fraction over 1 (slow counts that arrived a tick
	// before their totals) counts as 1.
	z.cur = bucket{}
	z.close()
	z.cur = bucket{}
	z.cur.n[SignalSlow], z.cur.x[SignalSlow] = 10, 20
	z.close()
	if m := z.tickMean(SignalSlow, 6); m != 0.8 {
		t.Errorf("tick mean %v, want (1+1+1+0+1)/5 = 0.8", m)
	}
}
