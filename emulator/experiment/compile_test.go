package experiment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/experiment/experimenttest"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// validTemplate is a template every case below breaks in one place.
func validTemplate() experiment.Template {
	return experiment.Template{
		Description: "errors in az2",
		Targets: map[string]experiment.Target{
			"az2":  {ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2"}, SelectionMode: "ALL"},
			"envs": {ResourceType: experiment.ResourceEnvironment, Zones: []string{"use1-az1"}, SelectionMode: "COUNT(1)"},
		},
		Actions: map[string]experiment.Action{
			"errors": {ActionID: experiment.ActionInjectError, Parameters: map[string]string{"duration": "PT2M", "percentage": "5"},
				Targets: map[string]string{"Zones": "az2"}},
			"slow": {ActionID: experiment.ActionAddLatency, Parameters: map[string]string{"duration": "1m", "latency": "200ms"},
				Targets: map[string]string{"Environments": "envs"}, StartAfter: []string{"errors"}},
		},
		StopConditions: []experiment.StopCondition{{Source: experiment.SourceAlarm, Value: "use1-az2"}},
	}
}

func TestCreateTemplateValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*experiment.Template)
		want   string // the start of the error message: the field path and the complaint
	}{
		{"unknown resource type", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: "aws:ec2:instance", Zones: []string{"use1-az2"}, SelectionMode: "ALL"}
		}, `targets.az2.resourceType: unknown resource type "aws:ec2:instance"`},
		{"missing resource type", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{Zones: []string{"use1-az2"}, SelectionMode: "ALL"}
		}, "targets.az2.resourceType: is required"},
		{"no zones", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, SelectionMode: "ALL"}
		}, "targets.az2.zones: at least one zone is required"},
		{"unknown zone", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, Zones: []string{"use1-az9"}, SelectionMode: "ALL"}
		}, `targets.az2.zones[0]: unknown zone "use1-az9"`},
		{"zone twice", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2", "use1-az2"}, SelectionMode: "ALL"}
		}, `targets.az2.zones[1]: zone "use1-az2" is listed twice`},
		{"missing selection mode", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2"}}
		}, "targets.az2.selectionMode: is required"},
		{"bad selection mode", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2"}, SelectionMode: "SOME"}
		}, `targets.az2.selectionMode: "SOME" is not ALL, COUNT(n) or PERCENT(p)`},
		{"count zero", func(t *experiment.Template) {
			t.Targets["envs"] = experiment.Target{ResourceType: experiment.ResourceEnvironment, Zones: []string{"use1-az1"}, SelectionMode: "COUNT(0)"}
		}, "targets.envs.selectionMode: COUNT(n) needs n ≥ 1"},
		{"count above zones", func(t *experiment.Template) {
			t.Targets["az2"] = experiment.Target{ResourceType: experiment.ResourceZone, Zones: []string{"use1-az2"}, SelectionMode: "COUNT(2)"}
		}, "targets.az2.selectionMode: COUNT(2) is more than the 1 zones listed"},
		{"percent above 100", func(t *experiment.Template) {
			t.Targets["envs"] = experiment.Target{ResourceType: experiment.ResourceEnvironment, Zones: []string{"use1-az1"}, SelectionMode: "PERCENT(101)"}
		}, "targets.envs.selectionMode: PERCENT(p) needs 0 < p ≤ 100"},
		{"no actions", func(t *experiment.Template) { t.Actions = nil }, "actions: at least one action is required"},
		{"unknown action", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: "aws:ec2:stop-instances", Targets: map[string]string{"Zones": "az2"}}
		}, `actions.errors.actionId: unknown action "aws:ec2:stop-instances"`},
		{"missing action id", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{Targets: map[string]string{"Zones": "az2"}}
		}, "actions.errors.actionId: is required"},
		{"unknown parameter", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["invocationPercentage"] = "5"
		}, "actions.errors.parameters.invocationPercentage: unknown parameter for azlens:invoke:inject-error"},
		{"percentage not a number", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["percentage"] = "five"
		}, `actions.errors.parameters.percentage: "five" is not a number from 0 to 100`},
		{"percentage above 100", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["percentage"] = "100.5"
		}, "actions.errors.parameters.percentage:"},
		{"percentage NaN", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["percentage"] = "NaN"
		}, "actions.errors.parameters.percentage:"},
		{"bad duration", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["duration"] = "two minutes"
		}, `actions.errors.parameters.duration: "two minutes" is not a duration`},
		{"bad ISO duration", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["duration"] = "PT2X"
		}, `actions.errors.parameters.duration: "PT2X" is not an ISO 8601 duration`},
		{"zero duration", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["duration"] = "PT0S"
		}, "actions.errors.parameters.duration: \"PT0S\" must be longer than zero"},
		{"duration above 12h", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["duration"] = "PT13H"
		}, "actions.errors.parameters.duration: must be at most 12h"},
		{"error type with spaces", func(t *experiment.Template) {
			t.Actions["errors"].Parameters["errorType"] = "Sandbox Failure"
		}, "actions.errors.parameters.errorType:"},
		{"latency missing", func(t *experiment.Template) {
			delete(t.Actions["slow"].Parameters, "latency")
		}, "actions.slow.parameters.latency: is required"},
		{"latency bad", func(t *experiment.Template) {
			t.Actions["slow"].Parameters["latency"] = "-1s"
		}, "actions.slow.parameters.latency: \"-1s\" must be longer than zero"},
		{"crash mode", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionZoneCrash, Parameters: map[string]string{"mode": "explode"},
				Targets: map[string]string{"Zones": "az2"}}
		}, `actions.errors.parameters.mode: "explode" is not "blackhole" or "refuse"`},
		{"delay missing", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionTelemetryDelay, Targets: map[string]string{"Zones": "az2"}}
		}, "actions.errors.parameters.delay: is required"},
		{"stress workers", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionCPUStress, Parameters: map[string]string{"workers": "65"}}
		}, `actions.errors.parameters.workers: "65" is not a whole number from 1 to 64`},
		{"stress load", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionCPUStress, Parameters: map[string]string{"load": "0"}}
		}, `actions.errors.parameters.load: "0" is not a percentage`},
		{"stress with target", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionCPUStress, Targets: map[string]string{"Zones": "az2"}}
		}, "actions.errors.targets: azlens:cpu:stress takes no targets"},
		{"fault without target", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionInjectError}
		}, "actions.errors.targets: azlens:invoke:inject-error needs exactly one target"},
		{"unknown target key", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionInjectError, Targets: map[string]string{"Instances": "az2"}}
		}, `actions.errors.targets.Instances: unknown target key`},
		{"no such target", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionInjectError, Targets: map[string]string{"Zones": "az3"}}
		}, `actions.errors.targets.Zones: no target named "az3"`},
		{"target kind mismatch", func(t *experiment.Template) {
			t.Actions["errors"] = experiment.Action{ActionID: experiment.ActionInjectError, Targets: map[string]string{"Zones": "envs"}}
		}, `actions.errors.targets.Zones: target "envs" has resourceType "azlens:environment"`},
		{"start after unknown", func(t *experiment.Template) {
			a := t.Actions["slow"]
			a.StartAfter = []string{"warmup"}
			t.Actions["slow"] = a
		}, `actions.slow.startAfter[0]: no action named "warmup"`},
		{"start after itself", func(t *experiment.Template) {
			a := t.Actions["slow"]
			a.StartAfter = []string{"slow"}
			t.Actions["slow"] = a
		}, "actions.slow.startAfter[0]: an action cannot start after itself"},
		{"start after cycle", func(t *experiment.Template) {
			a := t.Actions["errors"]
			a.StartAfter = []string{"slow"}
			t.Actions["errors"] = a
		}, "actions.errors.startAfter: actions start after each other in a cycle"},
		{"stop condition source", func(t *experiment.Template) {
			t.StopConditions = []experiment.StopCondition{{Source: "aws:sns:topic", Value: "x"}}
		}, `stopConditions[0].source: unknown source "aws:sns:topic"`},
		{"stop condition without value", func(t *experiment.Template) {
			t.StopConditions = []experiment.StopCondition{{Source: experiment.SourceNone}, {Source: experiment.SourceAlarm}}
		}, "stopConditions[1].value: is required"},
		{"none with value", func(t *experiment.Template) {
			t.StopConditions = []experiment.StopCondition{{Source: experiment.SourceNone, Value: "x"}}
		}, `stopConditions[0].value: must be empty for source "none"`},
		{"description too long", func(t *experiment.Template) {
			t.Description = strings.Repeat("x", 513)
		}, "description: must be at most 512 characters"},
		{"empty tag key", func(t *experiment.Template) {
			t.Tags = map[string]string{"": "x"}
		}, "tags: tag key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := experiment.New(experiment.Config{
				Clock:  clocktest.NewClock(time.Unix(0, 0)),
				Alarms: &experimenttest.Alarms{},
				Zones:  []string{"use1-az1", "use1-az2", "use1-az3"},
			})
			defer svc.Close()
			tmpl := validTemplate()
			if _, err := svc.CreateTemplate(tmpl); err != nil {
				t.Fatalf("the valid template is rejected: %v", err)
			}
			tt.change(&tmpl)
			_, err := svc.CreateTemplate(tmpl)
			if !experiment.IsType(err, experiment.ValidationException) {
				t.Fatalf("CreateTemplate error = %v, want a ValidationException", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestAlarmStopConditionNeedsAlarmSource(t *testing.T) {
	svc := experiment.New(experiment.Config{Clock: clocktest.NewClock(time.Unix(0, 0))})
	defer svc.Close()
	_, err := svc.CreateTemplate(validTemplate())
	if err == nil || !strings.HasPrefix(err.Error(), `stopConditions[0].source: "azlens:alarm" needs an alarm source`) {
		t.Fatalf("error = %v, want one naming stopConditions[0].source", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"PT2M", 2 * time.Minute, false},
		{"PT1H30M", 90 * time.Minute, false},
		{"PT90S", 90 * time.Second, false},
		{"PT0.5S", 500 * time.Millisecond, false},
		{"P1D", 24 * time.Hour, false},
		{"P1DT1S", 24*time.Hour + time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"1.5s", 1500 * time.Millisecond, false},
		{"200ms", 200 * time.Millisecond, false},
		{"P", 0, true},
		{"PT", 0, true},
		{"P1DT", 0, true},
		{"PT1M2H", 0, true},
		{"PT-1S", 0, true},
		{"pt2m", 0, true},
		{"0s", 0, true},
		{"-2m", 0, true},
		{"", 0, true},
		{"2", 0, true},
	}
	for _, tt := range tests {
		got, err := experiment.ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
