package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"

	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/internal/awsclitest"
)

// emulateProcess is `azlens emulate` run as a process, as a user runs it.
type emulateProcess struct {
	endpoint string // the front door, http://host:port
	resource string // the ARC resource it printed: the function's ARN
}

// startEmulate runs `azlens emulate` with the sample function in three zones, returns once it has
// printed its endpoint, and interrupts it (expecting exit 0) when the test ends.
func startEmulate(t *testing.T) *emulateProcess {
	t.Helper()
	cmd := exec.Command(bins.azlens, "emulate", "--function", filepath.Join(bins.dir, "hello"), "--listen", "127.0.0.1:0",
		"--quiet", "--azs", "use1-az1,use1-az2,use1-az3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	e := &emulateProcess{}
	sc := bufio.NewScanner(stdout)
	addrRE := regexp.MustCompile(`listening on (http://\S+)`)
	resRE := regexp.MustCompile(`ARC resource is (\S+)`)
	var head []string
	for (e.endpoint == "" || e.resource == "") && sc.Scan() {
		head = append(head, sc.Text())
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			e.endpoint = m[1]
		}
		if m := resRE.FindStringSubmatch(sc.Text()); m != nil {
			e.resource = m[1]
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	if e.endpoint == "" || e.resource == "" {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("azlens emulate did not print its endpoint and ARC resource:\n%s\n%s", strings.Join(head, "\n"), stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("azlens emulate after SIGINT: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("azlens emulate did not exit within 30s of SIGINT")
		}
	})
	return e
}

// truthSeries reads one ground truth metric from the front door's /metrics, summed by zone over
// the series whose labels contain every one of match.
func truthSeries(t *testing.T, endpoint, metric string, match ...string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(metric) + `\{([^}]*)\} (\S+)$`)
	zoneRE := regexp.MustCompile(`cloud_availability_zone="([^"]*)"`)
next:
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		for _, want := range match {
			if !strings.Contains(m[1], want) {
				continue next
			}
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		if z := zoneRE.FindStringSubmatch(m[1]); z != nil {
			out[z[1]] += v
		}
	}
	return out
}

// invoke calls the Invoke API, pinned to zone when it is not empty, and returns the zone that
// served it and the function error (empty for success).
func invoke(t *testing.T, endpoint, zone string) (servedBy, functionError string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/2015-03-31/functions/hello/invocations", strings.NewReader(`{"name":"ada"}`))
	if zone != "" {
		req.Header.Set(region.ZoneHeader, zone)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke (zone %q): %d %s", zone, resp.StatusCode, b)
	}
	return resp.Header.Get(region.ZoneHeader), resp.Header.Get("X-Amz-Function-Error")
}

// TestEmulateAWSControlPlane runs `azlens emulate` as a process and drives its zonal shift and
// fault experiments with the real AWS CLI v2 and the AWS SDK for Go v2, changing only the
// endpoint, and checks through the Invoke API and the ground truth that the region obeys them.
func TestEmulateAWSControlPlane(t *testing.T) {
	e := startEmulate(t)
	if e.resource != "arn:aws:lambda:us-east-1:123456789012:function:hello" {
		t.Errorf("ARC resource printed as %q, want the function's ARN", e.resource)
	}
	cli := awsclitest.New(t, e.endpoint).Run
	run := func(args ...string) map[string]any {
		t.Helper()
		out, stderr, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, err)
		}
		return v
	}
	fails := func(want string, args ...string) {
		t.Helper()
		_, stderr, err := cli(args...)
		if err == nil || !strings.Contains(stderr, want) {
			t.Errorf("aws %s: %v, stderr %q; want a failure with %s", strings.Join(args, " "), err, stderr, want)
		}
	}

	// The Lambda Invoke API on the same endpoint, through the CLI.
	outFile := filepath.Join(t.TempDir(), "out.json")
	if inv := run("lambda", "invoke", "--function-name", "hello", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"name":"cli"}`, outFile); inv["StatusCode"] != float64(200) {
		t.Errorf("lambda invoke printed %v", inv)
	}
	if b, err := os.ReadFile(outFile); err != nil || !strings.Contains(string(b), "hello, cli") {
		t.Errorf("lambda invoke wrote %q (%v)", b, err)
	}

	// A zonal shift away from use1-az2: no new invocation lands there.
	started := run("arc-zonal-shift", "start-zonal-shift", "--resource-identifier", e.resource,
		"--away-from", "use1-az2", "--expires-in", "30m", "--comment", "drill from the AWS CLI")
	shiftID, _ := started["zonalShiftId"].(string)
	if shiftID == "" || started["status"] != "ACTIVE" || started["awayFrom"] != "use1-az2" {
		t.Fatalf("start-zonal-shift printed %v", started)
	}
	fails("(ConflictException)", "arc-zonal-shift", "start-zonal-shift", "--resource-identifier", e.resource,
		"--away-from", "use1-az1", "--expires-in", "30m", "--comment", "a second one")
	list := run("arc-zonal-shift", "list-zonal-shifts", "--status", "ACTIVE")
	if items, _ := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["zonalShiftId"] != shiftID {
		t.Errorf("list-zonal-shifts printed %v", list)
	}
	if w := truthSeries(t, e.endpoint, "azlens_emulator_router_weight"); w["use1-az2"] != 0 || w["use1-az1"] != 1 || w["use1-az3"] != 1 {
		t.Errorf("router weights during the shift = %v, want use1-az2 at 0", w)
	}
	before := truthSeries(t, e.endpoint, "azlens_emulator_invocations_total")
	served := map[string]int{}
	for range 30 {
		zone, fnErr := invoke(t, e.endpoint, "")
		if fnErr != "" {
			t.Fatalf("invocation in %s failed (%s) with no experiment running", zone, fnErr)
		}
		served[zone]++
	}
	after := truthSeries(t, e.endpoint, "azlens_emulator_invocations_total")
	if served["use1-az2"] != 0 || served["use1-az1"]+served["use1-az3"] != 30 || after["use1-az2"] != before["use1-az2"] {
		t.Errorf("during the shift away from use1-az2: served by %v; ground truth use1-az2 %v → %v", served, before["use1-az2"], after["use1-az2"])
	}

	// The AWS SDK for Go v2's ARC client, as `azlens shift` builds it, on the same process.
	sdk := arc.New(arc.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.endpoint),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		})), RetryMaxAttempts: 1})
	mr, err := sdk.GetManagedResource(t.Context(), &arc.GetManagedResourceInput{ResourceIdentifier: aws.String(e.resource)})
	if err != nil {
		t.Fatalf("SDK GetManagedResource: %v", err)
	}
	if aws.ToString(mr.Arn) != e.resource || mr.AppliedWeights["use1-az2"] != 0 || mr.AppliedWeights["use1-az1"] != 1 ||
		len(mr.ZonalShifts) != 1 || aws.ToString(mr.ZonalShifts[0].ZonalShiftId) != shiftID {
		t.Errorf("SDK GetManagedResource = arn %q, weights %v, %d shifts", aws.ToString(mr.Arn), mr.AppliedWeights, len(mr.ZonalShifts))
	}
	_, err = sdk.StartZonalShift(t.Context(), &arc.StartZonalShiftInput{ResourceIdentifier: aws.String(e.resource),
		AwayFrom: aws.String("use1-az3"), ExpiresIn: aws.String("1h"), Comment: aws.String("from the SDK")})
	if conflict := (*types.ConflictException)(nil); !errors.As(err, &conflict) {
		t.Errorf("SDK StartZonalShift on a shifted resource: %v, want *types.ConflictException", err)
	}
	_, err = sdk.CancelZonalShift(t.Context(), &arc.CancelZonalShiftInput{ZonalShiftId: aws.String("00000000-0000-4000-8000-000000000000")})
	if notFound := (*types.ResourceNotFoundException)(nil); !errors.As(err, &notFound) {
		t.Errorf("SDK CancelZonalShift of an unknown id: %v, want *types.ResourceNotFoundException", err)
	}

	if c := run("arc-zonal-shift", "cancel-zonal-shift", "--zonal-shift-id", shiftID); c["status"] != "CANCELED" {
		t.Errorf("cancel-zonal-shift printed %v", c)
	}
	fails("(ConflictException)", "arc-zonal-shift", "cancel-zonal-shift", "--zonal-shift-id", shiftID)
	if w := truthSeries(t, e.endpoint, "azlens_emulator_router_weight"); w["use1-az2"] != 1 {
		t.Errorf("router weights after cancel-zonal-shift = %v, want use1-az2 back at 1", w)
	}
	if zone, fnErr := invoke(t, e.endpoint, "use1-az2"); zone != "use1-az2" || fnErr != "" {
		t.Errorf("invocation pinned to use1-az2 after the cancel: served by %q, error %q", zone, fnErr)
	}

	// A FIS experiment injecting errors into use1-az3, written as for real FIS.
	input := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(input, []byte(`{
  "description": "errors in use1-az3",
  "roleArn": "arn:aws:iam::123456789012:role/fis",
  "targets": {"fn": {"resourceType": "aws:lambda:function", "resourceArns": ["`+e.resource+`"],
    "parameters": {"availabilityZoneIdentifier": "use1-az3"}, "selectionMode": "ALL"}},
  "actions": {"fail": {"actionId": "azlens:lambda:inject-errors", "parameters": {"duration": "PT10M"}, "targets": {"Functions": "fn"}}},
  "stopConditions": [{"source": "none"}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	created := run("fis", "create-experiment-template", "--cli-input-json", "file://"+input)
	tmplID, _ := created["experimentTemplate"].(map[string]any)["id"].(string)
	if tmplID == "" {
		t.Fatalf("create-experiment-template printed %v", created)
	}
	fails("(ResourceNotFoundException)", "fis", "start-experiment", "--experiment-template-id", "EXTnope")
	exp, _ := run("fis", "start-experiment", "--experiment-template-id", tmplID)["experiment"].(map[string]any)
	expID, _ := exp["id"].(string)
	if expID == "" {
		t.Fatalf("start-experiment printed %v", exp)
	}
	// The experiment starts its actions on the service's own timer, right after it answers:
	// get-experiment is asked until it says so.
	status := func() string {
		st, _ := run("fis", "get-experiment", "--id", expID)["experiment"].(map[string]any)["state"].(map[string]any)
		s, _ := st["status"].(string)
		return s
	}
	waitStatus := func(want string) {
		t.Helper()
		got := ""
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			if got = status(); got == want {
				return
			}
		}
		t.Fatalf("get-experiment: status %q, want %q", got, want)
	}
	waitStatus("running")
	if f := truthSeries(t, e.endpoint, "azlens_emulator_zone_faulted"); f["use1-az3"] != 1 || f["use1-az1"] != 0 {
		t.Errorf("zones faulted while running = %v, want use1-az3 only", f)
	}
	failedBefore := truthSeries(t, e.endpoint, "azlens_emulator_invocations_total", `outcome="failure"`)
	for range 5 {
		if zone, fnErr := invoke(t, e.endpoint, "use1-az3"); zone != "use1-az3" || fnErr == "" {
			t.Errorf("invocation pinned to the faulted use1-az3: served by %q, function error %q, want an injected error", zone, fnErr)
		}
	}
	if zone, fnErr := invoke(t, e.endpoint, "use1-az1"); zone != "use1-az1" || fnErr != "" {
		t.Errorf("invocation pinned to use1-az1 during the experiment: served by %q, error %q, want success", zone, fnErr)
	}
	failedAfter := truthSeries(t, e.endpoint, "azlens_emulator_invocations_total", `outcome="failure"`)
	if failedAfter["use1-az3"]-failedBefore["use1-az3"] != 5 || failedAfter["use1-az1"] != failedBefore["use1-az1"] {
		t.Errorf("ground truth failures: use1-az3 %v → %v, use1-az1 %v → %v; want 5 more in use1-az3 only",
			failedBefore["use1-az3"], failedAfter["use1-az3"], failedBefore["use1-az1"], failedAfter["use1-az1"])
	}

	stopped, _ := run("fis", "stop-experiment", "--id", expID)["experiment"].(map[string]any)
	if st, _ := stopped["state"].(map[string]any); st["status"] != "stopping" && st["status"] != "stopped" {
		t.Errorf("stop-experiment printed %v", stopped)
	}
	waitStatus("stopped")
	fails("(ValidationException)", "fis", "stop-experiment", "--id", expID)
	if zone, fnErr := invoke(t, e.endpoint, "use1-az3"); zone != "use1-az3" || fnErr != "" {
		t.Errorf("invocation pinned to use1-az3 after stop-experiment: served by %q, error %q, want success", zone, fnErr)
	}
}
