package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/testbin"
)

// bins are the real binaries, side by side as `make build` leaves them in bin/, for the tests that
// run `azlens up` as a process.
var bins struct{ dir, azlens string }

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, "azlens-cli-test-", func(dir string) error {
		bins.dir, bins.azlens = dir, filepath.Join(dir, "azlens")
		for name, pkg := range map[string]string{
			"azlens":           "github.com/azlens/azlens/cmd/azlens",
			"hello":            "github.com/azlens/azlens/examples/hello",
			"azlens-collector": "github.com/azlens/azlens/cmd/azlens-collector",
		} {
			if err := testbin.Build("-o", filepath.Join(dir, name), pkg); err != nil {
				return err
			}
		}
		return testbin.BuildAgent(filepath.Join(dir, "azlens-agent"))
	}))
}

// buildHello builds the sample function, a real aws-lambda-go bootstrap.
func buildHello(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-o", out, "github.com/azlens/azlens/examples/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sample function: %v\n%s", err, b)
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	hello := filepath.Join(bins.dir, "hello")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: azlens"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"emulate"}, 2, "--function is required"},
		{[]string{"emulate", "--function", hello, "--memory-mb", "64"}, 2, "--memory-mb must be between 128 and 10240"},
		{[]string{"emulate", "--function", hello, "--azs", ","}, 2, "--azs \",\": name at least 1 zone"},
		{[]string{"emulate", "--function", "x", "--env", "NOEQUALS"}, 2, "want KEY=VALUE"},
		{[]string{"emulate", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"emulate", "--function", hello, "--network", "vpc"}, 2, "--network must be auto, isolated or shared"},
		{[]string{"emulate", "--function", hello, "--host-port", "99999"}, 2, "--host-port must be a TCP port"},
		{[]string{"emulate", "--function", hello, "--layer", "/nonexistent/layer.zip"}, 2, "--layer \"/nonexistent/layer.zip\""},
		{[]string{"invoke"}, 2, "--function is required"},
	} {
		var stderr strings.Builder
		code := run(context.Background(), tc.args, io.Discard, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("azlens %v: exit %d, stderr %q; want exit %d containing %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}

// TestEmulateServesAndShutsDownCleanly runs `azlens emulate` with the real sample function, invokes
// it through the printed address, then sends the equivalent of Ctrl-C and expects exit 0.
func TestEmulateServesAndShutsDownCleanly(t *testing.T) {
	hello := buildHello(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulate", "--function", hello, "--listen", "127.0.0.1:0", "--quiet",
			"--azs", "use1-az1,use1-az2", "--env", "GREETING=hi"}, pw, io.Discard)
		pw.Close()
	}()
	addrRE := regexp.MustCompile(`listening on http://(\S+)`)
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("emulate never printed its address (exit %d)", <-done)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		rest <- string(b)
	}()

	zones := map[string]bool{}
	invoked := 0
	for i := 0; i < 40 && len(zones) < 2; i++ {
		invoked++
		resp, err := http.Post("http://"+addr+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`{"name":"ada"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "hello, ada") {
			t.Fatalf("invoke: %d %s", resp.StatusCode, b)
		}
		zones[resp.Header.Get("X-Azlens-Zone")] = true
	}
	if !zones["use1-az1"] || !zones["use1-az2"] {
		t.Errorf("invocations served by zones %v, want both", zones)
	}
	checkGroundTruth(t, "http://"+addr+"/metrics", invoked)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGINT, want 0", code)
		}
		// One summary line per environment at shutdown.
		if out := <-rest; strings.Count(out, " invocations, ") != 2 || !strings.Contains(out, "(use1-az2): ") {
			t.Errorf("no per-environment summary at shutdown:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("emulate did not exit after cancellation")
	}
}

// dummyAWSCredentials gives the AWS SDK's default chain static credentials and nothing else.
func dummyAWSCredentials(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none} {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	os.Unsetenv("AWS_PROFILE")
}

// TestShiftVerbs drives `azlens shift` (the AWS SDK's ARC client) against the emulator's zonal
// shift API, served at the root as the front door serves it.
func TestShiftVerbs(t *testing.T) {
	dummyAWSCredentials(t)
	svc := zonalshift.New(zonalshift.Config{})
	t.Cleanup(svc.Close)
	svc.SetZones("hello", []string{"use1-az1", "use1-az2", "use1-az3"})
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	ep := []string{"--endpoint", srv.URL}
	azlens := func(args ...string) (string, string, int) {
		var out, errb strings.Builder
		code := run(context.Background(), args, &out, &errb)
		return out.String(), errb.String(), code
	}

	out, stderr, code := azlens(append([]string{"shift", "start", "--resource", "hello", "--away-from", "use1-az2", "--expires-in", "30m"}, ep...)...)
	if code != 0 {
		t.Fatalf("shift start: exit %d: %s", code, stderr)
	}
	var shift struct {
		ZonalShiftID, AwayFrom, Status, Type string
	}
	if err := json.Unmarshal([]byte(out), &shift); err != nil || shift.ZonalShiftID == "" || shift.AwayFrom != "use1-az2" || shift.Status != "ACTIVE" {
		t.Fatalf("shift start printed %q (%v)", out, err)
	}
	if w := svc.Weights("hello", []string{"use1-az1", "use1-az2", "use1-az3"}); w["use1-az2"] != 0 || w["use1-az1"] != 1 {
		t.Errorf("weights after start = %v", w)
	}
	if out, _, code = azlens(append([]string{"shift", "status", "--resource", "hello"}, ep...)...); code != 0 || !strings.Contains(out, "use1-az2") {
		t.Errorf("shift status: exit %d, %s", code, out)
	}
	if out, _, code = azlens(append([]string{"shift", "list", "--status", "ACTIVE"}, ep...)...); code != 0 || !strings.Contains(out, shift.ZonalShiftID) {
		t.Errorf("shift list: exit %d, %s", code, out)
	}
	if _, stderr, code = azlens(append([]string{"shift", "cancel", "--id", shift.ZonalShiftID}, ep...)...); code != 0 {
		t.Fatalf("shift cancel: exit %d: %s", code, stderr)
	}
	if w := svc.Weights("hello", []string{"use1-az1", "use1-az2", "use1-az3"}); w["use1-az2"] != 1 {
		t.Errorf("weights after cancel = %v", w)
	}
	// API errors reach the user with the API's type and message, and exit 1 (the flags were right:
	// a bad --expires-in, which this test used before, is now a usage error caught at start).
	_, stderr, code = azlens(append([]string{"shift", "renew", "--id", "nope", "--expires-in", "10m"}, ep...)...)
	if code != 1 || !strings.Contains(stderr, "ResourceNotFoundException") || !strings.Contains(stderr, `zonal shift "nope" not found`) {
		t.Errorf("unknown shift: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code = azlens("shift", "start", "--resource", "hello"); code != 2 || !strings.Contains(stderr, "--away-from is required") {
		t.Errorf("missing --away-from: exit %d, stderr %q", code, stderr)
	}
}

// TestExperimentVerbs drives `azlens experiment` (the AWS SDK's FIS client) against the
// emulator's experiment API, served at the root as the front door serves it.
func TestExperimentVerbs(t *testing.T) {
	dummyAWSCredentials(t)
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	svc := experiment.New(experiment.Config{Zones: zones})
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	ep := []string{"--endpoint", srv.URL}
	var out, stderr strings.Builder
	code := run(context.Background(), append([]string{"experiment", "start", "--scenario", "az-errors", "--zone", "use1-az3", "--duration", "1m"}, ep...), &out, &stderr)
	if code != 0 {
		t.Fatalf("experiment start: exit %d: %s", code, stderr.String())
	}
	var started struct {
		Experiment struct {
			ID    string
			State struct{ Status string }
		}
	}
	if err := json.Unmarshal([]byte(out.String()), &started); err != nil || started.Experiment.ID == "" {
		t.Fatalf("experiment start printed %q (%v)", out.String(), err)
	}
	if got := svc.Experiments(); len(got) != 1 || !got[0].Active() {
		t.Fatalf("experiments after start: %+v", got)
	}
	out.Reset()
	if code := run(context.Background(), append([]string{"experiment", "stop", "--id", started.Experiment.ID}, ep...), &out, &stderr); code != 0 {
		t.Fatalf("experiment stop: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), append([]string{"experiment", "start", "--scenario", "meteor-strike"}, ep...), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "meteor-strike") {
		t.Errorf("unknown scenario: exit %d, stderr %q", code, stderr.String())
	}
}

// checkGroundTruth: the front door's /metrics counts every successful invocation (the emulator's
// ground truth, emulator/groundtruth).
func checkGroundTruth(t *testing.T, url string, want int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := 0.0
	for _, m := range regexp.MustCompile(`(?m)^azlens_emulator_invocations_total\{[^}]*outcome="success"[^}]*\} (\S+)$`).FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		got += v
	}
	if resp.StatusCode != http.StatusOK || int(got) != want {
		t.Errorf("GET %s: %d, %v successful invocations counted, want %d:\n%s", url, resp.StatusCode, got, want, b)
	}
}

// TestShiftWithoutCredentials: against a local endpoint with no AWS credentials anywhere, the
// verbs send unsigned requests, which the local region accepts, instead of failing to sign.
func TestShiftWithoutCredentials(t *testing.T) {
	dummyAWSCredentials(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	svc := zonalshift.New(zonalshift.Config{})
	t.Cleanup(svc.Close)
	var signed bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signed = signed || r.Header.Get("Authorization") != ""
		svc.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var out, stderr strings.Builder
	if code := run(context.Background(), []string{"shift", "list", "--endpoint", srv.URL}, &out, &stderr); code != 0 {
		t.Fatalf("shift list without credentials: exit %d: %s", code, stderr.String())
	}
	if signed || !strings.Contains(out.String(), `"Items"`) {
		t.Errorf("signed %v, printed %q", signed, out.String())
	}
}
