package groundtruth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/groundtruth"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/regiontest"
	"github.com/azlens/azlens/emulator/zonalshift"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var zones = []string{"use1-az1", "use1-az2"}

// scrape GETs the handler and parses the text exposition as Prometheus does; it returns every
// sample as "name{label=value,...}" → value, labels sorted.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			out[name+"{"+strings.Join(ls, ",")+"}"] = value(f.GetType(), m)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	if t == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestRegionGroundTruth runs a real two-zone region (in-process runtime) and checks the exported
// counters equal what the callers saw: outcomes, cold starts, a throttle; and that the gauges
// follow a zonal shift and a running experiment.
func TestRegionGroundTruth(t *testing.T) {
	shifts := zonalshift.New(zonalshift.Config{})
	t.Cleanup(shifts.Close)
	shifts.SetZones("fn", zones)
	exps := experiment.New(experiment.Config{Zones: zones, TickInterval: 10 * time.Millisecond})
	t.Cleanup(exps.Close)

	release := make(chan struct{})
	handler := func(ctx context.Context, in map[string]any) (string, error) {
		if in["fail"] == true {
			return "", fmt.Errorf("failing as asked")
		}
		if in["hold"] == true {
			<-release
		}
		return "ok", nil
	}
	gt := groundtruth.New(groundtruth.Config{
		Function:    "fn",
		Zones:       zones,
		Weights:     func() map[string]float64 { return shifts.Weights("fn", zones) },
		Shifts:      shifts,
		Experiments: exps,
	})
	reg := regiontest.Start(t, region.Config{
		Zones:          zones,
		EnvsPerZone:    1,
		AcquireTimeout: 50 * time.Millisecond,
		Function:       emulator.Function{Name: "fn", Runtime: &emulator.InProcessRuntime{Handler: handler}},
		Weights:        func(zs []string) map[string]float64 { return shifts.Weights("fn", zs) },
		HooksFor:       exps.HooksFor,
		Observe:        gt.Observe,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := httptest.NewServer(gt.Handler())
	t.Cleanup(srv.Close)

	envOf := map[string]string{}
	invoke := func(zone, payload string) (*region.Invocation, error) {
		inv, err := reg.Invoke(ctx, &emulator.InvokeRequest{Payload: []byte(payload)}, region.InvokeOptions{Zone: zone})
		if err == nil {
			envOf[inv.Zone] = inv.Environment
		}
		return inv, err
	}
	for _, z := range zones {
		for _, p := range []string{`{}`, `{}`, `{"fail":true}`} {
			inv, err := invoke(z, p)
			if err != nil {
				t.Fatalf("invoke %s: %v", z, err)
			}
			<-inv.Done
		}
	}
	// Hold az1's only environment, then a second invocation pinned there is throttled.
	heldDone := make(chan error, 1)
	go func() {
		inv, err := invoke(zones[0], `{"hold":true}`)
		if err == nil {
			<-inv.Done
		}
		heldDone <- err
	}()
	waitFor(t, "az1's environment busy", func() bool { return reg.Stats()[0].InFlight == 1 })
	if _, err := reg.Invoke(ctx, &emulator.InvokeRequest{Payload: []byte(`{}`)}, region.InvokeOptions{Zone: zones[0]}); err != region.ErrTooManyRequests {
		t.Fatalf("pinned to a busy zone: %v, want ErrTooManyRequests", err)
	}
	close(release)
	if err := <-heldDone; err != nil {
		t.Fatal(err)
	}

	got := scrape(t, srv.URL)
	want := map[string]float64{}
	for _, z := range zones {
		env := envOf[z]
		l := fmt.Sprintf("cloud_availability_zone=%s,faas_instance=%s,faas_name=fn", z, env)
		want[fmt.Sprintf("azlens_emulator_invocations_total{%s,outcome=success}", l)] = 2
		want[fmt.Sprintf("azlens_emulator_invocations_total{%s,outcome=error}", l)] = 1
		want[fmt.Sprintf("azlens_emulator_coldstarts_total{%s}", l)] = 1
		want[fmt.Sprintf("azlens_emulator_resets_total{%s}", l)] = 0
		want[fmt.Sprintf("azlens_emulator_router_weight{cloud_availability_zone=%s,faas_name=fn}", z)] = 1
		want[fmt.Sprintf("azlens_emulator_zonal_shift_active{cloud_availability_zone=%s,faas_name=fn}", z)] = 0
		want[fmt.Sprintf("azlens_emulator_zone_faulted{cloud_availability_zone=%s,faas_name=fn}", z)] = 0
	}
	want[fmt.Sprintf("azlens_emulator_invocations_total{cloud_availability_zone=%s,faas_instance=%s,faas_name=fn,outcome=success}", zones[0], envOf[zones[0]])] = 3
	want["azlens_emulator_throttles_total{cloud_availability_zone=use1-az1,faas_name=fn}"] = 1
	want["azlens_emulator_throttles_total{cloud_availability_zone=use1-az2,faas_name=fn}"] = 0
	check(t, got, want)

	// A zonal shift away from az2 and a fault injected into it show at the next scrape.
	if _, err := shifts.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: zones[1], ExpiresIn: "30m", Comment: "test"}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := experiment.Scenario("az-errors", zones, zones[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	created, err := exps.CreateTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	started, err := exps.StartExperiment(experiment.StartRequest{ExperimentTemplateID: created.ID})
	if err != nil {
		t.Fatal(err)
	}
	faultKey := ""
	for _, a := range tmpl.Actions {
		faultKey = fmt.Sprintf("azlens_emulator_experiment_fault{action=%s,cloud_availability_zone=%s,experiment_id=%s,faas_name=fn}", a.ActionID, zones[1], started.ID)
	}
	waitFor(t, "the experiment's fault exported", func() bool { return scrape(t, srv.URL)[faultKey] == 1 })
	got = scrape(t, srv.URL)
	check(t, got, map[string]float64{
		"azlens_emulator_router_weight{cloud_availability_zone=use1-az1,faas_name=fn}":      1,
		"azlens_emulator_router_weight{cloud_availability_zone=use1-az2,faas_name=fn}":      0,
		"azlens_emulator_zonal_shift_active{cloud_availability_zone=use1-az1,faas_name=fn}": 0,
		"azlens_emulator_zonal_shift_active{cloud_availability_zone=use1-az2,faas_name=fn}": 1,
		"azlens_emulator_zone_faulted{cloud_availability_zone=use1-az1,faas_name=fn}":       0,
		"azlens_emulator_zone_faulted{cloud_availability_zone=use1-az2,faas_name=fn}":       1,
		faultKey: 1,
	})
	for k := range got {
		if strings.HasPrefix(k, groundtruth.FaultMetric) && k != faultKey {
			t.Errorf("unexpected fault series %s", k)
		}
	}
}

func check(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			b, _ := json.MarshalIndent(got, "", " ")
			t.Errorf("%s = %v (present %v), want %v; scraped:\n%s", k, v, ok, w, b)
		}
	}
}

// waitFor polls cond every 10 ms until it holds; the deadline only bounds a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 30s", what)
		}
		<-tick.C
	}
}

func TestObserveResets(t *testing.T) {
	gt := groundtruth.New(groundtruth.Config{Function: "fn", Zones: zones})
	for _, o := range []region.Outcome{
		{Zone: "use1-az1", Environment: "e1", Status: "success", ColdStart: true},
		{Zone: "use1-az1", Environment: "e1", Status: "timeout"},
		{Zone: "use1-az1", Environment: "e1", Status: "success", ColdStart: true}, // re-init after the reset
		{Zone: "use1-az1", Environment: "e1", Status: "success"},
		{Zone: "", Status: region.OutcomeThrottled},
	} {
		gt.Observe(o)
	}
	srv := httptest.NewServer(gt.Handler())
	defer srv.Close()
	check(t, scrape(t, srv.URL), map[string]float64{
		`azlens_emulator_coldstarts_total{cloud_availability_zone=use1-az1,faas_instance=e1,faas_name=fn}`:                  2,
		`azlens_emulator_resets_total{cloud_availability_zone=use1-az1,faas_instance=e1,faas_name=fn}`:                      1,
		`azlens_emulator_invocations_total{cloud_availability_zone=use1-az1,faas_instance=e1,faas_name=fn,outcome=success}`: 3,
		`azlens_emulator_invocations_total{cloud_availability_zone=use1-az1,faas_instance=e1,faas_name=fn,outcome=timeout}`: 1,
		`azlens_emulator_throttles_total{cloud_availability_zone=,faas_name=fn}`:                                            1,
		`azlens_emulator_throttles_total{cloud_availability_zone=use1-az2,faas_name=fn}`:                                    0,
		`azlens_emulator_zone_faulted{cloud_availability_zone=use1-az2,faas_name=fn}`:                                       0,
	})
}
