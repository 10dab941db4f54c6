package detector

import (
	"fmt"
	"math"
	"time"
)

// peakSlots is how many slots the capacity window's peak-rate ring has; the
// peak is remembered at a resolution of CapacityWindow/peakSlots.
const peakSlots = 60

// Tick closes the current bucket of every zone and evaluates every function.
// Call it every Config.Tick; a late or skipped call only lowers resolution.
func (d *Detector) Tick(now time.Time) []Report {
	reports := make([]Report, 0, len(d.names))
	for _, name := range d.names {
		reports = append(reports, d.tickFunction(d.functions[name], now))
	}
	return reports
}

type result struct {
	p      float64
	has    bool // passed the volume gate: a verdict exists
	breach bool
	fast   bool
}

func (d *Detector) absGate(s Signal) float64 {
	if s == SignalSlow {
		return d.cfg.SlowThreshold
	}
	return d.cfg.ErrorThreshold
}

// effect keeps huge volumes from flagging trivia: a breach needs a large
// relative and absolute difference, not only a tiny p-value.
func (d *Detector) effect(s Signal, pi, pr float64) bool {
	if s == SignalSlow {
		return pi >= d.cfg.SlowRatio*pr && pi-pr >= d.cfg.SlowMinDelta
	}
	return pi >= d.cfg.ErrorRatio*pr && pi-pr >= d.cfg.ErrorMinDelta
}

func (f *function) evacuated(z *zone) bool {
	return f.shift.active && f.shift.zone == z.name
}

// windowTest is the comparison of a zone with the pooled rest over one window.
type windowTest struct {
	has   bool    // both sides passed the volume gate: a verdict exists
	p     float64 // one-sided p-value, NaN without a verdict
	gates bool    // effect size, absolute gate and every other zone healthy
	fast  bool    // fast-path condition (short window only)
}

// breach: a verdict, significant at threshold, every gate passed.
func (t *windowTest) breach(threshold float64) bool { return t.has && t.p < threshold && t.gates }

// test compares zone z with the pooled rest (every other zone not
// evacuated) on signal s over the short or the long window.
func (d *Detector) test(f *function, z *zone, s Signal, long bool) windowTest {
	if s == SignalVolume {
		return d.volumeTest(f, z, long)
	}
	cfg := &d.cfg
	abs := d.absGate(s)
	win := func(o *zone) *bucket {
		if long {
			return &o.long
		}
		return &o.short
	}
	var xr, nr float64
	othersHealthy := true
	for _, o := range f.order {
		if o == z || f.evacuated(o) {
			continue
		}
		ob := win(o)
		xr += ob.x[s]
		nr += ob.n[s]
		if ob.n[s] >= cfg.MinVolume && ob.x[s]/ob.n[s] >= abs {
			othersHealthy = false
		}
	}
	xi, ni := win(z).x[s], win(z).n[s]
	t := windowTest{p: math.NaN()}
	if !long && ni >= cfg.FastMinVolume && nr >= cfg.FastMinVolume && ni > 0 && nr > 0 {
		pi, pr := xi/ni, xr/nr
		bad := max(pi, z.tickMean(s, d.nShort))
		t.fast = bad >= cfg.FastFraction && d.effect(s, bad, pr) && othersHealthy
	}
	if ni < cfg.MinVolume || nr < cfg.MinVolume {
		return t
	}
	pi, pr := xi/ni, xr/nr
	t.has = true
	t.p = testGreater(xi, ni, xr, nr)
	t.gates = d.effect(s, pi, pr) && pi >= abs && othersHealthy
	return t
}

// evaluate decides signal s of zone z for this tick. threshold is
// alpha/(zones × signals), the level of one comparison.
//
// When the short window has volume on both sides, both windows are tested,
// each at threshold/2 (Bonferroni over the two comparisons), and the tick
// breaches when the short window's test passes every gate, or when the long
// window's does while the short window still shows the fault: the zone over
// the absolute gate with the effect size and the other zones healthy, only
// short of significance. At low volume the short window's exact p-value
// flickers around the threshold as single events enter and leave it; the
// long window keeps the fault's earlier events and gives a steady verdict.
// Once the last short window looks healthy, the long window's memory of the
// fault neither keeps a breach alive nor delays the clear; and for one long
// window after an ALARM clears it is not consulted, so the evidence of a
// fault already resolved cannot raise a second alarm on a few baseline
// errors.
//
// When the short window lacks volume, the long window alone decides, at the
// full threshold (one comparison), else there is no verdict.
func (d *Detector) evaluate(f *function, z *zone, s Signal, threshold float64, now time.Time) result {
	short := d.test(f, z, s, false)
	if !short.has {
		long := d.test(f, z, s, true)
		return result{p: long.p, has: long.has, breach: long.breach(threshold), fast: short.fast}
	}
	if !z.clearedAt.IsZero() && now.Sub(z.clearedAt) < d.cfg.LongWindow {
		return result{p: short.p, has: true, breach: short.breach(threshold), fast: short.fast}
	}
	res := result{p: short.p, has: true, breach: short.breach(threshold / 2), fast: short.fast}
	if !res.breach && short.gates {
		if long := d.test(f, z, s, true); long.breach(threshold / 2) {
			res.p, res.breach = long.p, true
		}
	}
	return res
}

// over says whether zone z, on its own, is above the absolute gate on s:
// two such zones make the problem regional.
func (d *Detector) over(f *function, z *zone, s Signal) bool {
	if s == SignalVolume {
		for _, long := range []bool{false, true} {
			if f.volumeHas(z, long) {
				return d.volumeDeficient(f, z, long)
			}
		}
		return false
	}
	abs := d.absGate(s)
	switch {
	case z.short.n[s] >= d.cfg.MinVolume:
		return z.short.x[s]/z.short.n[s] >= abs
	case z.long.n[s] >= d.cfg.MinVolume:
		return z.long.x[s]/z.long.n[s] >= abs
	}
	return false
}

func (d *Detector) tickFunction(f *function, now time.Time) Report {
	cfg := &d.cfg
	r := Report{Function: f.name, Zones: make([]ZoneReport, len(f.order))}
	for _, z := range f.order {
		z.close()
		z.short = z.window(d.nShort)
		z.long = z.window(d.nLong)
	}
	d.volumePools(f, now)
	threshold := cfg.Alpha / float64(len(f.order)*int(NumSignals))

	var overZones [NumSignals]int
	for i, z := range f.order {
		rep := &r.Zones[i]
		rep.Zone = z.name
		has, breach, fast := false, false, false
		var mask [NumSignals]bool
		for s := range NumSignals {
			res := d.evaluate(f, z, s, threshold, now)
			rep.PValue[s] = res.p
			rep.Breach[s] = res.breach || res.fast
			mask[s] = rep.Breach[s]
			has = has || res.has || res.fast
			breach = breach || rep.Breach[s]
			fast = fast || res.fast
			if d.over(f, z, s) {
				overZones[s]++
			}
		}
		z.verdict = verdictMissing
		switch {
		case breach:
			z.verdict = verdictBreach
			z.breachMask = mask
		case has:
			z.verdict = verdictHealthy
		}
		if from, changed := z.alarm.step(z.verdict, fast, cfg); changed {
			z.stateSince = now
			if from == StateAlarm {
				z.clearedAt = now
			}
			r.Events = append(r.Events, Event{Zone: z.name, Kind: "alarm_state",
				Message: fmt.Sprintf("%s -> %s (breaching: %s)", from, z.alarm.state, signalList(mask))})
		}
		rep.State, rep.StateSince = z.alarm.state, z.stateSince
		d.updateCanaryHealth(z, now)

		rep.TelemetryAge = -1
		stale := false
		if !z.lastTelemetry.IsZero() {
			rep.TelemetryAge = now.Sub(z.lastTelemetry)
			stale = rep.TelemetryAge > cfg.StaleAfter
		}
		if stale != z.stale {
			z.stale = stale
			msg := "telemetry stale"
			if !stale {
				msg = "telemetry fresh again"
			}
			r.Events = append(r.Events, Event{Zone: z.name, Kind: "telemetry", Message: msg})
		}
		rep.Stale = stale
	}

	regional := verdictHealthy
	for _, n := range overZones {
		if n >= 2 {
			regional = verdictBreach
		}
	}
	if from, changed := f.regional.step(regional, false, cfg); changed {
		r.Events = append(r.Events, Event{Kind: "regional",
			Message: fmt.Sprintf("regional state %s -> %s", from, f.regional.state)})
	}
	r.Regional = f.regional.state == StateAlarm

	d.recordPeak(f, now)
	d.decide(f, now, &r)

	for i, z := range f.order {
		rep := &r.Zones[i]
		rep.TrafficWeight = 1
		if f.evacuated(z) {
			if f.shift.stage < 0 {
				rep.TrafficWeight = 0
				rep.Evacuate = true
			} else {
				rep.TrafficWeight = cfg.FailbackStages[f.shift.stage]
			}
		}
		switch {
		case rep.TrafficWeight < 1:
			z.fullSince = time.Time{}
		case z.fullSince.IsZero():
			z.fullSince = now
		}
	}
	r.Blocked = make(map[string]uint64, len(f.blocked))
	for k, v := range f.blocked {
		r.Blocked[k] = v
	}
	d.sweep(f, now)
	return r
}

func signalList(mask [NumSignals]bool) string {
	out := ""
	for s := range NumSignals {
		if mask[s] {
			if out != "" {
				out += ","
			}
			out += s.String()
		}
	}
	if out == "" {
		return "none"
	}
	return out
}

// recordPeak remembers the invocation rate of the whole function (all zones)
// so the capacity guard can ask whether the zones left can carry the peak.
func (d *Detector) recordPeak(f *function, now time.Time) {
	var rate float64
	for _, z := range f.order {
		covered := time.Duration(min(d.nShort, z.filled)) * d.cfg.Tick
		if covered > 0 {
			rate += z.short.n[SignalBad] / covered.Seconds()
		}
	}
	slotLen := d.cfg.CapacityWindow / peakSlots
	if slotLen <= 0 {
		slotLen = 1
	}
	slot := int64(now.Sub(d.start) / slotLen)
	for s := f.peakSlot + 1; s <= slot && s <= f.peakSlot+peakSlots; s++ {
		f.peaks[s%peakSlots] = 0
	}
	if slot > f.peakSlot {
		f.peakSlot = slot
	}
	i := f.peakSlot % peakSlots
	f.peaks[i] = max(f.peaks[i], rate)
}

// sweep forgets series and environments silent for longer than the capacity
// window, so a fleet that recycles environments keeps bounded state.
func (d *Detector) sweep(f *function, now time.Time) {
	every := min(d.cfg.CapacityWindow, time.Minute)
	if now.Sub(f.lastSweep) < every {
		return
	}
	f.lastSweep = now
	for k, s := range f.series {
		if now.Sub(s.lastSeen) > d.cfg.CapacityWindow {
			delete(f.series, k)
		}
	}
	for _, z := range f.order {
		for k, e := range z.envs {
			if now.Sub(e.lastSeen) > d.cfg.CapacityWindow {
				delete(z.envs, k)
			}
		}
	}
}
