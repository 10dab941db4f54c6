package experiment_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/experiment/experimenttest"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// fuzzBody posts body to path and checks the answer is a success or a well-formed client error,
// never a server error or a panic.
func fuzzBody(t *testing.T, h http.Handler, path string, body []byte) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(string(body))))
	switch rec.Code {
	case 200:
	case 400, 404, 409:
		var e experiment.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type == "" || e.Message == "" {
			t.Fatalf("error answer %d is not {__type, message}: %s", rec.Code, rec.Body)
		}
	default:
		t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
	}
	return rec.Code
}

func FuzzCreateTemplate(f *testing.F) {
	f.Add([]byte(templateJSON))
	f.Add([]byte(`{"actions": {"w": {"actionId": "azlens:wait", "parameters": {"duration": "PT1S"}}}}`))
	f.Add([]byte(`{"targets": {"e": {"resourceType": "azlens:environment", "zones": ["use1-az1"], "selectionMode": "PERCENT(12.5)"}},
	  "actions": {"a": {"actionId": "azlens:zone:crash", "parameters": {"mode": "refuse"}, "targets": {"Environments": "e"}},
	              "b": {"actionId": "azlens:telemetry:delay", "parameters": {"delay": "PT5S"}, "targets": {"Environments": "e"}, "startAfter": ["a"]}}}`))
	f.Add([]byte(`{"actions": {"a": {"actionId": "azlens:cpu:stress", "parameters": {"workers": "1e3"}}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		clock := clocktest.NewClock(time.Unix(0, 0))
		svc := experiment.New(experiment.Config{Clock: clock, Alarms: &experimenttest.Alarms{}, Seed: 1})
		defer svc.Close()
		if fuzzBody(t, svc.Handler(), "/experimentTemplates", body) != 200 {
			return
		}
		// An accepted template must also start and run without a panic; templates with
		// cpu:stress are not run, so the fuzzer starts no busy goroutines.
		tmpl := svc.Templates()[0]
		for _, a := range tmpl.Actions {
			if a.ActionID == experiment.ActionCPUStress {
				return
			}
		}
		svc.HooksFor("use1-az1", 0)
		e, err := svc.StartExperiment(experiment.StartRequest{ExperimentTemplateID: tmpl.ID})
		if err != nil {
			t.Fatalf("start from an accepted template: %v", err)
		}
		clock.Advance(time.Minute)
		if _, err := svc.GetExperiment(e.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzStartExperiment(f *testing.F) {
	f.Add([]byte(`{"experimentTemplateId": "EXT1", "tags": {"a": "b"}}`))
	f.Add([]byte(`{"experimentTemplateId": 1}`))
	f.Add([]byte(`{"tags": {"": ""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		svc := experiment.New(experiment.Config{Clock: clocktest.NewClock(time.Unix(0, 0)), Seed: 1})
		defer svc.Close()
		fuzzBody(t, svc.Handler(), "/experiments", body)
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT2M", "P1DT2H3M4.5S", "2m", "1h2m3.4s", "PT", "P9999D", "-1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := experiment.ParseDuration(s)
		if err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %v without an error", s, d)
		}
		if err != nil && d != 0 {
			t.Fatalf("ParseDuration(%q) = %v with error %v", s, d, err)
		}
	})
}
