// Package e2etest is the end-to-end harness of azlens, in the style of net/http/httptest: a real
// azlens-collector process (StartCollector) and an in-process OTLP/gRPC sink (OTLPSink), each
// stopped by t.Cleanup. Every wait is on the thing itself — the collector's own "ready" log line,
// the sink's next batch — with a generous bound that only turns a hang into a failure, so a busy
// machine makes a test slower, never red. Only tests import it; binaries are built with
// internal/testbin.
package e2etest

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/testdeadline"
)

// ReadyLimit bounds how long a process may take to become ready before the test fails: far more
// than a collector needs on a loaded 2-core machine, short enough that a hang still ends.
const ReadyLimit = 10 * time.Minute

// StopLimit is how long a process has to exit after SIGTERM before it is killed.
const StopLimit = 30 * time.Second

// readyLine is what the collector logs (at info level, on stderr) once every component started.
const readyLine = "Everything is ready"

// Collector is a running azlens-collector process.
type Collector struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed

	mu  sync.Mutex
	out bytes.Buffer
}

// StartCollector writes config (YAML) to a file, runs bin --config on it and returns once the
// collector logged that everything is ready. The config must leave service.telemetry.logs at info
// or lower (the default). t.Cleanup stops the process (SIGTERM, then SIGKILL of its process group)
// and prints its output when the test failed.
func StartCollector(t testing.TB, bin, config string) *Collector {
	t.Helper()
	path := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Collector{cmd: exec.Command(bin, "--config", path), done: make(chan struct{})}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		var once sync.Once
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if strings.Contains(sc.Text(), readyLine) {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		c.err = c.cmd.Wait()
		pw.Close()
		<-scanned
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("collector output:\n%s", c.Output())
		}
	})
	bound := testdeadline.Within(t, ReadyLimit)
	limit := time.NewTimer(bound)
	defer limit.Stop()
	select {
	case <-ready:
	case <-c.done:
		t.Fatalf("collector exited before it was ready: %v\n%s", c.err, c.Output())
	case <-limit.C:
		t.Fatalf("collector not ready after %s (hung)\n%s", bound, c.Output())
	}
	return c
}

// PID is the collector's process id (the testbed reads its CPU time and RSS from /proc).
func (c *Collector) PID() int { return c.cmd.Process.Pid }

// Output is everything the collector wrote so far (stdout and stderr).
func (c *Collector) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Exited reports whether the process has ended, and how.
func (c *Collector) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and fails the test unless the collector exits cleanly within StopLimit (it
// drains its pipelines first).
func (c *Collector) Stop(t testing.TB) {
	t.Helper()
	if done, err := c.Exited(); done {
		t.Fatalf("collector had already exited: %v", err)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	limit := time.NewTimer(StopLimit)
	defer limit.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			t.Fatalf("collector exit after SIGTERM: %v\n%s", c.err, c.Output())
		}
	case <-limit.C:
		c.kill()
		t.Fatalf("collector did not exit within %s of SIGTERM", StopLimit)
	}
}

// Kill ends the collector at once, as a crash or an OOM kill does (SIGKILL to its process group,
// no draining), and returns when it has exited.
func (c *Collector) Kill() {
	if done, _ := c.Exited(); done {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// kill ends the process and its children if it is still running: SIGTERM, SIGKILL after
// StopLimit.
func (c *Collector) kill() {
	if done, _ := c.Exited(); done {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(StopLimit):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}
