package loop

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/azlens/azlens/internal/loadgen"
)

// Summary is what `azlens up --summary-json` writes; scripts depend on its keys.
type Summary struct {
	Scenario string `json:"scenario"`
	// FaultedZone is the zone the scenario targets (the first, for a scenario faulting several).
	FaultedZone string `json:"faulted_zone"`
	// FaultedZones are all the zones the fault was injected into, in zone order; empty when no
	// fault started.
	FaultedZones  []string `json:"faulted_zones"`
	AlarmZone     *string  `json:"alarm_zone"`
	EvacuatedZone *string  `json:"evacuated_zone"`
	TimeToAlarm   *float64 `json:"time_to_alarm_s"`
	TimeToShift   *float64 `json:"time_to_shift_s"`
	// FailedBeforeShift and FailedAfterShift count user invocations that did not succeed (function
	// errors, throttles, failures) from the fault's start until the shift, and after it.
	FailedBeforeShift int64 `json:"failed_before_shift"`
	FailedAfterShift  int64 `json:"failed_after_shift"`
	// FalseAlarms counts ALARM episodes in zones no fault was injected into.
	FalseAlarms int64 `json:"false_alarms"`
	// Invocations counts user invocations answered (canaries excluded).
	Invocations int64 `json:"invocations"`
	// Timeline lists the run's events in order.
	Timeline []Event `json:"timeline"`
	// Zones are the per-zone totals of user invocations.
	Zones []ZoneTotal `json:"zones"`
}

// Event is one line of the timeline.
type Event struct {
	At     float64 `json:"t_s"` // seconds since the load started
	Event  string  `json:"event"`
	Zone   string  `json:"zone,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// ZoneTotal is one zone's user invocations.
type ZoneTotal struct {
	Zone        string `json:"zone"`
	Invocations int64  `json:"invocations"`
	Failed      int64  `json:"failed"`
}

// timeline records what the run observed: fault, alarm states, weights, client-side failures.
// It is also the experiments' alarm source (stop conditions).
type timeline struct {
	mu          sync.Mutex
	scenario    string
	zones       []string
	start       time.Time
	faultAt     time.Time
	faultEnd    time.Duration
	faulted     map[string]bool
	alarm       map[string]int
	weight      map[string]float64
	firstAlarm  string
	alarmAt     time.Time
	shiftZone   string
	shiftAt     time.Time
	episodes    map[string]int64 // ALARM episodes since the fault started, by zone
	falseAlarms int64            // ALARM episodes before any fault
	// Cumulative client-side failures when the fault started and when the shift happened, so
	// failures split exactly at the shift, not at the view's period.
	failedAtFault int64
	failedAtShift int64
	totals        func() []loadgen.ZoneStats
	events        []Event
	times         []time.Time          // the exact time of each event, which orders them
	expiry        map[string]time.Time // each active lease's expiry seen last, by shift id
	blocked       map[string]float64   // shift_blocked counts seen, by reason
	blocking      map[string]time.Time // when each reason's count last grew
}

func newTimeline(scenario string, zones []string, totals func() []loadgen.ZoneStats) *timeline {
	t := &timeline{scenario: scenario, zones: zones, totals: totals, alarm: map[string]int{}, weight: map[string]float64{}, episodes: map[string]int64{}, faulted: map[string]bool{}}
	for _, z := range zones {
		t.weight[z] = 1
	}
	return t
}

func (t *timeline) begin(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = wall(now)
}

// wall drops t's monotonic clock reading. The timeline compares times taken in this process
// (the fault's start, the lease's start) with times the collector wrote as Unix time (the
// detector's tick), so every one of them is read on the wall clock: with the monotonic reading
// kept, Sub would measure some on the monotonic clock and some on the wall clock, and a wall
// clock slewed or stepped during the run could put a shift before the alarm that caused it.
func wall(t time.Time) time.Time { return t.Round(0) }

// addLocked records an event at the time it was decided, in time order: a decision read late
// (a scrape, a subscription) goes before events observed since.
func (t *timeline) addLocked(at time.Time, event, zone, detail string) {
	at = wall(at)
	i := len(t.times)
	for i > 0 && t.times[i-1].After(at) {
		i--
	}
	t.times = slices.Insert(t.times, i, at)
	t.events = slices.Insert(t.events, i, Event{At: round1(at.Sub(t.start).Seconds()), Event: event, Zone: zone, Detail: detail})
}

// blockRunGap ends a run of blocked decisions: longer than a few detector ticks on any timing.
const blockRunGap = 30 * time.Second

// observeBlocked records each guard that blocked a shift since the last scrape (the detector
// counts its blocked decisions by reason), once per run of blocked ticks.
func (t *timeline) observeBlocked(now time.Time, counts map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.blocked == nil {
		t.blocked, t.blocking = map[string]float64{}, map[string]time.Time{}
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		grew := counts[r] > t.blocked[r]
		t.blocked[r] = counts[r]
		if !grew {
			continue
		}
		// Scrapes and ticks are not in step: a run of blocked ticks shows as growth at some
		// scrapes only, so a reason is new again only after blockRunGap without growth.
		if last, ok := t.blocking[r]; !ok || now.Sub(last) > blockRunGap {
			t.addLocked(now, "shift blocked: "+r, "", "")
		}
		t.blocking[r] = now
	}
}

func (t *timeline) faultStarted(now time.Time, scenario, zone string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now = wall(now)
	t.faultAt = now
	t.faultEnd = d
	t.failedAtFault = failed(t.totals())
	for _, z := range FaultedZones(scenario, t.zones, zone) {
		t.faulted[z] = true
	}
	detail := "until the run ends"
	if d > 0 {
		detail = "for " + d.String()
	}
	t.addLocked(now, "fault start: "+scenario, zone, detail)
}

// Firing answers azlens:alarm stop conditions: the alarm name is a zone ID (or "any").
func (t *timeline) Firing(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if name == "any" {
		for _, s := range t.alarm {
			if s == 2 {
				return true
			}
		}
		return false
	}
	return t.alarm[name] == 2
}

// observeAlarms takes the alarm states read at now; each change is placed at the detector's
// decision (its tick), when the collector said it, else at now.
func (t *timeline) observeAlarms(now time.Time, states map[string]ZoneAlarm) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now = wall(now)
	for _, z := range t.zones {
		s, prev := states[z].State, t.alarm[z]
		if s == prev {
			continue
		}
		t.alarm[z] = s
		at := now
		if since := states[z].Since; !since.IsZero() && since.Before(now) && !since.Before(t.start) {
			at = since
		}
		switch {
		case s == 2:
			if t.faultAt.IsZero() || at.Before(t.faultAt) {
				t.falseAlarms++
			} else {
				t.episodes[z]++
			}
			t.addLocked(at, "ALARM", z, "")
			// The scenario's alarm is the first after its fault started; with no scenario, any
			// alarm (and it is a false one). An alarm before the fault counts only as false.
			if t.firstAlarm == "" && ((!t.faultAt.IsZero() && !at.Before(t.faultAt)) || t.scenario == "none") {
				t.firstAlarm, t.alarmAt = z, at
			}
		case prev == 2:
			t.addLocked(at, "alarm cleared", z, "")
		case s == 1:
			// PENDING: the zone breached on some of the last ticks, not yet enough to alarm.
			t.addLocked(at, "PENDING", z, "")
		case prev == 1:
			t.addLocked(at, "OK", z, "pending cleared")
		}
	}
}

// Lease is an active zonal shift as the shift service lists it.
type Lease struct {
	ID, Zone      string
	Start, Expiry time.Time
}

// observeLeases records renewals: an active lease whose expiry moved later was renewed at now
// (the service keeps no renewal time; the view period bounds the error). A lease seen for the
// first time is the shift itself, which observeWeights places.
func (t *timeline) observeLeases(now time.Time, leases []Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now = wall(now)
	if t.expiry == nil {
		t.expiry = map[string]time.Time{}
	}
	seen := map[string]bool{}
	for _, l := range leases {
		seen[l.ID] = true
		exp := wall(l.Expiry)
		if prev, ok := t.expiry[l.ID]; ok && exp.After(prev) {
			t.addLocked(now, "zonal shift renewed", l.Zone, "expires at t="+fmt.Sprintf("%.0fs", exp.Sub(t.start).Seconds()))
		}
		t.expiry[l.ID] = exp
	}
	for id := range t.expiry {
		if !seen[id] {
			delete(t.expiry, id)
		}
	}
}

// observeWeights takes the traffic weights read at now; a zone shifted away is placed at its
// lease's start (leases, by zone), when known.
func (t *timeline) observeWeights(now time.Time, w map[string]float64, leases map[string]time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now = wall(now)
	for _, z := range t.zones {
		nw, ok := w[z]
		if !ok {
			nw = 0
		}
		old := t.weight[z]
		if nw == old {
			continue
		}
		t.weight[z] = nw
		switch {
		case nw == 0:
			at := now
			if start, ok := leases[z]; ok && wall(start).Before(now) && !wall(start).Before(t.start) {
				at = wall(start)
			}
			t.addLocked(at, "zonal shift: traffic away", z, "")
			if t.shiftZone == "" {
				t.shiftZone, t.shiftAt = z, at
				t.failedAtShift = failed(t.totals())
			}
		case nw >= 1:
			t.addLocked(now, "recovered: full traffic", z, "")
		default:
			t.addLocked(now, fmt.Sprintf("fail-back %.0f%%", 100*nw), z, "")
		}
	}
}

// failed counts user invocations that did not succeed, from cumulative per-zone totals.
func failed(totals []loadgen.ZoneStats) int64 {
	var n int64
	for _, z := range totals {
		n += z.Count[loadgen.FunctionError] + z.Count[loadgen.Throttled] + z.Count[loadgen.Failed]
	}
	return n
}

func (t *timeline) summary(scenario, faulted string, totals []loadgen.ZoneStats) *Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &Summary{Scenario: scenario, FaultedZone: faulted, FaultedZones: []string{}}
	for _, z := range t.zones {
		if t.faulted[z] {
			s.FaultedZones = append(s.FaultedZones, z)
		}
	}
	if !t.faultAt.IsZero() {
		end := failed(totals)
		if t.shiftZone == "" {
			s.FailedBeforeShift = end - t.failedAtFault
		} else {
			s.FailedBeforeShift = max(0, t.failedAtShift-t.failedAtFault)
			s.FailedAfterShift = end - max(t.failedAtShift, t.failedAtFault)
		}
	}
	if t.firstAlarm != "" {
		z := t.firstAlarm
		s.AlarmZone = &z
		if !t.faultAt.IsZero() {
			v := round1(t.alarmAt.Sub(t.faultAt).Seconds())
			s.TimeToAlarm = &v
		}
	}
	if t.shiftZone != "" {
		z := t.shiftZone
		s.EvacuatedZone = &z
		if !t.faultAt.IsZero() {
			v := round1(t.shiftAt.Sub(t.faultAt).Seconds())
			s.TimeToShift = &v
		}
	}
	s.FalseAlarms = t.falseAlarms
	for z, n := range t.episodes {
		if !t.faulted[z] {
			s.FalseAlarms += n
		}
	}
	for _, z := range totals {
		s.Invocations += z.Total()
		s.Zones = append(s.Zones, ZoneTotal{Zone: z.Zone, Invocations: z.Total(),
			Failed: z.Count[loadgen.FunctionError] + z.Count[loadgen.Throttled] + z.Count[loadgen.Failed]})
	}
	s.Timeline = append([]Event(nil), t.events...)
	if !t.faultAt.IsZero() && t.faultEnd > 0 {
		end := t.faultAt.Add(t.faultEnd)
		s.Timeline = insertEvent(s.Timeline, Event{At: round1(end.Sub(t.start).Seconds()), Event: "fault end", Zone: faulted})
	}
	return s
}

func insertEvent(evs []Event, e Event) []Event {
	i := len(evs)
	for i > 0 && evs[i-1].At > e.At {
		i--
	}
	evs = append(evs, Event{})
	copy(evs[i+1:], evs[i:])
	evs[i] = e
	return evs
}

// print writes the timeline and the headline figures.
func (t *timeline) print(w io.Writer) {
	t.mu.Lock()
	events := append([]Event(nil), t.events...)
	t.mu.Unlock()
	if len(events) == 0 {
		fmt.Fprintln(w, "timeline: no events (no fault started, no alarm, no shift)")
		return
	}
	fmt.Fprintln(w, "timeline:")
	for _, e := range events {
		fmt.Fprintf(w, "  %7.1fs  %-28s %s %s\n", e.At, e.Event, e.Zone, e.Detail)
	}
}

func (t *timeline) states() (alarm map[string]int, weight map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	alarm, weight = map[string]int{}, map[string]float64{}
	for k, v := range t.alarm {
		alarm[k] = v
	}
	for k, v := range t.weight {
		weight[k] = v
	}
	return alarm, weight
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

var alarmNames = map[int]string{0: "OK", 1: "PENDING", 2: "ALARM"}
