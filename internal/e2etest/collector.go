// Package e2etest is the end-to-end harness of azlens, in the style of net/http/httptest: a real
// azlens-collector process (StartCollector) and an in-process OTLP/gRPC sink (OTLPSink), each
// stopped by t.Cleanup. Every wait is on the thing itself — the collector's own "ready" log line,
// the sink's next batch — with a generous bound that only turns a hang into a failure, so a busy
// machine makes a test slower, never red. Only tests import it; binaries are built with
// internal/testbin.
package e2etest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/collectorproc"
	"github.com/azlens/azlens/internal/testdeadline"
)

// ReadyLimit bounds how long a process may take to become ready before the test fails: far more
// than a collector needs on a loaded 2-core machine, short enough that a hang still ends.
const ReadyLimit = 10 * time.Minute

// StopLimit is how long a process has to exit after SIGTERM before it is killed.
const StopLimit = 30 * time.Second

// readyLine is what the collector logs (at info level, on stderr) once every component started.
const readyLine = "Everything is ready"

// Collector is a running azlens-collector process (internal/collectorproc, as `azlens up` runs it).
type Collector struct {
	proc *collectorproc.Process
	log  *readyLog
}

// StartCollector writes config (YAML) to a file, runs bin --config on it and returns once the
// collector logged that everything is ready. The config must leave service.telemetry.logs at info
// or lower (the default). t.Cleanup stops the process (SIGTERM, then SIGKILL of its process group)
// and prints its output when the test failed.
func StartCollector(t testing.TB, bin, config string) *Collector {
	t.Helper()
	log := &readyLog{ready: make(chan struct{})}
	proc, err := collectorproc.Start(collectorproc.Options{Bin: bin, Config: config, Dir: t.TempDir(), Output: log})
	if err != nil {
		t.Fatal(err)
	}
	c := &Collector{proc: proc, log: log}
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
	case <-log.ready:
	case <-proc.Done():
		t.Fatalf("collector exited before it was ready: %v\n%s", proc.Err(), c.Output())
	case <-limit.C:
		t.Fatalf("collector not ready after %s (hung)\n%s", bound, c.Output())
	}
	return c
}

// readyLog keeps the collector's output and closes ready at the first readyLine.
type readyLog struct {
	mu      sync.Mutex
	out     bytes.Buffer
	ready   chan struct{}
	isReady bool
}

func (l *readyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The line may straddle writes: look again at the tail of what came before.
	from := max(l.out.Len()-len(readyLine), 0)
	l.out.Write(p)
	if !l.isReady && bytes.Contains(l.out.Bytes()[from:], []byte(readyLine)) {
		l.isReady = true
		close(l.ready)
	}
	return len(p), nil
}

// PID is the collector's process id (the testbed reads its CPU time and RSS from /proc).
func (c *Collector) PID() int { return c.proc.PID() }

// Output is everything the collector wrote so far (stdout and stderr).
func (c *Collector) Output() string {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	return c.log.out.String()
}

// Exited reports whether the process has ended, and how.
func (c *Collector) Exited() (bool, error) { return c.proc.Exited() }

// Stop sends SIGTERM and fails the test unless the collector exits cleanly within StopLimit (it
// drains its pipelines first).
func (c *Collector) Stop(t testing.TB) {
	t.Helper()
	if done, err := c.Exited(); done {
		t.Fatalf("collector had already exited: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StopLimit)
	defer cancel()
	err := c.proc.Stop(ctx)
	if ctx.Err() != nil {
		t.Fatalf("collector did not exit within %s of SIGTERM", StopLimit)
	}
	if err != nil {
		t.Fatalf("collector exit after SIGTERM: %v\n%s", err, c.Output())
	}
}

// Kill ends the collector at once, as a crash or an OOM kill does (SIGKILL to its process group,
// no draining), and returns when it has exited.
func (c *Collector) Kill() {
	if done, _ := c.Exited(); done {
		return
	}
	c.proc.Kill()
}

// kill ends the process and its children if it is still running: SIGTERM, SIGKILL after
// StopLimit.
func (c *Collector) kill() {
	if done, _ := c.Exited(); done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), StopLimit)
	defer cancel()
	_ = c.proc.Stop(ctx)
}
