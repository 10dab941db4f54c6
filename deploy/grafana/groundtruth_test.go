package grafana_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/groundtruth"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/zonalshift"
)

// groundTruthContract lists the emulator's ground-truth series (emulator/groundtruth, on the front
// door's /metrics, scraped by Prometheus beside the collector), mapped to whether they carry
// cloud_availability_zone. The dashboard's "ground truth vs detected" row queries them; outside the
// emulator they are simply absent.
var groundTruthContract = map[string]bool{
	groundtruth.InvocationsMetric:  true,
	groundtruth.ThrottlesMetric:    true,
	groundtruth.ColdStartsMetric:   true,
	groundtruth.ResetsMetric:       true,
	groundtruth.RouterWeightMetric: true,
	groundtruth.ZoneShiftedMetric:  true,
	groundtruth.ZoneFaultedMetric:  true,
	groundtruth.FaultMetric:        true,
}

// TestGroundTruthContract derives the table from the real package: every series it exports, with
// its labels, after one invocation of each kind; every one has faas_name (the dashboard's
// $function filter) and the zone.
func TestGroundTruthContract(t *testing.T) {
	shifts := zonalshift.New(zonalshift.Config{})
	defer shifts.Close()
	exps := experiment.New(experiment.Config{Zones: []string{"use1-az1"}})
	defer exps.Close()
	m := groundtruth.New(groundtruth.Config{Function: "fn", Zones: []string{"use1-az1"},
		Weights: func() map[string]float64 { return map[string]float64{"use1-az1": 1} }, Shifts: shifts, Experiments: exps})
	m.Observe(region.Outcome{Zone: "use1-az1", Environment: "e", Status: "success", ColdStart: true})
	m.Observe(region.Outcome{Zone: "use1-az1", Status: region.OutcomeThrottled})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	derived := map[string]bool{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			labels := map[string]bool{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = true
			}
			if !labels["faas_name"] || !labels["cloud_availability_zone"] {
				t.Errorf("%s: series without faas_name or cloud_availability_zone: %v", f.GetName(), s.GetLabel())
			}
		}
		derived[f.GetName()] = true
	}
	// The experiment fault series exists only while a fault runs; its labels are checked by the
	// package's own test.
	derived[groundtruth.FaultMetric] = true
	if got, want := slices.Sorted(maps.Keys(derived)), slices.Sorted(maps.Keys(groundTruthContract)); !slices.Equal(got, want) {
		t.Errorf("groundtruth exports %v, contract lists %v", got, want)
	}
}
