// Command awssamples runs aws-samples' go-example-telemetry-api-extension, built from its own
// source, under `azlens emulate` and checks what a user of it would: every invocation answers
// 200, every environment's extension receives the platform.report of each invocation its
// environment served and none of another's, and emulate exits cleanly on SIGINT.
//
// The extension is not a Go module the module proxy can serve (its module path is
// "aws-lambda-extensions/go-example-telemetry-api-extension"), so CI cannot fetch it; its own
// dependencies do resolve. Run it by hand against a checkout of aws-samples/aws-lambda-extensions:
//
//	make build
//	go run ./test/thirdparty/awssamples -src ../aws-lambda-extensions/go-example-telemetry-api-extension
//	go run ./test/thirdparty/awssamples -src ... -azs use1-az1   # one environment
//
// The extension posts what it receives (JSON arrays of Telemetry API events) to DISPATCH_POST_URI,
// here a listener of this program on the host, forwarded into isolated environments with
// --host-port.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	src := flag.String("src", "", "directory of go-example-telemetry-api-extension's source (required)")
	azlens := flag.String("azlens", "bin/azlens", "azlens executable")
	function := flag.String("function", "bin/hello", "function bootstrap")
	azs := flag.String("azs", "use1-az1,use1-az2,use1-az3", "zones, one environment each")
	n := flag.Int("n", 90, "invocations, spread over the zones")
	pace := flag.Duration("pace", 25*time.Millisecond, "time between invocations (the extension's subscription buffers for 1s)")
	network := flag.String("network", "auto", "azlens emulate --network")
	keep := flag.String("log", "", "also write emulate's output (the function's and the extension's) to this file")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "awssamples: -src is required")
		os.Exit(2)
	}
	if err := run(*src, *azlens, *function, strings.Split(*azs, ","), *n, *pace, *network, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "awssamples: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("awssamples: PASS")
}

func run(src, azlens, function string, zones []string, n int, pace time.Duration, network, keep string) error {
	work, err := os.MkdirTemp("", "awssamples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// The extension's name is its file name, as Lambda takes it.
	ext := filepath.Join(work, "go-example-telemetry-api-extension")
	build := exec.Command("go", "build", "-o", ext, ".")
	build.Dir, build.Stdout, build.Stderr = src, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the extension from %s: %w", src, err)
	}

	sink := &sink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, sink) }()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	logPath := keep
	if logPath == "" {
		logPath = filepath.Join(work, "emulate.log")
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(azlens, "emulate", "--function", function, "--extension", ext,
		"--azs", strings.Join(zones, ","), "--listen", "127.0.0.1:0", "--network", network,
		"--env", "DISPATCH_POST_URI=http://127.0.0.1:"+port+"/", "--host-port", port)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	var out []string
	endpoint, envs := "", 0
	for envs < len(zones) && sc.Scan() {
		l := sc.Text()
		out = append(out, l)
		if _, rest, ok := strings.Cut(l, "listening on http://"); ok {
			endpoint, _, _ = strings.Cut(rest, " ")
		}
		if strings.HasPrefix(l, "  environment ") {
			envs++
		}
	}
	if endpoint == "" || envs < len(zones) {
		return fmt.Errorf("emulate did not start:\n%s\n(log %s)", strings.Join(out, "\n"), tail(logPath))
	}
	ready := time.Since(start)
	rest := make(chan []string, 1)
	go func() {
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		rest <- lines
	}()

	servedBy := map[string]string{} // request ID → environment
	perEnv := map[string]int{}
	var failed []string
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		zone := zones[i%len(zones)]
		req, _ := http.NewRequest(http.MethodPost, "http://"+endpoint+"/2015-03-31/functions/"+filepath.Base(function)+"/invocations",
			strings.NewReader(`{"name":"aws-samples"}`))
		req.Header.Set("X-Azlens-Zone", zone)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("invoke %d: %w", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		env := resp.Header.Get("X-Azlens-Environment")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
			failed = append(failed, fmt.Sprintf("%d in %s: %d %s", i, env, resp.StatusCode, resp.Header.Get("X-Amz-Function-Error")))
			continue
		}
		servedBy[resp.Header.Get("X-Amzn-RequestId")] = env
		perEnv[env]++
	}

	// SIGINT: SHUTDOWN reaches every extension, which dispatches what it still holds.
	_ = cmd.Process.Signal(syscall.SIGINT)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var exitErr error
	select {
	case exitErr = <-waited:
	case <-time.After(time.Minute):
		return errors.New("emulate did not exit a minute after SIGINT")
	}
	summary := <-rest

	// What the extensions dispatched: each batch comes from one environment's extension, so it
	// must hold request IDs of one environment only.
	reports := map[string]int{}
	var problems []string
	batches, events := sink.read()
	for i, b := range batches {
		envOf := map[string]bool{}
		for _, e := range b {
			id := e.Record.RequestID
			if id == "" {
				continue
			}
			env, ok := servedBy[id]
			if !ok {
				continue // a failed invocation, reported above
			}
			envOf[env] = true
			if e.Type == "platform.report" {
				reports[id]++
			}
		}
		if len(envOf) > 1 {
			problems = append(problems, fmt.Sprintf("batch %d mixes environments %v", i, keys(envOf)))
		}
	}
	var missing []string
	for id, env := range servedBy {
		switch reports[id] {
		case 1:
		case 0:
			missing = append(missing, id+" ("+env+")")
		default:
			problems = append(problems, fmt.Sprintf("report of %s delivered %d times", id, reports[id]))
		}
	}
	sort.Strings(missing)
	fmt.Printf("awssamples: %d environment(s) ready in %s (network %s); %d invocations, %d answered 200 (%v); "+
		"%d batches, %d events dispatched by the extensions; %d of %d reports delivered to the right environment\n",
		len(zones), ready.Round(time.Millisecond), network, n, len(servedBy), perEnv, len(batches), events, len(servedBy)-len(missing), len(servedBy))
	for _, l := range summary {
		if strings.HasPrefix(strings.TrimSpace(l), "environment ") {
			fmt.Println("awssamples: emulate:", strings.TrimSpace(l))
		}
	}
	if exitErr != nil {
		problems = append(problems, fmt.Sprintf("emulate after SIGINT: %v", exitErr))
	}
	if len(failed) > 0 {
		problems = append(problems, fmt.Sprintf("%d invocations failed, the first: %s", len(failed), strings.Join(failed[:min(5, len(failed))], "; ")))
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d reports never reached their environment's extension, the first: %s", len(missing), strings.Join(missing[:min(5, len(missing))], ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s\nemulate's log (tail):\n%s", strings.Join(problems, "\n"), tail(logPath))
	}
	return nil
}

// event is the part of a Telemetry API event the checks read.
type event struct {
	Type   string `json:"type"`
	Record struct {
		RequestID string `json:"requestId"`
	} `json:"record"`
}

// sink keeps every batch the extensions post to DISPATCH_POST_URI.
type sink struct {
	mu      sync.Mutex
	batches [][]event
	events  int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Records are objects for platform events and strings for logs: decode loosely.
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	batch := make([]event, 0, len(raw))
	for _, m := range raw {
		var e event
		_ = json.Unmarshal(m, &e) // a string record leaves RequestID empty
		batch = append(batch, e)
	}
	s.mu.Lock()
	s.batches = append(s.batches, batch)
	s.events += len(raw)
	s.mu.Unlock()
}

func (s *sink) read() ([][]event, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches, s.events
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tail is the last lines of the file at path.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}
