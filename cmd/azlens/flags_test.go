package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEveryFlagCheckedAtStart: each command checks its flags before it starts anything or calls
// anything, exits 2, names the flag and, when there is a list, the valid values.
func TestEveryFlagCheckedAtStart(t *testing.T) {
	// Any API call would be a check that came too late.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a usage error reached the API: %s %s", r.Method, r.URL)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer api.Close()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notExec := write("not-exec", "#!/bin/sh\n", 0o644)
	badJSON := write("bad.json", "nope", 0o644)
	goodJSON := write("t.json", `{"description":"x"}`, 0o644)
	// `azlens up` with real binaries, so only the flag under test can be wrong.
	up := func(args ...string) []string {
		return append([]string{"up", "--function", filepath.Join(bins.dir, "hello"), "--agent", filepath.Join(bins.dir, "azlens-agent"),
			"--collector", filepath.Join(bins.dir, "azlens-collector"), "--listen", "127.0.0.1:0"}, args...)
	}
	hello := filepath.Join(bins.dir, "hello")
	shiftEP := []string{"--endpoint", api.URL + "/zonalshift"}
	fisEP := []string{"--endpoint", api.URL + "/fis"}

	for _, tc := range []struct {
		args []string
		want []string // all in stderr
	}{
		// The newcomer's typo: before, a 3-minute warm-up ran first.
		{up("--scenario", "az-error"), []string{`--scenario "az-error" is not one of: az-crash, az-errors, az-latency, az-latency-10, flapping, low-traffic, none, telemetry-loss, telemetry-loss-errors, two-az-errors`, `did you mean "az-errors"`}},
		{up("--timing", "slow"), []string{`--timing "slow" is not one of: demo, production, fast`}},
		{up("--azs", "use1-az1"), []string{`--azs "use1-az1": name at least 2 zone(s)`}},
		{up("--azs", "use1-az1,use1-az1"), []string{"zone use1-az1 appears twice"}},
		{up("--scenario", "az-errors", "--fault-zone", "use1-az9"), []string{`--fault-zone "use1-az9" is not one of: use1-az1, use1-az2, use1-az3`}},
		{up("--rate", "0"), []string{"--rate 0: must be a number more than 0"}},
		{up("--envs-per-az", "0"), []string{"--envs-per-az must be at least 1"}},
		{up("--interval", "0s"), []string{"--interval 0s: must be more than 0"}},
		{up("--listen", "9001"), []string{`--listen "9001": want HOST:PORT`}},
		{up("--warmup", "1m"), []string{"--warmup has no effect with --scenario none"}},
		{up("--fault-zone", "use1-az1"), []string{"--fault-zone has no effect with --scenario none"}},
		{up("--scenario", "az-errors", "--duration", "2m"), []string{"--duration 2m0s ends the run before the fault starts (warm-up 3m0s)"}},
		{up("--summary-json", filepath.Join(dir, "missing", "s.json")), []string{"--summary-json", "does not exist"}},
		{up("--report", filepath.Join(dir, "missing", "r.html")), []string{"--report", "does not exist"}},
		{up("--report", dir), []string{"--report", "is a folder"}},
		{up("--traces-endpoint", "http://localhost:4317"), []string{`--traces-endpoint "http://localhost:4317": want HOST:PORT`}},
		{up("--traces-endpoint", "localhost:0"), []string{`--traces-endpoint "localhost:0": port must be a number from 1 to 65535`}},
		{up("--logs-endpoint", "localhost:9428/insert"), []string{`--logs-endpoint "localhost:9428/insert": want an http:// or https:// URL`}},
		{up("--prometheus-port", "70000"), []string{"--prometheus-port 70000: must be a port from 1 to 65535"}},
		{up("--function", filepath.Join(dir, "nope")), []string{"--function", "no such file"}},
		{up("--agent", notExec), []string{"--agent", "not executable"}},

		{[]string{"emulate", "--function", filepath.Join(dir, "nope")}, []string{"--function", "no such file"}},
		{[]string{"emulate", "--function", notExec}, []string{"--function", "not executable"}},
		{[]string{"emulate", "--function", hello, "--extension", dir}, []string{"--extension", "not a regular file"}},
		{[]string{"emulate", "--function", hello, "--log-format", "json"}, []string{`--log-format "json" is not one of: Text, JSON`, `did you mean "JSON"`}},
		{[]string{"emulate", "--function", hello, "--listen", "localhost:http"}, []string{`--listen "localhost:http": port must be a number`}},
		{[]string{"emulate", "--function", hello, "--name", "my.function"}, []string{`--name "my.function"`}},
		{[]string{"emulate", "--function", hello, "--timeout", "20m"}, []string{"--timeout must be between 1ms and 15m"}},
		{[]string{"emulate", "--function", hello, "--shutdown-timeout", "0s"}, []string{"--shutdown-timeout 0s: must be more than 0"}},
		{[]string{"emulate", "--function", hello, "--env", "AWS_REGION=eu-west-1"}, []string{`--env: "AWS_REGION" is reserved`}},

		{[]string{"invoke", "--function", "hello", "--payload", "{", "--endpoint", api.URL}, []string{"--payload: not valid JSON"}},
		{[]string{"invoke", "--function", "hello", "--endpoint", "127.0.0.1:9001"}, []string{`--endpoint "127.0.0.1:9001": want an http:// or https:// URL`}},

		{append([]string{"shift", "start", "--resource", "hello", "--away-from", "use1-az2", "--type", "manul"}, shiftEP...), []string{`--type "manul" is not one of: manual, practice`, `did you mean "manual"`}},
		{append([]string{"shift", "start", "--resource", "hello", "--away-from", "use1-az2", "--expires-in", "30"}, shiftEP...), []string{`--expires-in "30": want minutes 1m–1440m or hours 1h–72h`}},
		{append([]string{"shift", "start", "--resource", "hello", "--away-from", "use1-az2", "--expires-in", "73h"}, shiftEP...), []string{`--expires-in "73h"`}},
		{append([]string{"shift", "list", "--status", "active"}, shiftEP...), []string{`--status "active" is not one of: ACTIVE, EXPIRED, CANCELED`, `did you mean "ACTIVE"`}},
		{append([]string{"shift", "list", "--id", "x"}, shiftEP...), []string{"--id is not a flag of 'shift list' (its flags: --endpoint, --region, --resource, --status)"}},
		{append([]string{"shift", "get"}, shiftEP...), []string{`unknown verb "get"`}}, // ARC has no GetZonalShift
		{[]string{"shift", "list", "--endpoint", "localhost"}, []string{`--endpoint "localhost": want an http:// or https:// URL`}},

		{append([]string{"experiment", "start"}, fisEP...), []string{"--scenario or --template is required", "az-errors"}},
		{append([]string{"experiment", "start", "--scenario", "az-errors", "--template", goodJSON}, fisEP...), []string{"give --scenario or --template, not both"}},
		{append([]string{"experiment", "start", "--scenario", "az-errors", "--zone", "use1-az9"}, fisEP...), []string{`--zone "use1-az9" is not one of: use1-az1, use1-az2, use1-az3`}},
		{append([]string{"experiment", "start", "--scenario", "az-errors", "--duration", "-1m"}, fisEP...), []string{"--duration -1m0s: must not be negative"}},
		{append([]string{"experiment", "start", "--template", filepath.Join(dir, "missing.json")}, fisEP...), []string{"--template", "no such file"}},
		{append([]string{"experiment", "start", "--template", badJSON}, fisEP...), []string{"--template", "not a JSON object"}},
		{append([]string{"experiment", "start", "--template", goodJSON, "--zone", "use1-az1"}, fisEP...), []string{"--zone applies to --scenario"}},
		{append([]string{"experiment", "stop"}, fisEP...), []string{"--id is required for 'experiment stop'"}},
	} {
		var stdout, stderr strings.Builder
		code := run(context.Background(), tc.args, &stdout, &stderr)
		ok := code == 2 && stdout.Len() == 0
		for _, w := range tc.want {
			ok = ok && strings.Contains(stderr.String(), w)
		}
		if !ok {
			t.Errorf("azlens %s:\nexit %d, stdout %q, stderr %q\nwant exit 2, no output, stderr containing %q",
				strings.Join(tc.args, " "), code, stdout.String(), stderr.String(), tc.want)
		}
	}
}

// TestRelativePathsResolveAgainstTheWorkingDirectory runs `azlens emulate --function hello
// --extension ./azlens-agent` from the folder holding them, as the README does with bin/: both
// start (before, the extension failed with "fork/exec ...: no such file or directory", returned as
// the function's result).
func TestRelativePathsResolveAgainstTheWorkingDirectory(t *testing.T) {
	t.Chdir(filepath.Dir(bins.dir))
	rel := filepath.Base(bins.dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(ctx, []string{"emulate", "--function", rel + "/hello", "--extension", "./" + rel + "/azlens-agent",
			"--listen", "127.0.0.1:0", "--azs", "use1-az1", "--quiet"}, pw, &stderr)
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
		t.Fatalf("emulate did not start (exit %d): %s", <-done, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	resp, err := http.Post("http://"+addr+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" || !strings.Contains(string(b), "hello, ada") {
		t.Errorf("invoke with relative --function and --extension: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), b)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("emulate did not exit after cancellation")
	}
}
