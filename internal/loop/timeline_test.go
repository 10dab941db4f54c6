package loop

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/internal/loadgen"
)

// TestTimelineSummary feeds a timeline the observations of a run and checks the summary's keys:
// times from the fault start, an alarm before the fault counted only as false, failures split at
// the shift.
func TestTimelineSummary(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	var failures int64
	totals := func() []loadgen.ZoneStats {
		return []loadgen.ZoneStats{{Zone: "use1-az2", Count: [4]int64{1000, failures, 0, 0}}}
	}
	tl := newTimeline("az-errors", zones, totals)
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tl.begin(t0)

	failures = 3                                                                          // before the fault: not counted
	tl.observeAlarms(t0.Add(5*time.Second), map[string]ZoneAlarm{"use1-az3": {State: 2}}) // a false alarm
	tl.observeAlarms(t0.Add(8*time.Second), map[string]ZoneAlarm{})
	tl.faultStarted(t0.Add(30*time.Second), "az-errors", "use1-az2", time.Minute)
	failures = 13
	tl.observeAlarms(t0.Add(90*time.Second), map[string]ZoneAlarm{"use1-az2": {State: 2}})
	tl.observeWeights(t0.Add(91*time.Second), map[string]float64{"use1-az1": 1, "use1-az2": 0, "use1-az3": 1}, nil)
	failures = 15
	tl.observeWeights(t0.Add(200*time.Second), map[string]float64{"use1-az1": 1, "use1-az2": 0.25, "use1-az3": 1}, nil)

	s := tl.summary("az-errors", "use1-az2", totals())
	if s.AlarmZone == nil || *s.AlarmZone != "use1-az2" || s.TimeToAlarm == nil || *s.TimeToAlarm != 60 {
		t.Errorf("alarm %v after %v, want use1-az2 after 60", s.AlarmZone, s.TimeToAlarm)
	}
	if s.EvacuatedZone == nil || *s.EvacuatedZone != "use1-az2" || s.TimeToShift == nil || *s.TimeToShift != 61 {
		t.Errorf("shift %v after %v, want use1-az2 after 61", s.EvacuatedZone, s.TimeToShift)
	}
	if s.FailedBeforeShift != 10 || s.FailedAfterShift != 2 {
		t.Errorf("failed before/after shift = %d/%d, want 10/2", s.FailedBeforeShift, s.FailedAfterShift)
	}
	if s.FalseAlarms != 1 {
		t.Errorf("false alarms = %d, want 1 (the alarm before the fault)", s.FalseAlarms)
	}
	if s.Invocations != 1015 {
		t.Errorf("invocations = %d", s.Invocations)
	}
	var events []string
	for _, e := range s.Timeline {
		events = append(events, e.Event)
	}
	want := []string{"ALARM", "alarm cleared", "fault start: az-errors", "ALARM", "fault end", "zonal shift: traffic away", "fail-back 25%"}
	if len(events) != len(want) {
		t.Fatalf("timeline %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("timeline %v, want %v", events, want)
		}
	}
	if !tl.Firing("use1-az2") || tl.Firing("use1-az1") || !tl.Firing("any") {
		t.Error("Firing does not follow the alarm states")
	}
}

func TestTimelineNoneScenarioCountsEveryAlarmAsFalse(t *testing.T) {
	tl := newTimeline("none", []string{"use1-az1", "use1-az2"}, func() []loadgen.ZoneStats { return nil })
	t0 := time.Now()
	tl.begin(t0)
	tl.observeAlarms(t0.Add(time.Second), map[string]ZoneAlarm{"use1-az1": {State: 2}})
	s := tl.summary("none", "use1-az2", nil)
	if s.FalseAlarms != 1 || s.AlarmZone == nil || s.TimeToAlarm != nil || s.EvacuatedZone != nil {
		t.Errorf("summary %+v", s)
	}
}

// TestSummaryListsEveryFaultedZone: the summary's faulted_zones are exactly the zones the
// scenario's experiment template targets — both for two-az-errors, whose summary used to name only
// the first.
func TestSummaryListsEveryFaultedZone(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	for _, name := range experiment.ScenarioNames() {
		tmpl, err := experiment.Scenario(name, zones, "use1-az2", 0)
		if err != nil {
			t.Fatal(err)
		}
		targeted := map[string]bool{}
		for _, tg := range tmpl.Targets {
			for _, z := range tg.Zones {
				targeted[z] = true
			}
		}
		want := []string{}
		for _, z := range zones {
			if targeted[z] {
				want = append(want, z)
			}
		}
		tl := newTimeline(name, zones, func() []loadgen.ZoneStats { return nil })
		t0 := time.Now()
		tl.begin(t0)
		if name != experiment.ScenarioNone { // the loop starts no experiment for none
			tl.faultStarted(t0.Add(time.Second), name, "use1-az2", 0)
		}
		s := tl.summary(name, "use1-az2", nil)
		if !slices.Equal(s.FaultedZones, want) {
			t.Errorf("%s: faulted_zones %v, want %v (the template's targets)", name, s.FaultedZones, want)
		}
		b, _ := json.Marshal(s)
		if !strings.Contains(string(b), `"faulted_zone":"use1-az2"`) || !strings.Contains(string(b), `"faulted_zones":[`) {
			t.Errorf("%s: summary JSON %s", name, b)
		}
	}
}

// TestTimelineDecisionTimes: an ALARM read late by the scraper, and a shift whose lease began
// before the scrape saw the alarm, are both placed when they were decided; cause precedes effect
// and the summary's times come from those decisions.
func TestTimelineDecisionTimes(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	tl := newTimeline("az-latency", zones, func() []loadgen.ZoneStats { return nil })
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tl.begin(t0)
	tl.faultStarted(t0.Add(180*time.Second), "az-latency", "use1-az2", 0)
	// The detector decided ALARM at its tick t=230 s; its exporter started the lease at 230.2 s;
	// the shift subscription is seen first (239.6 s), the scrape at 240 s.
	tl.observeWeights(t0.Add(239600*time.Millisecond), map[string]float64{"use1-az1": 1, "use1-az2": 0, "use1-az3": 1},
		map[string]time.Time{"use1-az2": t0.Add(230200 * time.Millisecond)})
	tl.observeAlarms(t0.Add(240*time.Second), map[string]ZoneAlarm{"use1-az2": {State: 2, Since: t0.Add(230 * time.Second)}})
	// A guard's run of blocked ticks is one event, however many scrapes see it grow.
	tl.observeBlocked(t0.Add(200*time.Second), map[string]float64{"BREADTH": 0})
	tl.observeBlocked(t0.Add(205*time.Second), map[string]float64{"BREADTH": 2})
	tl.observeBlocked(t0.Add(206*time.Second), map[string]float64{"BREADTH": 3})
	s := tl.summary("az-latency", "use1-az2", nil)
	if s.TimeToAlarm == nil || *s.TimeToAlarm != 50 || s.TimeToShift == nil || *s.TimeToShift != 50.2 {
		t.Errorf("time to alarm %v, to shift %v; want 50 and 50.2 (the decisions)", derefF(s.TimeToAlarm), derefF(s.TimeToShift))
	}
	var got []string
	for _, e := range s.Timeline {
		got = append(got, fmt.Sprintf("%.1f %s", e.At, e.Event))
	}
	want := []string{"180.0 fault start: az-latency", "205.0 shift blocked: BREADTH", "230.0 ALARM", "230.2 zonal shift: traffic away"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if s.FalseAlarms != 0 {
		t.Errorf("false alarms %d", s.FalseAlarms)
	}
}

// TestTimelineReadsTheWallClock: the detector's tick reaches the timeline as Unix time, without
// a monotonic reading, while the fault's and the lease's start are taken in this process with
// one. Every time the timeline keeps must be a wall-clock time, or Sub mixes the two clocks and
// a clock slewed during the run can put a shift before the alarm that caused it (seen in CI:
// "shift at 6.8 s before its alarm at 6.9 s").
func TestTimelineReadsTheWallClock(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2"}
	tl := newTimeline("az-crash", zones, func() []loadgen.ZoneStats { return nil })
	t0 := time.Now()
	tl.begin(t0)
	tl.faultStarted(t0.Add(time.Second), "az-crash", "use1-az2", 0)
	tick := time.UnixMilli(t0.Add(7 * time.Second).UnixMilli())
	tl.observeAlarms(t0.Add(8*time.Second), map[string]ZoneAlarm{"use1-az2": {State: 2, Since: tick}})
	tl.observeWeights(t0.Add(8*time.Second), map[string]float64{"use1-az1": 1, "use1-az2": 0},
		map[string]time.Time{"use1-az2": t0.Add(7*time.Second + 5*time.Millisecond)})
	for name, at := range map[string]time.Time{"start": tl.start, "fault": tl.faultAt, "alarm": tl.alarmAt, "shift": tl.shiftAt} {
		if strings.Contains(at.String(), " m=") {
			t.Errorf("%s time %s keeps its monotonic reading", name, at)
		}
	}
	for i, at := range tl.times {
		if strings.Contains(at.String(), " m=") {
			t.Errorf("event %d (%s) at %s keeps its monotonic reading", i, tl.events[i].Event, at)
		}
	}
	s := tl.summary("az-crash", "use1-az2", nil)
	if s.TimeToAlarm == nil || s.TimeToShift == nil || *s.TimeToShift < *s.TimeToAlarm {
		t.Errorf("time to alarm %v, to shift %v; the shift follows its alarm", derefF(s.TimeToAlarm), derefF(s.TimeToShift))
	}
}

// TestTimelinePendingAndRenewals: PENDING and its clearing are timeline events at the detector's
// tick, and a lease whose expiry moves later is a renewal; a lease seen the first time is not.
func TestTimelinePendingAndRenewals(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2"}
	tl := newTimeline("az-errors", zones, func() []loadgen.ZoneStats { return nil })
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	tl.begin(t0)
	tl.observeAlarms(t0.Add(10*time.Second), map[string]ZoneAlarm{"use1-az1": {State: 1, Since: t0.Add(9 * time.Second)}})
	tl.observeAlarms(t0.Add(20*time.Second), map[string]ZoneAlarm{"use1-az1": {State: 0, Since: t0.Add(19 * time.Second)}})
	lease := Lease{ID: "s1", Zone: "use1-az2", Start: t0.Add(30 * time.Second), Expiry: t0.Add(90 * time.Second)}
	tl.observeLeases(t0.Add(31*time.Second), []Lease{lease})
	tl.observeLeases(t0.Add(41*time.Second), []Lease{lease})
	lease.Expiry = t0.Add(150 * time.Second)
	tl.observeLeases(t0.Add(60*time.Second), []Lease{lease})
	tl.observeLeases(t0.Add(70*time.Second), nil) // ended: forgotten
	tl.observeLeases(t0.Add(80*time.Second), []Lease{lease})
	s := tl.summary("az-errors", "use1-az2", nil)
	var got []string
	for _, e := range s.Timeline {
		got = append(got, fmt.Sprintf("%.0f %s %s %s", e.At, e.Event, e.Zone, e.Detail))
	}
	want := []string{"9 PENDING use1-az1 ", "19 OK use1-az1 pending cleared", "60 zonal shift renewed use1-az2 expires at t=150s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if s.FalseAlarms != 0 || s.AlarmZone != nil {
		t.Errorf("PENDING counted as an alarm: false alarms %d, alarm zone %v", s.FalseAlarms, deref(s.AlarmZone))
	}
}
