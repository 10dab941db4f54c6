package canary_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/canary"
	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/regiontest"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// TestCanariesSeeACrashedZone runs the whole loop on the real emulator: a region of in-process
// sandboxes whose hooks come from the experiment service, the front door with the experiment API
// mounted, an az-crash experiment started over HTTP, and canaries exported to the real OTLP
// receiver. Only the crashed zone's canaries fail, and only while the experiment runs.
func TestCanariesSeeACrashedZone(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	expClock := clocktest.NewClock(t0)
	faults := experiment.New(experiment.Config{Clock: expClock, Zones: zones, Seed: 1})
	t.Cleanup(faults.Close)

	reg := regiontest.Start(t, region.Config{
		Zones: zones,
		Function: emulator.Function{Name: "checkout", Runtime: &emulator.InProcessRuntime{
			Handler: func(context.Context, json.RawMessage) (string, error) { return "ok", nil }}},
		HooksFor: faults.HooksFor,
	})
	door := region.NewFrontDoor(nil, reg)
	door.Mount("/fis", faults.Handler())
	srv := httptest.NewServer(door)
	t.Cleanup(srv.Close)

	// Crash use1-az2, refusing at once (blackhole would hold each canary 3 s of real time).
	tmpl, err := experiment.Scenario(experiment.ScenarioAZCrash, zones, "use1-az2", 0)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Actions["fault"].Parameters["mode"] = experiment.CrashRefuse
	var created struct{ ExperimentTemplate experiment.ExperimentTemplate }
	post(t, srv.URL+"/fis/experimentTemplates", tmpl, &created)
	var started struct{ Experiment experiment.Experiment }
	post(t, srv.URL+"/fis/experiments", experiment.StartRequest{ExperimentTemplateID: created.ExperimentTemplate.ID}, &started)
	expClock.Advance(0)

	sink := new(consumertest.MetricsSink)
	clock := clocktest.NewClock(t0)
	outcomes := make(chan canary.ZoneResult, 16)
	runner, err := canary.New(canary.Config{
		Endpoint: srv.URL, Function: "checkout", Zones: zones, Interval: time.Second, Timeout: time.Hour,
		OTLPEndpoint: collector(t, sink), ExportInterval: time.Hour, Clock: clock,
		OnOutcome: func(r canary.ZoneResult) { outcomes <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })

	roundOutcomes := func() map[string]canary.ZoneResult {
		clock.Advance(time.Second)
		got := map[string]canary.ZoneResult{}
		for range zones {
			r := <-outcomes
			got[r.Zone] = r
		}
		return got
	}
	got := roundOutcomes()
	for _, z := range zones {
		want := canary.Success
		if z == "use1-az2" {
			want = canary.Error
		}
		if got[z].Last != want {
			t.Errorf("while crashed, %s: %s (%s), want %s", z, got[z].Last, got[z].LastDetail, want)
		}
	}
	if d := got["use1-az2"].LastDetail; d != "Sandbox.Failure" {
		t.Errorf("crashed zone's error type = %q, want Sandbox.Failure", d)
	}
	if n := faults.Stats().InvocationsCrashed; n != 1 {
		t.Errorf("%d invocations crashed, want 1", n)
	}

	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/fis/experiments/"+started.Experiment.ID, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stop experiment: %s", resp.Status)
	}
	for z, r := range roundOutcomes() {
		if r.Last != canary.Success {
			t.Errorf("after the stop, %s: %s (%s), want success", z, r.Last, r.LastDetail)
		}
	}

	if err := runner.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	md := sink.AllMetrics()[0]
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		zone, _ := rm.Resource().Attributes().Get("cloud.availability_zone")
		dps := rm.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		counts := map[string]int64{}
		for j := range dps.Len() {
			o, _ := dps.At(j).Attributes().Get("outcome")
			counts[o.Str()] = dps.At(j).IntValue()
		}
		want := map[string]int64{"success": 2, "error": 0, "timeout": 0, "failure": 0}
		if zone.Str() == "use1-az2" {
			want = map[string]int64{"success": 1, "error": 1, "timeout": 0, "failure": 0}
		}
		for o, n := range want {
			if counts[o] != n {
				t.Errorf("exported %s outcome=%s: %d, want %d", zone.Str(), o, counts[o], n)
			}
		}
	}
}

func post(t *testing.T, url string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
