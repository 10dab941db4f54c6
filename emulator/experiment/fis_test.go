package experiment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
)

// TestFISActionsMapOntoFaults runs each of FIS's Lambda actions and the azlens:lambda ids against
// a function target in one zone and checks the fault an invocation there gets.
func TestFISActionsMapOntoFaults(t *testing.T) {
	fn := map[string]experiment.Target{"fn": {ResourceType: experiment.ResourceLambdaFunction, SelectionMode: "ALL",
		ResourceArns: []string{"arn:aws:lambda:us-east-1:123456789012:function:hello"},
		Parameters:   map[string]string{"availabilityZoneIdentifier": "use1-az2"}}}
	for _, tc := range []struct {
		actionID  string
		params    map[string]string
		wantDelay time.Duration
		wantErr   string
	}{
		{experiment.ActionFISInvocationAddDelay, map[string]string{"startupDelayMilliseconds": "250", "invocationPercentage": "100"}, 250 * time.Millisecond, ""},
		{experiment.ActionFISInvocationAddDelay, nil, time.Second, ""}, // FIS's default delay
		{experiment.ActionFISInvocationError, map[string]string{"preventExecution": "true"}, 0, experiment.DefaultErrorType},
		{experiment.ActionFISHTTPResponse, map[string]string{"preventExecution": "true", "statusCode": "503", "contentTypeHeader": "text/plain"}, 0, "HTTP.503"},
		{experiment.ActionLambdaInjectErrors, map[string]string{"errorType": "Boom"}, 0, "Boom"},
		{experiment.ActionLambdaInjectLatency, map[string]string{"latency": "PT0.1S"}, 100 * time.Millisecond, ""},
		{experiment.ActionLambdaCrash, map[string]string{"mode": "refuse"}, 0, "Sandbox.Failure"},
	} {
		t.Run(tc.actionID, func(t *testing.T) {
			f := newFixture(t)
			e := f.start(t, experiment.Template{Targets: fn, Actions: map[string]experiment.Action{
				"a": {ActionID: tc.actionID, Parameters: tc.params, Targets: map[string]string{"Functions": "fn"}}}})
			f.clock.Advance(time.Second)
			if st := f.get(t, e.ID).State.Status; st != experiment.StatusRunning {
				t.Fatalf("status %s", st)
			}
			d, err := f.svc.HooksFor("use1-az2", 0).BeforeInvoke(context.Background(), nil)
			if d != tc.wantDelay || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("invocation in use1-az2: delay %v, err %v; want %v, %q", d, err, tc.wantDelay, tc.wantErr)
			}
			if d, err := f.svc.HooksFor("use1-az1", 0).BeforeInvoke(context.Background(), nil); d != 0 || err != nil {
				t.Errorf("invocation in use1-az1: delay %v, err %v; want none", d, err)
			}
		})
	}
	// drop-telemetry drops the zone's Telemetry API events.
	f := newFixture(t)
	f.start(t, experiment.Template{Targets: fn, Actions: map[string]experiment.Action{
		"a": {ActionID: experiment.ActionLambdaDropTelemetry, Targets: map[string]string{"Functions": "fn"}}}})
	f.clock.Advance(time.Second)
	if !f.svc.HooksFor("use1-az2", 1).DropTelemetry("platform.report") || f.svc.HooksFor("use1-az3", 1).DropTelemetry("platform.report") {
		t.Error("drop-telemetry did not drop exactly the targeted zone's events")
	}
	// A function target without zones covers every zone of the region.
	all := map[string]experiment.Target{"fn": {ResourceType: experiment.ResourceLambdaFunction, SelectionMode: "ALL"}}
	e := f.start(t, experiment.Template{Targets: all, Actions: map[string]experiment.Action{
		"a": {ActionID: experiment.ActionLambdaInjectErrors, Targets: map[string]string{"Functions": "fn"}}}})
	if got := strings.Join(e.Targets["fn"].ResolvedZones, ","); got != strings.Join(zones, ",") {
		t.Errorf("resolved zones %s, want all of %v", got, zones)
	}
}
