package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
)

func TestEnvHostPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := ln.Addr().(*net.TCPAddr).Port
	closed := freeport.Port(t)
	got := envHostPorts(map[string]string{
		"A_COLLECTOR": "http://127.0.0.1:" + strconv.Itoa(open) + "/v1",
		"B_BARE":      "localhost:" + strconv.Itoa(closed),
		"C_REMOTE":    "http://collector.example:4319",
		"D_RUNTIME":   "127.0.0.1:9001",
		"E_TEXT":      "hello",
		"F_NOPORT":    "http://localhost/x",
	})
	want := []envHostPort{{key: "A_COLLECTOR", port: open, listening: true}, {key: "B_BARE", port: closed}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("envHostPorts = %+v, want %+v", got, want)
	}
}

// TestEmulateReachesTheCollectorNamedInEnv is the README's "running your own function" as root:
// the environments are isolated (a loopback of their own), yet the agent given
// `--env AZLENS_COLLECTOR_ENDPOINT=http://127.0.0.1:PORT` delivers to the collector listening on
// the host's PORT. Before, it forwarded nothing unless the user also knew to pass --host-port.
func TestEmulateReachesTheCollectorNamedInEnv(t *testing.T) {
	var posts atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	cmd := exec.Command(bins.azlens, "emulate", "--function", filepath.Join(bins.dir, "hello"),
		"--extension", filepath.Join(bins.dir, "azlens-agent"), "--env", "AZLENS_COLLECTOR_ENDPOINT="+collector.URL,
		"--network", "isolated", "--azs", "use1-az1", "--listen", "127.0.0.1:0", "--quiet")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	var head []string
	endpoint, forwarded := "", false
	for sc.Scan() {
		l := sc.Text()
		head = append(head, l)
		if _, rest, ok := strings.Cut(l, "listening on http://"); ok {
			endpoint, _, _ = strings.Cut(rest, " ")
		}
		forwarded = forwarded || strings.Contains(l, "--env AZLENS_COLLECTOR_ENDPOINT names "+strings.TrimPrefix(collector.URL, "http://")+", where a host process listens")
		if strings.HasPrefix(l, "  environment ") {
			break
		}
	}
	if endpoint == "" || !forwarded {
		t.Fatalf("emulate did not start or did not say it forwards the collector's port:\n%s\n%s", strings.Join(head, "\n"), stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	resp, err := http.Post("http://"+endpoint+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: %d", resp.StatusCode)
	}
	// SHUTDOWN makes the agent flush what it holds before it exits.
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulate after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("emulate did not exit a minute after SIGINT")
	}
	if posts.Load() == 0 {
		t.Errorf("the agent in an isolated environment never reached the collector at %s\n%s", collector.URL, stderr.String())
	}
}
