package detector

import (
	"fmt"
	"time"
)

// decide runs the shift in progress (fail-back, re-shift) and, when a zone is
// in ALARM, the guards that stand between that alarm and a new shift. Each
// block is counted under its reason and logged once when the reason changes.
func (d *Detector) decide(f *function, now time.Time, r *Report) {
	sh := &f.shift
	f.pruneHistory(now, d.cfg.ShiftLimitWindow)

	reason := ""
	switch {
	case d.killSwitch:
		reason = BlockKillSwitch
		if sh.active {
			// As disabling ARC autoshift does: the operator's off switch
			// also returns the traffic.
			r.Events = append(r.Events, Event{Zone: sh.zone, Kind: "shift", Message: "shift cancelled by kill switch"})
			f.endShift(now)
		}
	case d.inBlockedWindow(now):
		reason = BlockBlockedWindow
	}
	if sh.active {
		d.manageShift(f, now, r)
	}

	var alarmed []*zone
	for _, z := range f.order {
		if z.alarm.state == StateAlarm && !f.evacuated(z) {
			alarmed = append(alarmed, z)
		}
	}
	if len(alarmed) == 0 {
		f.lastBlock = ""
		return
	}
	if reason == "" {
		reason = d.guards(f, now, alarmed)
	}
	if reason != "" {
		f.blocked[reason]++
		if reason != f.lastBlock {
			r.Events = append(r.Events, Event{Zone: alarmed[0].name, Kind: "shift_blocked",
				Message: "zonal shift blocked: " + reason})
		}
		f.lastBlock = reason
		return
	}
	f.lastBlock = ""
	z := alarmed[0]
	f.history = append(f.history, shiftRecord{zone: z.name, at: now, auto: true})
	*sh = shift{active: true, zone: z.name, since: now, stage: -1, k: f.shiftsOf(z.name)}
	f.lastZone = z.name
	r.Events = append(r.Events, Event{Zone: z.name, Kind: "shift",
		Message: fmt.Sprintf("evacuating zone (breaching: %s; minimum evacuation %s)",
			signalList(z.breachMask), d.minEvacuation(sh.k))})
}

// guards returns the first reason not to shift alarmed[0], or "".
func (d *Detector) guards(f *function, now time.Time, alarmed []*zone) string {
	cfg := &d.cfg
	// Quorum: do not act on a partial view. A zone counts as reported when
	// its telemetry or its canary results arrived recently: a crashed zone
	// sends no telemetry, but the canaries that fail against it still
	// report, and that is a view of the zone, not a blind spot. Only when
	// neither arrives (the pipeline, not the zone, may be broken) is the
	// view partial.
	for _, z := range f.order {
		last := z.lastTelemetry
		if z.lastCanary.After(last) {
			last = z.lastCanary
		}
		if now.Sub(last) > cfg.CapacityWindow {
			continue // a zone gone for that long is no longer part of the function
		}
		if now.Sub(last) > cfg.StaleAfter {
			return BlockTelemetryQuorum
		}
	}
	if f.regional.state == StateAlarm {
		return BlockRegional
	}
	if len(alarmed) > 1 {
		return BlockMultipleZones
	}
	z := alarmed[0]
	if !d.broad(z, now) {
		return BlockBreadth
	}
	if f.shift.active {
		return BlockZoneShifted
	}
	if !d.capacityOK(f, z, now) {
		return BlockCapacity
	}
	auto := 0
	for _, h := range f.history {
		if h.auto {
			auto++
		}
	}
	if auto >= cfg.MaxShifts {
		return BlockRateLimit
	}
	if f.lastZone != "" && f.lastZone != z.name && now.Sub(f.lastEnd) < cfg.ZoneChangeCooldown {
		return BlockZoneChangeCooldn
	}
	return ""
}

// broad tells a zone fault from one bad host: enough environments of the
// zone must themselves be above the absolute gate on a breaching signal
// (over their recent, decayed counts). Canary failures are zone-level
// evidence by construction (they enter through the front door like user
// traffic), so a canary breach passes. So does a volume breach: the zone as a
// whole completes less than half its share, which one bad host among the
// zone's environments cannot do (the others would take its invocations).
func (d *Detector) broad(z *zone, now time.Time) bool {
	if z.breachMask[SignalCanary] || z.breachMask[SignalVolume] {
		return true
	}
	bad, total := 0, 0
	for _, e := range z.envs {
		if now.Sub(e.lastSeen) > d.cfg.LongWindow {
			continue
		}
		total++
		e.decay(now, d.cfg.ShortWindow)
		for _, s := range []Signal{SignalBad, SignalSlow} {
			if z.breachMask[s] && e.x[s] >= 1 && e.x[s] >= d.absGate(s)*e.n[s] {
				bad++
				break
			}
		}
	}
	return bad >= d.cfg.MinBadEnvironments ||
		(total > 0 && float64(bad) >= d.cfg.MinBadEnvironmentFraction*float64(total))
}

// capacityOK asks whether the zones left can carry the recent peak with
// headroom. Demand is the peak invocation rate of the whole function times
// the mean duration in the remaining zones (Little's law: concurrent
// executions); using the remaining zones' duration keeps a slow impaired
// zone from inflating it. Capacity is the configured number of environments
// per zone, else the number of distinct environments seen recently.
func (d *Detector) capacityOK(f *function, cand *zone, now time.Time) bool {
	cfg := &d.cfg
	var capacity, durSum, durN float64
	for _, z := range f.order {
		if z == cand {
			continue
		}
		c, ok := cfg.Capacity[z.name]
		if !ok {
			for _, e := range z.envs {
				if now.Sub(e.lastSeen) <= cfg.CapacityWindow {
					c++
				}
			}
		}
		capacity += c
		durSum += z.long.durSum
		durN += z.long.n[SignalSlow]
	}
	var peak float64
	for _, p := range f.peaks {
		peak = max(peak, p)
	}
	if durN == 0 || peak == 0 {
		// Nothing to size the demand with: the zones left carry no load
		// we know of, so no capacity can be shown missing.
		return true
	}
	demand := peak * durSum / durN
	return capacity >= demand/cfg.CapacityHeadroom
}

// manageShift runs the shift in progress: hold the zone out for the minimum
// evacuation time and until its canaries are healthy, then return traffic in
// stages, and evacuate again at once on any breach.
func (d *Detector) manageShift(f *function, now time.Time, r *Report) {
	cfg := &d.cfg
	sh := &f.shift
	z := f.zones[sh.zone]
	if sh.stage < 0 {
		if now.Sub(sh.since) >= d.minEvacuation(sh.k) && z.alarm.state != StateAlarm && d.canariesHealthy(z, now) {
			sh.stage, sh.stageSince = 0, now
			r.Events = append(r.Events, Event{Zone: z.name, Kind: "failback",
				Message: fmt.Sprintf("fail-back: %.0f%% of traffic", 100*cfg.FailbackStages[0])})
		}
		return
	}
	if z.verdict == verdictBreach {
		f.history = append(f.history, shiftRecord{zone: z.name, at: now})
		sh.stage, sh.since, sh.k = -1, now, f.shiftsOf(z.name)
		r.Events = append(r.Events, Event{Zone: z.name, Kind: "shift",
			Message: fmt.Sprintf("breach during fail-back: evacuating again (minimum evacuation %s)", d.minEvacuation(sh.k))})
		return
	}
	if now.Sub(sh.stageSince) < cfg.FailbackStageDuration {
		return
	}
	sh.stage++
	sh.stageSince = now
	if cfg.FailbackStages[sh.stage] >= 1 {
		r.Events = append(r.Events, Event{Zone: z.name, Kind: "shift", Message: "fail-back complete: shift ended"})
		f.endShift(now)
		return
	}
	r.Events = append(r.Events, Event{Zone: z.name, Kind: "failback",
		Message: fmt.Sprintf("fail-back: %.0f%% of traffic", 100*cfg.FailbackStages[sh.stage])})
}

// canariesHealthy needs evidence, not silence: enough canary results over
// the long window, their failure rate under the absolute gate and no canary
// breach, continuously for a whole long window. One good window is not
// enough: a fault that flaps at 5 % yields windows under 1 % now and then.
func (d *Detector) canariesHealthy(z *zone, now time.Time) bool {
	return !z.canaryOKSince.IsZero() && now.Sub(z.canaryOKSince) >= d.cfg.LongWindow
}

// updateCanaryHealth runs every tick for every zone.
func (d *Detector) updateCanaryHealth(z *zone, now time.Time) {
	n := z.long.n[SignalCanary]
	ok := n >= d.cfg.MinVolume && z.long.x[SignalCanary]/n < d.cfg.ErrorThreshold &&
		!(z.verdict == verdictBreach && z.breachMask[SignalCanary])
	switch {
	case !ok:
		z.canaryOKSince = time.Time{}
	case z.canaryOKSince.IsZero():
		z.canaryOKSince = now
	}
}

// minEvacuation is MinEvacuation × 2^(k−1) for the k-th shift of a zone in
// the limit window, capped at MaxEvacuation.
func (d *Detector) minEvacuation(k int) time.Duration {
	m := d.cfg.MinEvacuation
	for i := 1; i < k && m < d.cfg.MaxEvacuation; i++ {
		m *= 2
	}
	return min(m, d.cfg.MaxEvacuation)
}

func (d *Detector) inBlockedWindow(now time.Time) bool {
	for _, w := range d.cfg.BlockedWindows {
		if !now.Before(w.Start) && now.Before(w.End) {
			return true
		}
	}
	return false
}

func (f *function) endShift(now time.Time) {
	f.shift = shift{}
	f.lastEnd = now
}

func (f *function) shiftsOf(zone string) int {
	n := 0
	for _, h := range f.history {
		if h.zone == zone {
			n++
		}
	}
	return n
}

func (f *function) pruneHistory(now time.Time, window time.Duration) {
	i := 0
	for i < len(f.history) && now.Sub(f.history[i].at) >= window {
		i++
	}
	f.history = f.history[i:]
}
