package experiment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
)

func TestScenarios(t *testing.T) {
	// Each scenario, started on a service, faults exactly the zones it names.
	tests := []struct {
		name          string
		failing       []string // zones whose invocations may fail
		delayed       []string // zones whose invocations are delayed
		dropping      []string // zones that lose telemetry
		wantLatency   time.Duration
		wantErrorRate bool // some but not all invocations fail
	}{
		{name: experiment.ScenarioNone},
		{name: experiment.ScenarioAZErrors, failing: []string{"use1-az2"}, wantErrorRate: true},
		{name: experiment.ScenarioTwoAZErrors, failing: []string{"use1-az2", "use1-az3"}, wantErrorRate: true},
		{name: experiment.ScenarioAZLatency, delayed: []string{"use1-az2"}, wantLatency: experiment.ScenarioLatency},
		{name: experiment.ScenarioAZCrash, failing: []string{"use1-az2"}, dropping: []string{"use1-az2"}, delayed: []string{"use1-az2"}, wantLatency: 3 * time.Second},
		{name: experiment.ScenarioTelemetryLoss, dropping: []string{"use1-az2"}},
	}
	if len(tests) != len(experiment.ScenarioNames()) {
		t.Fatalf("%d scenarios tested, %d exist", len(tests), len(experiment.ScenarioNames()))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tmpl, err := experiment.Scenario(tt.name, zones, "use1-az2", 2*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if tmpl.Tags["azlens:scenario"] != tt.name {
				t.Errorf("tags = %v", tmpl.Tags)
			}
			e := f.start(t, tmpl)
			f.clock.Advance(0)
			for _, z := range zones {
				h := f.svc.HooksFor(z, 0)
				failed, delayed, dropped := 0, 0, 0
				for range 2000 {
					d, err := invoke(h)
					if err != nil {
						failed++
					}
					if d != 0 {
						delayed++
						if d != tt.wantLatency {
							t.Fatalf("zone %s: delay %v, want %v", z, d, tt.wantLatency)
						}
					}
					if h.DropTelemetry("platform.report") {
						dropped++
					}
				}
				if got, want := failed > 0, contains(tt.failing, z); got != want {
					t.Errorf("zone %s: %d invocations failed, want failures: %v", z, failed, want)
				}
				if tt.wantErrorRate && contains(tt.failing, z) && (failed < 60 || failed > 140) {
					t.Errorf("zone %s: %d of 2000 failed, want about 5 %%", z, failed)
				}
				if got, want := delayed > 0, contains(tt.delayed, z); got != want {
					t.Errorf("zone %s: %d invocations delayed, want delays: %v", z, delayed, want)
				}
				if got, want := dropped > 0, contains(tt.dropping, z); got != want {
					t.Errorf("zone %s: %d events dropped, want drops: %v", z, dropped, want)
				}
			}
			f.clock.Advance(2 * time.Minute)
			if got := f.get(t, e.ID).State.Status; got != experiment.StatusCompleted {
				t.Errorf("after the duration: %s, want completed", got)
			}
		})
	}
}

func TestScenarioErrors(t *testing.T) {
	for _, tt := range []struct {
		name, faulted string
		zones         []string
		want          string
	}{
		{"az-chaos", "use1-az1", zones, `unknown scenario "az-chaos"`},
		{experiment.ScenarioAZErrors, "use1-az9", zones, `scenario az-errors: faulted zone "use1-az9" is not one of the zones`},
		{experiment.ScenarioAZErrors, "", nil, "scenario az-errors: at least one zone is required"},
		{experiment.ScenarioTwoAZErrors, "use1-az1", []string{"use1-az1"}, "scenario two-az-errors: needs at least two zones"},
	} {
		_, err := experiment.Scenario(tt.name, tt.zones, tt.faulted, time.Minute)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Scenario(%s, %v, %q) error = %v, want %q", tt.name, tt.zones, tt.faulted, err, tt.want)
		}
	}
	// Without a duration the fault lasts until stopped; without a faulted zone it is the first.
	tmpl, err := experiment.Scenario(experiment.ScenarioAZCrash, zones, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tmpl.Actions["fault"].Parameters["duration"]; ok || tmpl.Targets["faulted"].Zones[0] != "use1-az1" {
		t.Errorf("template = %+v", tmpl)
	}
}

func contains(zs []string, z string) bool {
	for _, x := range zs {
		if x == z {
			return true
		}
	}
	return false
}
