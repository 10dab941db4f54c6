package zonalshift_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/azlens/azlens/internal/awsclitest"
)

func TestAWSCLIZonalShift(t *testing.T) {
	s, _ := newService(t)
	// ARC's resource identifiers are ARNs (the CLI checks the length), here a load balancer's,
	// whose slashes must survive the path of get-managed-resource.
	const fn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/checkout/50dc6c495c0c9188"
	s.SetZones(fn, zones)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	aws := awsclitest.New(t, srv.URL).Run
	run := func(args ...string) map[string]any {
		t.Helper()
		out, stderr, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, err)
		}
		return v
	}

	started := run("arc-zonal-shift", "start-zonal-shift", "--resource-identifier", fn, "--away-from", "use1-az2",
		"--expires-in", "30m", "--comment", "from the AWS CLI")
	id, _ := started["zonalShiftId"].(string)
	if id == "" || started["status"] != "ACTIVE" || started["awayFrom"] != "use1-az2" {
		t.Fatalf("start-zonal-shift printed %v", started)
	}
	// The CLI renders ARC's epoch-second times as ISO 8601, which it can only do if they are numbers.
	if st, _ := started["startTime"].(string); !strings.HasPrefix(st, "2026-11-26T12:00:00") {
		t.Errorf("startTime printed as %v", started["startTime"])
	}
	if w := s.Weights(fn, zones); w["use1-az2"] != 0 {
		t.Errorf("weights after start-zonal-shift = %v", w)
	}
	list := run("arc-zonal-shift", "list-zonal-shifts", "--status", "ACTIVE")
	if items, _ := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["zonalShiftId"] != id {
		t.Errorf("list-zonal-shifts printed %v", list)
	}
	updated := run("arc-zonal-shift", "update-zonal-shift", "--zonal-shift-id", id, "--expires-in", "2h", "--comment", "longer")
	if updated["comment"] != "longer" {
		t.Errorf("update-zonal-shift printed %v", updated)
	}
	mr := run("arc-zonal-shift", "get-managed-resource", "--resource-identifier", fn)
	if w, _ := mr["appliedWeights"].(map[string]any); w["use1-az2"] != float64(0) || w["use1-az1"] != float64(1) || mr["arn"] != fn {
		t.Errorf("get-managed-resource printed %v", mr)
	}
	run("arc-zonal-shift", "list-managed-resources")
	cancelled := run("arc-zonal-shift", "cancel-zonal-shift", "--zonal-shift-id", id)
	if cancelled["status"] != "CANCELED" {
		t.Errorf("cancel-zonal-shift printed %v", cancelled)
	}

	// Errors come back with ARC's types, which the CLI names, and a failing exit. The CLI starts
	// slowly, so the cases run side by side.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cancel-zonal-shift", "--zonal-shift-id", id}, "(ConflictException)"},
		{[]string{"cancel-zonal-shift", "--zonal-shift-id", "00000000-0000-4000-8000-000000000000"}, "(ResourceNotFoundException)"},
		{[]string{"start-zonal-shift", "--resource-identifier", fn, "--away-from", "use1-az2", "--expires-in", "5d", "--comment", "c"}, "(ValidationException)"},
		{[]string{"get-managed-resource", "--resource-identifier", "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/nobody/1"}, "(ResourceNotFoundException)"},
	} {
		t.Run(tc.args[0]+tc.want, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := aws(append([]string{"arc-zonal-shift"}, tc.args...)...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Errorf("aws arc-zonal-shift %s: %v, stderr %q, want %s", strings.Join(tc.args, " "), err, stderr, tc.want)
			}
			if tc.want == "(ValidationException)" && !strings.Contains(stderr, "expiresIn") {
				t.Errorf("validation error does not name the field: %q", stderr)
			}
		})
	}
}
