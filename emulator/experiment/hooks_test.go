package experiment_test

import (
	"context"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// zoneFault starts a one-action experiment acting on all of zone az2 and runs it.
func (f *fixture) zoneFault(t *testing.T, actionID string, params map[string]string) experiment.Experiment {
	t.Helper()
	e := f.start(t, experiment.Template{
		Targets: az2Target(),
		Actions: map[string]experiment.Action{"fault": {ActionID: actionID, Parameters: params, Targets: map[string]string{"Zones": "az2"}}},
	})
	f.clock.Advance(0)
	return e
}

func invoke(h *emulator.Hooks) (time.Duration, error) {
	return h.BeforeInvoke(context.Background(), &emulator.InvokeRequest{Payload: []byte("{}")})
}

// Binomial bounds: 20 000 draws at 5 % have mean 1000 and standard deviation 31; ±150 is about 5σ,
// and the seed makes the draw repeatable anyway.
const draws = 20000

func TestInjectErrorPercentage(t *testing.T) {
	f := newFixture(t)
	faulted, healthy := f.svc.HooksFor("use1-az2", 0), f.svc.HooksFor("use1-az1", 0)
	e := f.zoneFault(t, experiment.ActionInjectError, map[string]string{"percentage": "5", "duration": "PT2M"})
	failed := 0
	for range draws {
		d, err := invoke(faulted)
		if d != 0 {
			t.Fatalf("inject-error added latency %v", d)
		}
		if err != nil {
			if err.Error() != experiment.DefaultErrorType {
				t.Fatalf("error type = %q, want %q", err, experiment.DefaultErrorType)
			}
			failed++
		}
		if _, err := invoke(healthy); err != nil {
			t.Fatalf("healthy zone failed: %v", err)
		}
	}
	if failed < 850 || failed > 1150 {
		t.Errorf("%d of %d invocations failed, want about 5 %% (1000)", failed, draws)
	}
	if got := f.get(t, e.ID).Actions["fault"].Injections; got != int64(failed) {
		t.Errorf("injections = %d, want %d", got, failed)
	}
	if got := f.svc.Stats().InvocationsFailed; got != int64(failed) {
		t.Errorf("Stats().InvocationsFailed = %d, want %d", got, failed)
	}

	f.clock.Advance(2 * time.Minute) // the action ends: no more faults
	for range 1000 {
		if _, err := invoke(faulted); err != nil {
			t.Fatalf("error injected after the experiment completed: %v", err)
		}
	}
}

func TestAddLatency(t *testing.T) {
	f := newFixture(t)
	h := f.svc.HooksFor("use1-az2", 3)
	f.zoneFault(t, experiment.ActionAddLatency, map[string]string{"latency": "PT1.5S", "percentage": "10"})
	slow := 0
	for range draws {
		d, err := invoke(h)
		switch {
		case err != nil:
			t.Fatalf("add-latency failed an invocation: %v", err)
		case d == 1500*time.Millisecond:
			slow++
		case d != 0:
			t.Fatalf("delay = %v, want 0 or 1.5s", d)
		}
	}
	if slow < 1800 || slow > 2200 { // mean 2000, σ 42
		t.Errorf("%d of %d invocations delayed, want about 10 %% (2000)", slow, draws)
	}
	if got := f.svc.Stats().InvocationsDelayed; got != int64(slow) {
		t.Errorf("Stats().InvocationsDelayed = %d, want %d", got, slow)
	}
}

func TestZoneCrash(t *testing.T) {
	for _, tt := range []struct {
		mode      string
		wantDelay time.Duration
		wantType  string
	}{
		{experiment.CrashBlackhole, 3 * time.Second, "Sandbox.Timeout"},
		{experiment.CrashRefuse, 0, "Sandbox.Failure"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			f := newFixture(t)
			crashed, healthy := f.svc.HooksFor("use1-az2", 0), f.svc.HooksFor("use1-az3", 0)
			e := f.zoneFault(t, experiment.ActionZoneCrash, map[string]string{"mode": tt.mode})
			for range 100 {
				d, err := invoke(crashed)
				if d != tt.wantDelay || err == nil || err.Error() != tt.wantType {
					t.Fatalf("crashed invocation = %v, %v; want %v, %s", d, err, tt.wantDelay, tt.wantType)
				}
				for _, ev := range []string{"platform.start", "platform.report", "function"} {
					if !crashed.DropTelemetry(ev) {
						t.Fatalf("a crashed environment delivered a %s event", ev)
					}
					if healthy.DropTelemetry(ev) {
						t.Fatalf("a healthy environment lost a %s event", ev)
					}
				}
			}
			st := f.svc.Stats()
			if st.InvocationsCrashed != 100 || st.TelemetryDropped != 300 {
				t.Errorf("stats = %+v, want 100 crashed and 300 dropped", st)
			}
			if got := f.get(t, e.ID).Actions["fault"].Injections; got != 100 {
				t.Errorf("injections = %d, want 100 (crashed invocations)", got)
			}
		})
	}
}

func TestTelemetryDropAndDelay(t *testing.T) {
	f := newFixture(t)
	h := f.svc.HooksFor("use1-az2", 0)
	f.zoneFault(t, experiment.ActionTelemetryDrop, map[string]string{"percentage": "30"})
	dropped := 0
	for range draws {
		if h.DropTelemetry("platform.report") {
			dropped++
		}
	}
	if dropped < 5700 || dropped > 6300 { // mean 6000, σ 65
		t.Errorf("%d of %d events dropped, want about 30 %% (6000)", dropped, draws)
	}
	if got := f.svc.Stats().TelemetryDropped; got != int64(dropped) {
		t.Errorf("Stats().TelemetryDropped = %d, want %d", got, dropped)
	}
	if d, err := invoke(h); d != 0 || err != nil {
		t.Errorf("telemetry drop touched the invocation: %v, %v", d, err)
	}
	if d := h.DelayTelemetry(); d != 0 {
		t.Errorf("DelayTelemetry = %v before any delay fault", d)
	}

	f.zoneFault(t, experiment.ActionTelemetryDelay, map[string]string{"delay": "5s"})
	f.zoneFault(t, experiment.ActionTelemetryDelay, map[string]string{"delay": "2s"})
	if d := h.DelayTelemetry(); d != 5*time.Second {
		t.Errorf("DelayTelemetry = %v, want the longest delay, 5s", d)
	}
	if d := f.svc.HooksFor("use1-az1", 0).DelayTelemetry(); d != 0 {
		t.Errorf("DelayTelemetry in another zone = %v, want 0", d)
	}
	if got := f.svc.Stats().TelemetryBatchesDelayed; got != 1 {
		t.Errorf("Stats().TelemetryBatchesDelayed = %d, want 1", got)
	}
}

func TestSeededDrawsRepeat(t *testing.T) {
	outcomes := func() []bool {
		clock := clocktest.NewClock(t0)
		svc := experiment.New(experiment.Config{Clock: clock, Seed: 7})
		defer svc.Close()
		h := svc.HooksFor("use1-az2", 1)
		et, err := svc.CreateTemplate(experiment.Template{Targets: az2Target(), Actions: map[string]experiment.Action{
			"fault": {ActionID: experiment.ActionInjectError, Parameters: map[string]string{"percentage": "50"}, Targets: map[string]string{"Zones": "az2"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: et.ID}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(0)
		var out []bool
		for range 64 {
			_, err := invoke(h)
			out = append(out, err != nil)
		}
		return out
	}
	a, b := outcomes(), outcomes()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs between two services with the same seed", i)
		}
	}
}

func TestCPUStress(t *testing.T) {
	f := newFixture(t)
	e := f.start(t, experiment.Template{Actions: map[string]experiment.Action{
		"stress": {ActionID: experiment.ActionCPUStress, Parameters: map[string]string{"workers": "2", "load": "1", "duration": "PT10S"}}}})
	f.clock.Advance(0)
	if got := f.svc.Stats().StressWorkers; got != 2 {
		t.Fatalf("%d stress workers, want 2", got)
	}
	f.clock.Advance(10 * time.Second)
	if got := f.get(t, e.ID).State.Status; got != experiment.StatusCompleted {
		t.Fatalf("status = %s, want completed", got)
	}
	f.svc.Close() // waits for the workers; goleak checks they are gone
	if got := f.svc.Stats().StressWorkers; got != 0 {
		t.Errorf("%d stress workers after the action ended, want 0", got)
	}
	if got := f.get(t, e.ID).Actions["stress"].Injections; got != 2 {
		t.Errorf("injections = %d, want 2 workers", got)
	}
}

func BenchmarkBeforeInvoke(b *testing.B) {
	clock := clocktest.NewClock(t0)
	svc := experiment.New(experiment.Config{Clock: clock, Seed: 1})
	defer svc.Close()
	et, _ := svc.CreateTemplate(experiment.Template{Targets: az2Target(), Actions: map[string]experiment.Action{
		"fault": {ActionID: experiment.ActionInjectError, Parameters: map[string]string{"percentage": "5"}, Targets: map[string]string{"Zones": "az2"}}}})
	_, _ = svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: et.ID})
	clock.Advance(0)
	b.RunParallel(func(pb *testing.PB) {
		h := svc.HooksFor("use1-az2", 0)
		for pb.Next() {
			_, _ = invoke(h)
		}
	})
}
