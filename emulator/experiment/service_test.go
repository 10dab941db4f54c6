package experiment_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/experiment/experimenttest"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var zones = []string{"use1-az1", "use1-az2", "use1-az3"}

type fixture struct {
	svc    *experiment.Service
	clock  *clocktest.Clock
	alarms *experimenttest.Alarms
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.NewClock(t0), alarms: &experimenttest.Alarms{}}
	f.svc = experiment.New(experiment.Config{
		Clock: f.clock, Alarms: f.alarms, Zones: zones, Seed: 42,
		TickInterval: time.Second, InvocationTimeout: 3 * time.Second,
	})
	t.Cleanup(f.svc.Close)
	return f
}

// start stores tmpl and starts an experiment from it.
func (f *fixture) start(t *testing.T, tmpl experiment.Template) experiment.Experiment {
	t.Helper()
	et, err := f.svc.CreateTemplate(tmpl)
	if err != nil {
		t.Fatalf("CreateTemplate: %v", err)
	}
	e, err := f.svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: et.ID})
	if err != nil {
		t.Fatalf("StartExperiment: %v", err)
	}
	return e
}

func (f *fixture) get(t *testing.T, id string) experiment.Experiment {
	t.Helper()
	e, err := f.svc.GetExperiment(id)
	if err != nil {
		t.Fatalf("GetExperiment: %v", err)
	}
	return e
}

// statuses is "experiment: action=status ..." for compact comparisons.
func statuses(e experiment.Experiment) string {
	s := e.State.Status + ":"
	for _, name := range []string{"a", "b", "c", "errors", "fault", "slow", "stress"} {
		if a, ok := e.Actions[name]; ok {
			s += " " + name + "=" + a.State.Status
		}
	}
	return s
}

func at(d time.Duration) *experiment.EpochTime {
	e := experiment.EpochTime(t0.Add(d))
	return &e
}

func zoneErrors(duration string, after ...string) experiment.Action {
	p := map[string]string{"percentage": "100"}
	if duration != "" {
		p["duration"] = duration
	}
	return experiment.Action{ActionID: experiment.ActionInjectError, Parameters: p,
		Targets: map[string]string{"Zones": "az2"}, StartAfter: after}
}

func az2Target() map[string]experiment.Target {
	return map[string]experiment.Target{"az2": {ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2"}, SelectionMode: "ALL"}}
}

func TestExperimentLifecycle(t *testing.T) {
	f := newFixture(t)
	e := f.start(t, experiment.Template{
		Targets: az2Target(),
		Actions: map[string]experiment.Action{
			"a": zoneErrors("PT30S"),
			"b": zoneErrors("1m", "a"),
			"c": {ActionID: experiment.ActionWait, Parameters: map[string]string{"duration": "PT10S"}},
		},
	})
	if got, want := statuses(e), "initiating: a=pending b=pending c=pending"; got != want {
		t.Fatalf("after start: %s, want %s", got, want)
	}
	if e.StopConditions[0].Source != experiment.SourceNone {
		t.Errorf("stop conditions = %v, want the default {none}", e.StopConditions)
	}

	f.clock.Advance(0)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "running: a=running b=pending c=running"; got != want {
		t.Fatalf("after the first tick: %s, want %s", got, want)
	}
	if diff := cmp.Diff(at(0), e.StartTime); diff != "" {
		t.Errorf("startTime (-want +got):\n%s", diff)
	}

	f.clock.Advance(10 * time.Second)
	if got, want := statuses(f.get(t, e.ID)), "running: a=running b=pending c=completed"; got != want {
		t.Fatalf("at 10s: %s, want %s", got, want)
	}
	f.clock.Advance(20 * time.Second)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "running: a=completed b=running c=completed"; got != want {
		t.Fatalf("at 30s: %s, want %s", got, want)
	}
	if diff := cmp.Diff(at(30*time.Second), e.Actions["a"].EndTime); diff != "" {
		t.Errorf("a's endTime (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(at(30*time.Second), e.Actions["b"].StartTime); diff != "" {
		t.Errorf("b starts when a ends (-want +got):\n%s", diff)
	}

	f.clock.Advance(59 * time.Second)
	if got := f.get(t, e.ID).State.Status; got != experiment.StatusRunning {
		t.Fatalf("at 89s: %s, want running", got)
	}
	f.clock.Advance(time.Second)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "completed: a=completed b=completed c=completed"; got != want {
		t.Fatalf("at 90s: %s, want %s", got, want)
	}
	if diff := cmp.Diff(at(90*time.Second), e.EndTime); diff != "" {
		t.Errorf("endTime (-want +got):\n%s", diff)
	}
	if e.State.Reason != "Experiment completed." {
		t.Errorf("reason = %q", e.State.Reason)
	}
	if n := f.clock.Pending(); n != 0 {
		t.Errorf("%d timers pending after the experiment ended, want none", n)
	}
	if _, err := f.svc.StopExperiment(e.ID); !experiment.IsType(err, experiment.ValidationException) {
		t.Errorf("stopping a completed experiment: %v, want a ValidationException", err)
	}
}

func TestStopOnRequest(t *testing.T) {
	f := newFixture(t)
	e := f.start(t, experiment.Template{
		Targets: az2Target(),
		Actions: map[string]experiment.Action{"a": zoneErrors(""), "b": zoneErrors("PT1M", "a")},
	})
	f.clock.Advance(time.Hour) // a has no duration: it runs until stopped
	if got, want := statuses(f.get(t, e.ID)), "running: a=running b=pending"; got != want {
		t.Fatalf("after an hour: %s, want %s", got, want)
	}
	hooks := f.svc.HooksFor("use1-az2", 0)
	if _, err := hooks.BeforeInvoke(context.Background(), nil); err == nil {
		t.Fatal("no injected error while the experiment runs")
	}

	e, err := f.svc.StopExperiment(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(e), "stopping: a=stopped b=cancelled"; got != want {
		t.Fatalf("after stop: %s, want %s", got, want)
	}
	if e.State.Reason != "Experiment stopped by user." {
		t.Errorf("reason = %q", e.State.Reason)
	}
	// The faults end with the request, not at the next tick.
	if _, err := hooks.BeforeInvoke(context.Background(), nil); err != nil {
		t.Fatalf("error injected after the stop: %v", err)
	}
	f.clock.Advance(0)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "stopped: a=stopped b=cancelled"; got != want {
		t.Fatalf("after the next tick: %s, want %s", got, want)
	}
	if e.EndTime == nil || e.Actions["b"].StartTime != nil || e.Actions["a"].EndTime == nil {
		t.Errorf("times: end %v, b start %v, a end %v", e.EndTime, e.Actions["b"].StartTime, e.Actions["a"].EndTime)
	}
	if _, err := f.svc.StopExperiment(e.ID); !experiment.IsType(err, experiment.ValidationException) {
		t.Errorf("second stop: %v, want a ValidationException", err)
	}
	if _, err := f.svc.StopExperiment("EXPnope"); !experiment.IsType(err, experiment.ResourceNotFoundException) {
		t.Errorf("stop of an unknown experiment: %v, want a ResourceNotFoundException", err)
	}
}

func TestStopConditionFires(t *testing.T) {
	f := newFixture(t)
	tmpl := experiment.Template{
		Targets:        az2Target(),
		Actions:        map[string]experiment.Action{"a": zoneErrors("PT5M")},
		StopConditions: []experiment.StopCondition{{Source: experiment.SourceNone}, {Source: experiment.SourceAlarm, Value: "use1-az2"}},
	}
	e := f.start(t, tmpl)
	f.alarms.Set("use1-az1", true) // another alarm: no effect
	f.clock.Advance(70 * time.Second)
	if got := statuses(f.get(t, e.ID)); got != "running: a=running" {
		t.Fatalf("at 70s: %s", got)
	}
	f.alarms.Set("use1-az2", true)
	f.clock.Advance(500 * time.Millisecond) // before the next tick
	if got := f.get(t, e.ID).State.Status; got != experiment.StatusRunning {
		t.Fatalf("between ticks: %s, want running", got)
	}
	// The tick stops it; stopping lasts until the timer the stop sets for now, run by the same
	// Advance.
	f.clock.Advance(500 * time.Millisecond)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "stopped: a=stopped"; got != want {
		t.Fatalf("at the tick after the alarm: %s, want %s", got, want)
	}
	if want := "Stop condition azlens:alarm use1-az2 fired."; e.State.Reason != want {
		t.Errorf("reason = %q, want %q", e.State.Reason, want)
	}
	if diff := cmp.Diff(at(71*time.Second), e.Actions["a"].EndTime); diff != "" {
		t.Errorf("action endTime (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(at(71*time.Second), e.EndTime); diff != "" {
		t.Errorf("endTime (-want +got):\n%s", diff)
	}

	// A template whose alarm already fires fails at the start, injecting nothing.
	e = f.start(t, tmpl)
	f.clock.Advance(0)
	e = f.get(t, e.ID)
	if got, want := statuses(e), "failed: a=cancelled"; got != want {
		t.Fatalf("started while the alarm fires: %s, want %s", got, want)
	}
	if !strings.Contains(e.State.Reason, "was firing when the experiment started") {
		t.Errorf("reason = %q", e.State.Reason)
	}
	if got := f.svc.Stats().InvocationsFailed; got != 0 {
		t.Errorf("%d invocations failed, want none", got)
	}
}

func TestEnvironmentSelectionOnce(t *testing.T) {
	f := newFixture(t)
	hooks := map[string]func() error{}
	for i := range 5 {
		h := f.svc.HooksFor("use1-az1", i)
		hooks[fmt.Sprintf("use1-az1#%d", i)] = func() error { _, err := h.BeforeInvoke(context.Background(), nil); return err }
	}
	other := f.svc.HooksFor("use1-az2", 0)
	e := f.start(t, experiment.Template{
		Targets: map[string]experiment.Target{"two": {ResourceType: experiment.ResourceEnvironment, Zones: []string{"use1-az1"}, SelectionMode: "COUNT(2)"}},
		Actions: map[string]experiment.Action{"a": {ActionID: experiment.ActionInjectError,
			Parameters: map[string]string{"errorType": "Runtime.Injected"}, Targets: map[string]string{"Environments": "two"}}},
	})
	chosen := e.Targets["two"].ResolvedEnvironments
	if len(chosen) != 2 {
		t.Fatalf("resolved environments = %v, want 2", chosen)
	}
	late := f.svc.HooksFor("use1-az1", 5) // created after the choice: never selected
	f.clock.Advance(0)
	for range 3 { // the same environments every time
		for name, invoke := range hooks {
			err := invoke()
			selected := name == chosen[0] || name == chosen[1]
			if selected && (err == nil || err.Error() != "Runtime.Injected") {
				t.Errorf("%s was chosen but its invocation returned %v", name, err)
			}
			if !selected && err != nil {
				t.Errorf("%s was not chosen but its invocation failed: %v", name, err)
			}
		}
	}
	if _, err := late.BeforeInvoke(context.Background(), nil); err != nil {
		t.Errorf("an environment created after the start failed: %v", err)
	}
	if _, err := other.BeforeInvoke(context.Background(), nil); err != nil {
		t.Errorf("an environment of another zone failed: %v", err)
	}
	if got := f.get(t, e.ID).Actions["a"].Injections; got != 6 {
		t.Errorf("injections = %d, want 6", got)
	}

	// No environment to choose from: the experiment fails at once, naming the target.
	e = f.start(t, experiment.Template{
		Targets: map[string]experiment.Target{"half": {ResourceType: experiment.ResourceEnvironment, Zones: []string{"use1-az3"}, SelectionMode: "PERCENT(50)"}},
		Actions: map[string]experiment.Action{"a": {ActionID: experiment.ActionInjectError, Targets: map[string]string{"Environments": "half"}}},
	})
	if e.State.Status != experiment.StatusFailed || !strings.Contains(e.State.Reason, "Target half resolved to no environments") {
		t.Errorf("state = %+v, want failed naming target half", e.State)
	}
}

func TestZoneSelectionCount(t *testing.T) {
	f := newFixture(t)
	e := f.start(t, experiment.Template{
		Targets: map[string]experiment.Target{"one": {ResourceType: experiment.ResourceZone, Zones: zones, SelectionMode: "COUNT(1)"}},
		Actions: map[string]experiment.Action{"a": {ActionID: experiment.ActionInjectError, Targets: map[string]string{"Zones": "one"}}},
	})
	f.clock.Advance(0)
	picked := e.Targets["one"].ResolvedZones
	if len(picked) != 1 {
		t.Fatalf("resolved zones = %v, want one", picked)
	}
	failed := 0
	for _, z := range zones {
		if _, err := f.svc.HooksFor(z, 0).BeforeInvoke(context.Background(), nil); err != nil {
			failed++
			if z != picked[0] {
				t.Errorf("zone %s failed, but %s was picked", z, picked[0])
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d zones failed, want 1", failed)
	}
}

func TestCloseStopsExperiments(t *testing.T) {
	f := newFixture(t)
	e := f.start(t, experiment.Template{Targets: az2Target(), Actions: map[string]experiment.Action{"a": zoneErrors("")}})
	f.clock.Advance(0)
	f.svc.Close()
	f.svc.Close() // idempotent
	e = f.get(t, e.ID)
	if e.State.Status != experiment.StatusStopped || !strings.Contains(e.State.Reason, "service closed") {
		t.Errorf("state = %+v, want stopped because the service closed", e.State)
	}
	if _, err := f.svc.HooksFor("use1-az2", 0).BeforeInvoke(context.Background(), nil); err != nil {
		t.Errorf("fault injected after Close: %v", err)
	}
	if n := f.clock.Pending(); n != 0 {
		t.Errorf("%d timers pending after Close", n)
	}
	if _, err := f.svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: e.ExperimentTemplateID}); !experiment.IsType(err, experiment.ConflictException) {
		t.Errorf("start after Close: %v, want a ConflictException", err)
	}
}

func TestTemplatesStore(t *testing.T) {
	f := newFixture(t)
	tmpl := experiment.Template{Targets: az2Target(), Actions: map[string]experiment.Action{"a": zoneErrors("PT1M")}, Tags: map[string]string{"team": "sre"}}
	a, err := f.svc.CreateTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Actions["a"].Parameters["percentage"] = "1" // the stored copy must not change
	got, err := f.svc.GetTemplate(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Actions["a"].Parameters["percentage"]; p != "100" {
		t.Errorf("stored percentage = %q, want 100 (the caller's map was aliased)", p)
	}
	if !strings.HasPrefix(a.ID, "EXT") || time.Time(got.CreationTime) != t0 {
		t.Errorf("id %q, creationTime %v", a.ID, time.Time(got.CreationTime))
	}
	b, _ := f.svc.CreateTemplate(tmpl)
	if ids := []string{f.svc.Templates()[0].ID, f.svc.Templates()[1].ID}; ids[0] != a.ID || ids[1] != b.ID {
		t.Errorf("Templates order = %v, want [%s %s]", ids, a.ID, b.ID)
	}
	e, err := f.svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: a.ID, Tags: map[string]string{"run": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteTemplate(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetTemplate(a.ID); !experiment.IsType(err, experiment.ResourceNotFoundException) {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := f.svc.DeleteTemplate(a.ID); !experiment.IsType(err, experiment.ResourceNotFoundException) {
		t.Errorf("second delete: %v", err)
	}
	f.clock.Advance(time.Minute) // an experiment outlives its template, as in FIS
	if e = f.get(t, e.ID); e.State.Status != experiment.StatusCompleted || e.Tags["run"] != "1" {
		t.Errorf("experiment = %+v %v, want completed with its tags", e.State, e.Tags)
	}
	if _, err := f.svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: a.ID}); !experiment.IsType(err, experiment.ResourceNotFoundException) {
		t.Errorf("start from a deleted template: %v", err)
	}
	if _, err := f.svc.StartExperiment(experiment.StartRequest{}); err == nil || !strings.HasPrefix(err.Error(), "experimentTemplateId: is required") {
		t.Errorf("start without a template id: %v", err)
	}
}

func TestEndedExperimentsPruned(t *testing.T) {
	clock := clocktest.NewClock(t0)
	svc := experiment.New(experiment.Config{Clock: clock, MaxEnded: 2})
	defer svc.Close()
	et, err := svc.CreateTemplate(experiment.Template{Actions: map[string]experiment.Action{"w": {ActionID: experiment.ActionWait, Parameters: map[string]string{"duration": "1s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 4 {
		e, err := svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: et.ID})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
		clock.Advance(time.Second)
	}
	var kept []string
	for _, e := range svc.Experiments() {
		kept = append(kept, e.ID)
	}
	if diff := cmp.Diff(ids[2:], kept); diff != "" {
		t.Errorf("kept experiments (-want +got):\n%s", diff)
	}
}
