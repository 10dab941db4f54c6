package loop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/testbin"
)

// The scenario tests run the whole loop with the real binaries — the sample aws-lambda-go function,
// azlens-agent in every environment, the azlens-collector distribution — on compressed timings
// (Fast: Δ = 1 s, windows 6 s / 30 s).

var bins struct{ function, agent, collector, layer string }

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, "azlens-loop-test-", func(dir string) error {
		for _, b := range []struct {
			out *string
			pkg string
		}{
			{&bins.function, "github.com/azlens/azlens/examples/hello"},
			{&bins.agent, "github.com/azlens/azlens/extension-agent/cmd/azlens-agent"},
			{&bins.collector, "github.com/azlens/azlens/cmd/azlens-collector"},
		} {
			*b.out = filepath.Join(dir, filepath.Base(b.pkg))
			if err := testbin.Build("-o", *b.out, b.pkg); err != nil {
				return err
			}
		}
		// The agent runs from a layer zip packed as `make layer` packs it, as `make up` runs it.
		mklayer := filepath.Join(dir, "mklayer")
		if err := testbin.Build("-o", mklayer, "github.com/azlens/azlens/extension-agent/internal/mklayer"); err != nil {
			return err
		}
		bins.layer = filepath.Join(dir, "azlens-agent-layer.zip")
		if out, err := exec.Command(mklayer, "-o", bins.layer, bins.agent).CombinedOutput(); err != nil {
			return fmt.Errorf("mklayer: %w\n%s", err, out)
		}
		return nil
	}))
}

func runScenario(t *testing.T, scenario string, d time.Duration) (*Summary, string) {
	t.Helper()
	var view strings.Builder
	cfg := Config{
		Function:   bins.function,
		AgentLayer: bins.layer,
		Collector:  bins.collector,
		Name:       "hello",
		Listen:     "127.0.0.1:0",
		Rate:       60,
		// A healthy zone never throttles because the machine stalled: on a loaded 2-core box an
		// environment can stay busy for seconds, far past the emulator's 2 s default wait.
		AcquireTimeout: time.Minute,
		CanaryTimeout:  time.Minute,
		Timing:         Fast,
		Scenario:       scenario,
		Warmup:         12 * time.Second,
		Duration:       d,
		Interval:       500 * time.Millisecond,
		View:           &view,
		WorkDir:        t.TempDir(),
	}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("loop: %v\n%s\ncollector and sandbox output: %s", err, view.String(), tail(filepath.Join(cfg.WorkDir, "azlens.log")))
	}
	return sum, view.String()
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func TestScenarioAZErrorsEvacuatesTheFaultedZone(t *testing.T) {
	sum, view := runScenario(t, "az-errors", 70*time.Second)
	t.Logf("summary: alarm %v after %v s, shift %v after %v s, failed before/after %d/%d, invocations %d",
		deref(sum.AlarmZone), derefF(sum.TimeToAlarm), deref(sum.EvacuatedZone), derefF(sum.TimeToShift),
		sum.FailedBeforeShift, sum.FailedAfterShift, sum.Invocations)
	if deref(sum.EvacuatedZone) != sum.FaultedZone {
		t.Fatalf("evacuated %q, want the faulted zone %q\n%s", deref(sum.EvacuatedZone), sum.FaultedZone, view)
	}
	if deref(sum.AlarmZone) != sum.FaultedZone {
		t.Errorf("alarm zone %q, want %q", deref(sum.AlarmZone), sum.FaultedZone)
	}
	if sum.FalseAlarms != 0 {
		t.Errorf("%d false alarms\n%s", sum.FalseAlarms, view)
	}
	// The live view marked the fault while it ran and printed the alarm as it happened, before the
	// final timeline.
	live, _, _ := strings.Cut(view, "\ntimeline:")
	if !strings.Contains(live, "FAULT az-errors in "+sum.FaultedZone) || !strings.Contains(live, "<- FAULT") ||
		!strings.Contains(live, "ALARM                        "+sum.FaultedZone) {
		t.Errorf("live view did not show the fault and the alarm as they happened:\n%s", view)
	}
	// After the shift no user traffic reaches the faulted zone, so failures stop (a few answered
	// in flight may still arrive in the period of the shift).
	if sum.FailedAfterShift > sum.FailedBeforeShift {
		t.Errorf("failed after the shift %d > before %d", sum.FailedAfterShift, sum.FailedBeforeShift)
	}
	for _, z := range sum.Zones {
		if z.Zone != sum.FaultedZone && z.Failed != 0 {
			t.Errorf("healthy zone %s had %d failed invocations", z.Zone, z.Failed)
		}
	}
}

func TestScenarioNoneNeverShifts(t *testing.T) {
	sum, view := runScenario(t, "none", 45*time.Second)
	if sum.AlarmZone != nil || sum.EvacuatedZone != nil || sum.FalseAlarms != 0 {
		t.Fatalf("healthy run: alarm %v, shift %v, false alarms %d\n%s", deref(sum.AlarmZone), deref(sum.EvacuatedZone), sum.FalseAlarms, view)
	}
	// Every zone served a third of the load, give or take.
	for _, z := range sum.Zones {
		if z.Invocations < sum.Invocations/5 || z.Failed != 0 {
			t.Errorf("zone %s: %d of %d invocations, %d failed", z.Zone, z.Invocations, sum.Invocations, z.Failed)
		}
	}
}

func TestScenarioTwoZoneErrorsIsRegionalAndNeverShifts(t *testing.T) {
	sum, view := runScenario(t, "two-az-errors", 60*time.Second)
	if sum.EvacuatedZone != nil {
		t.Fatalf("errors in two zones shifted %s away; a regional problem must not shift\n%s", *sum.EvacuatedZone, view)
	}
}

func TestScenarioAZCrashEvacuatesTheFaultedZone(t *testing.T) {
	sum, view := runScenario(t, "az-crash", 70*time.Second)
	if deref(sum.EvacuatedZone) != sum.FaultedZone {
		t.Fatalf("evacuated %q, want the crashed zone %q\n%s", deref(sum.EvacuatedZone), sum.FaultedZone, view)
	}
	if sum.FalseAlarms != 0 {
		t.Errorf("%d false alarms", sum.FalseAlarms)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

func derefF(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}
