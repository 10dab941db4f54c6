package detector

import (
	"math"
	"time"
)

// volumePool is the volume signal's view of one window: which zones it may judge, their
// pooled invocation count, and the share of it each one should have.
type volumePool struct {
	ok    bool    // at least two members, each expecting enough invocations for a verdict
	total float64 // invocations of the members in the window
	share float64 // the expected share of each member
}

func windowIndex(long bool) int {
	if long {
		return 1
	}
	return 0
}

func (z *zone) invocations(long bool) float64 {
	if long {
		return z.long.n[SignalBad]
	}
	return z.short.n[SignalBad]
}

// volumeMember says whether the volume signal may count zone z over a window spanning span.
// The zone must have held full traffic weight for the whole window and one tick more (the
// router applies a weight the tick after the detector decides it), so a zone shifted away,
// failing back, or only just back is neither judged nor used to judge the others. Its own
// telemetry must be fresh: a zone whose telemetry stopped (a blackout, a crash) reports a
// deficit that says nothing about its traffic; the canaries and the stale state cover it.
func (d *Detector) volumeMember(f *function, z *zone, span time.Duration, now time.Time) bool {
	return !f.evacuated(z) && !z.fullSince.IsZero() && now.Sub(z.fullSince) >= span+d.cfg.Tick &&
		!z.lastTelemetry.IsZero() && now.Sub(z.lastTelemetry) <= d.cfg.StaleAfter
}

// volumePools computes the pools of both windows for this tick. The members all hold full
// weight, so the router gives each the same share of what they receive together: 1/members.
// The volume gate asks that share to expect at least MinVolume invocations.
func (d *Detector) volumePools(f *function, now time.Time) {
	for i, ticks := range []int{d.nShort, d.nLong} {
		long := i == 1
		span := time.Duration(ticks) * d.cfg.Tick
		var v volumePool
		members := 0
		for _, z := range f.order {
			z.volIn[i] = d.volumeMember(f, z, span, now)
			if z.volIn[i] {
				members++
				v.total += z.invocations(long)
			}
		}
		if members >= 2 {
			v.share = 1 / float64(members)
			v.ok = v.share*v.total >= d.cfg.MinVolume
		}
		f.volume[i] = v
	}
}

// volumeDeficient is the effect size: the zone's count is below VolumeRatio × its expected
// count. With a p-value alone a tiny deficit at high volume would breach.
func (d *Detector) volumeDeficient(f *function, z *zone, long bool) bool {
	v := &f.volume[windowIndex(long)]
	return z.invocations(long) < d.cfg.VolumeRatio*v.share*v.total
}

// volumeHas says whether the volume signal has a verdict on zone z over the window.
func (f *function) volumeHas(z *zone, long bool) bool {
	i := windowIndex(long)
	return f.volume[i].ok && z.volIn[i]
}

// volumeTest is the volume signal over one window: the one-sided exact binomial test of the
// zone's count out of the members' total against its expected share (H1: fewer), gated by the
// effect size and by every other member being free of a deficit (two deficient zones are a
// regional matter, as for the other signals).
func (d *Detector) volumeTest(f *function, z *zone, long bool) windowTest {
	t := windowTest{p: math.NaN()}
	if !f.volumeHas(z, long) {
		return t
	}
	v := &f.volume[windowIndex(long)]
	t.has = true
	t.p = binomialAtMost(round(z.invocations(long)), round(v.total), v.share)
	othersHealthy := true
	for _, o := range f.order {
		if o != z && f.volumeHas(o, long) && d.volumeDeficient(f, o, long) {
			othersHealthy = false
		}
	}
	t.gates = d.volumeDeficient(f, z, long) && othersHealthy
	return t
}
