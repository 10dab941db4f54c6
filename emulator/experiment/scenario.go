package experiment

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Built-in scenarios, as `azlens up --scenario` names them.
const (
	ScenarioNone          = "none"
	ScenarioAZErrors      = "az-errors"
	ScenarioAZLatency     = "az-latency"
	ScenarioAZCrash       = "az-crash"
	ScenarioTelemetryLoss = "telemetry-loss"
	ScenarioTwoAZErrors   = "two-az-errors"
)

// Magnitudes of the built-in scenarios, chosen from the detection table of docs/az-health.md:
// each should (or, for telemetry-loss alone, should not) bring the faulted zone to ALARM.
const (
	ScenarioErrorPercent     = "5"
	ScenarioLatency          = 1500 * time.Millisecond
	ScenarioTelemetryLossPct = "30"
)

// ScenarioNames returns the built-in scenario names, sorted.
func ScenarioNames() []string {
	return []string{ScenarioAZCrash, ScenarioAZErrors, ScenarioAZLatency, ScenarioNone, ScenarioTelemetryLoss, ScenarioTwoAZErrors}
}

// Scenario returns the template of a built-in scenario for a region with zones, faulting zone
// faulted (empty means the first zone) for duration (zero means until the experiment is stopped):
//
//	none            no fault: a wait, so a baseline run has the same lifecycle as a faulted one
//	az-errors       5 % of invocations in faulted fail with Sandbox.Failure
//	az-latency      every invocation in faulted is 1.5 s slower
//	az-crash        every environment in faulted black-holes invocations and sends no telemetry
//	telemetry-loss  30 % of faulted's telemetry events are lost
//	two-az-errors   5 % errors in faulted and in the zone after it in zones (no shift must follow)
//
// The template is tagged azlens:scenario=<name>, and has no stop condition.
func Scenario(name string, zones []string, faulted string, duration time.Duration) (Template, error) {
	if len(zones) == 0 {
		return Template{}, fmt.Errorf("scenario %s: at least one zone is required", name)
	}
	if faulted == "" {
		faulted = zones[0]
	}
	at := slices.Index(zones, faulted)
	if at < 0 {
		return Template{}, fmt.Errorf("scenario %s: faulted zone %q is not one of the zones %s", name, faulted, strings.Join(zones, ", "))
	}
	if duration < 0 {
		return Template{}, fmt.Errorf("scenario %s: duration must not be negative", name)
	}
	params := func(kv ...string) map[string]string {
		p := map[string]string{}
		if duration > 0 {
			p["duration"] = duration.String()
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	t := Template{
		StopConditions: []StopCondition{{Source: SourceNone}},
		Tags:           map[string]string{"azlens:scenario": name},
		Targets:        map[string]Target{},
		Actions:        map[string]Action{},
	}
	zone := func(zs ...string) map[string]Target {
		return map[string]Target{"faulted": {ResourceType: ResourceZone, Zones: zs, SelectionMode: "ALL"}}
	}
	fault := func(actionID, description string, p map[string]string) map[string]Action {
		return map[string]Action{"fault": {ActionID: actionID, Description: description, Parameters: p,
			Targets: map[string]string{"Zones": "faulted"}}}
	}
	switch name {
	case ScenarioNone:
		t.Description = "baseline: no fault"
		t.Actions = map[string]Action{"baseline": {ActionID: ActionWait, Description: "no fault", Parameters: params()}}
	case ScenarioAZErrors:
		t.Description = fmt.Sprintf("%s%% of invocations fail in %s", ScenarioErrorPercent, faulted)
		t.Targets = zone(faulted)
		t.Actions = fault(ActionInjectError, t.Description, params("percentage", ScenarioErrorPercent))
	case ScenarioAZLatency:
		t.Description = fmt.Sprintf("every invocation in %s is %s slower", faulted, ScenarioLatency)
		t.Targets = zone(faulted)
		t.Actions = fault(ActionAddLatency, t.Description, params("latency", ScenarioLatency.String(), "percentage", "100"))
	case ScenarioAZCrash:
		t.Description = fmt.Sprintf("every environment in %s crashes: invocations black-holed, no telemetry", faulted)
		t.Targets = zone(faulted)
		t.Actions = fault(ActionZoneCrash, t.Description, params("mode", CrashBlackhole))
	case ScenarioTelemetryLoss:
		t.Description = fmt.Sprintf("%s%% of telemetry events from %s are lost", ScenarioTelemetryLossPct, faulted)
		t.Targets = zone(faulted)
		t.Actions = fault(ActionTelemetryDrop, t.Description, params("percentage", ScenarioTelemetryLossPct))
	case ScenarioTwoAZErrors:
		if len(zones) < 2 {
			return Template{}, fmt.Errorf("scenario %s: needs at least two zones, got %d", name, len(zones))
		}
		second := zones[(at+1)%len(zones)]
		t.Description = fmt.Sprintf("%s%% of invocations fail in %s and in %s", ScenarioErrorPercent, faulted, second)
		t.Targets = zone(faulted, second)
		t.Actions = fault(ActionInjectError, t.Description, params("percentage", ScenarioErrorPercent))
	default:
		return Template{}, fmt.Errorf("unknown scenario %q (one of %s)", name, strings.Join(ScenarioNames(), ", "))
	}
	return t, nil
}
