package loop

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
)

// Scenarios of the loop beyond experiment's built-ins, so every row of the detection table of
// docs/az-health.md can be rehearsed through the real processes.
const (
	// ScenarioAZLatency10: 10 % of the faulted zone's invocations are ScenarioLatency slower.
	ScenarioAZLatency10 = "az-latency-10"
	// ScenarioLowTraffic: 10 % errors in the faulted zone, at 2 invocations/s per zone unless
	// Config.Rate says otherwise.
	ScenarioLowTraffic = "low-traffic"
	// ScenarioTelemetryLossErrors: 30 % of the faulted zone's telemetry lost and 5 % errors.
	ScenarioTelemetryLossErrors = "telemetry-loss-errors"
	// ScenarioFlapping: 5 % errors switched on and off every 30 s (scaled with the timing)
	// until the run ends: exactly one shift, and no fail-back while it flaps.
	ScenarioFlapping = "flapping"
)

// LowTrafficRate is the per-zone load of ScenarioLowTraffic (invocations/s).
const LowTrafficRate = 2

// flapCycles is how many on/off cycles the flapping scenario has: FIS's 100 actions, enough to
// outlast a run (50 min on the spec's timings).
const flapCycles = 50

// ScenarioNames lists every scenario `azlens up` runs, sorted.
func ScenarioNames() []string {
	names := append(experiment.ScenarioNames(), ScenarioAZLatency10, ScenarioLowTraffic, ScenarioTelemetryLossErrors, ScenarioFlapping)
	slices.Sort(names)
	return names
}

// FaultedZones returns the zones a scenario injects faults into: two for two-az-errors, else
// the faulted zone alone (none for "none").
func FaultedZones(scenario string, zones []string, faulted string) []string {
	switch scenario {
	case "none":
		return nil
	case experiment.ScenarioTwoAZErrors:
		i := slices.Index(zones, faulted)
		return []string{faulted, zones[(i+1)%len(zones)]}
	}
	return []string{faulted}
}

// scenarioTemplate is the experiment template of a scenario. The spec's 30 s flapping period is
// scaled by the timing's tick (10 s in production), so compressed runs flap as often per tick.
func scenarioTemplate(name string, zones []string, faulted string, d time.Duration, timing Timing) (experiment.Template, error) {
	zone := map[string]experiment.Target{"faulted": {ResourceType: experiment.ResourceZone, Zones: []string{faulted}, SelectionMode: "ALL"}}
	targets := map[string]string{"Zones": "faulted"}
	params := func(kv ...string) map[string]string {
		p := map[string]string{}
		if d > 0 {
			p["duration"] = d.String()
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	t := experiment.Template{
		StopConditions: []experiment.StopCondition{{Source: experiment.SourceNone}},
		Tags:           map[string]string{"azlens:scenario": name},
		Targets:        zone,
	}
	switch name {
	case ScenarioAZLatency10:
		t.Description = fmt.Sprintf("10%% of invocations in %s are %s slower", faulted, experiment.ScenarioLatency)
		t.Actions = map[string]experiment.Action{"fault": {ActionID: experiment.ActionAddLatency, Description: t.Description,
			Parameters: params("latency", experiment.ScenarioLatency.String(), "percentage", "10"), Targets: targets}}
	case ScenarioLowTraffic:
		t.Description = fmt.Sprintf("10%% of invocations fail in %s (low traffic)", faulted)
		t.Actions = map[string]experiment.Action{"fault": {ActionID: experiment.ActionInjectError, Description: t.Description,
			Parameters: params("percentage", "10"), Targets: targets}}
	case ScenarioTelemetryLossErrors:
		t.Description = fmt.Sprintf("%s%% of telemetry from %s lost, and %s%% of its invocations fail", experiment.ScenarioTelemetryLossPct, faulted, experiment.ScenarioErrorPercent)
		t.Actions = map[string]experiment.Action{
			"loss":   {ActionID: experiment.ActionTelemetryDrop, Description: "telemetry loss", Parameters: params("percentage", experiment.ScenarioTelemetryLossPct), Targets: targets},
			"errors": {ActionID: experiment.ActionInjectError, Description: "errors", Parameters: params("percentage", experiment.ScenarioErrorPercent), Targets: targets},
		}
	case ScenarioFlapping:
		half := 3 * timing.Tick
		t.Description = fmt.Sprintf("%s%% of invocations fail in %s, on and off every %s", experiment.ScenarioErrorPercent, faulted, half)
		t.Actions = map[string]experiment.Action{}
		prev := ""
		for i := range flapCycles {
			on, off := "on-"+strconv.Itoa(i), "off-"+strconv.Itoa(i)
			a := experiment.Action{ActionID: experiment.ActionInjectError, Description: "errors on",
				Parameters: map[string]string{"percentage": experiment.ScenarioErrorPercent, "duration": half.String()}, Targets: targets}
			if prev != "" {
				a.StartAfter = []string{prev}
			}
			t.Actions[on] = a
			t.Actions[off] = experiment.Action{ActionID: experiment.ActionWait, Description: "errors off",
				Parameters: map[string]string{"duration": half.String()}, StartAfter: []string{on}}
			prev = off
		}
	default:
		return experiment.Scenario(name, zones, faulted, d)
	}
	return t, nil
}
