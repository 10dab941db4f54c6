package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/freeport"
)

// watched sinks poke a channel at every consume, so a test can wait for a condition on what the
// receiver emitted without polling.
type (
	watchedTraces struct {
		consumertest.TracesSink
		poke chan struct{}
	}
	watchedLogs struct {
		consumertest.LogsSink
		poke chan struct{}
	}
	watchedMetrics struct {
		consumertest.MetricsSink
		poke chan struct{}
	}
)

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (w *watchedTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	defer poke(w.poke)
	return w.TracesSink.ConsumeTraces(ctx, td)
}

func (w *watchedLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	defer poke(w.poke)
	return w.LogsSink.ConsumeLogs(ctx, ld)
}

func (w *watchedMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	defer poke(w.poke)
	return w.MetricsSink.ConsumeMetrics(ctx, md)
}

// TestFunctionOTelCrossesACollectorOutage: the collector refuses connections while the function
// (examples/hello: spans, a counter and a log record per invocation, flushed at its end) is
// invoked; the agent answers the SDK 200, holds what fits its (small) memory bound and spools the
// rest. Once the collector listens, memory and spool are sent — spooled batches after newer ones —
// and every SDK span, metric point and log record must arrive exactly once, the spans joined
// under their invocation span and the log records in its trace, then SHUTDOWN.
func TestFunctionOTelCrossesACollectorOutage(t *testing.T) {
	const down, up = 80, 5
	poked := make(chan struct{}, 1)
	traces, logs, metrics := &watchedTraces{poke: poked}, &watchedLogs{poke: poked}, &watchedMetrics{poke: poked}
	endpoint := freeport.Addr(t) // nothing listens there yet: connection refused

	out := &logBuffer{}
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name: "hello",
			Env: map[string]string{
				"AZLENS_COLLECTOR_ENDPOINT": "http://" + endpoint,
				"AZLENS_SPOOL_DIR":          t.TempDir(),
				"AZLENS_MEMORY_LIMIT_BYTES": "262144", // the minimum: most of the outage goes to the spool
				"AZLENS_BATCH_MAX_EVENTS":   "20",
				"AZLENS_RETRY_INITIAL_MS":   "10",
				"AZLENS_RETRY_MAX_MS":       "50",
			},
			Runtime:    &emulator.ProcessRuntime{Path: helloPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		},
		AZ:        "use1-az4",
		LogOutput: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
		if t.Failed() {
			out.mu.Lock()
			t.Logf("sandbox output:\n%s", out.b.String())
			out.mu.Unlock()
		}
	})
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sb.Start(sctx); err != nil {
		t.Fatal(err)
	}
	// 2 KB names make each invocation's spans, log record and stdout line a few KB: the outage's
	// data is several times the memory bound.
	name := strings.Repeat("x", 2048)
	var requests []string
	call := func(i int) {
		ictx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := &emulator.InvokeRequest{Payload: []byte(fmt.Sprintf(`{"name":"%s%d"}`, name, i))}
		if i%2 == 0 {
			req.TraceHeader = fmt.Sprintf("Root=1-%08x-%024x;Parent=%016x;Sampled=1", time.Now().Unix(), i+1, i+1)
		}
		res, err := sb.Invoke(ictx, req)
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		if res.Status != "success" {
			t.Fatalf("invocation %d: %s %s: %s", i, res.Status, res.ErrorType, res.Payload)
		}
		select {
		case <-res.Done:
		case <-ictx.Done():
			t.Fatalf("invocation %s never completed", res.RequestID)
		}
		requests = append(requests, res.RequestID)
	}
	for i := range down {
		call(i)
	}
	stopReceiver := startReceiverAt(t, endpoint, traces, logs, metrics)
	for i := range up {
		call(down + i)
	}
	// The outage's invocations (their reports included: the last one's traveled with the first
	// invocation after it) are all delivered, from memory and from the spool, before SHUTDOWN:
	// what the spool still held at SHUTDOWN would wait there for the next environment.
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		by := joinIndex(traces.AllTraces(), logs.AllLogs())
		missing := ""
		for _, r := range requests[:down] {
			if f := by[r]; f == nil || f.invN == 0 || f.handlerN == 0 || f.childN == 0 || len(f.logs) == 0 {
				missing = r
				break
			}
		}
		if missing == "" {
			break
		}
		select {
		case <-poked:
		case <-wctx.Done():
			t.Fatalf("the outage's data never all arrived: %s (and maybe more) is incomplete", missing)
		}
	}
	shutdown(t, sb)
	stopReceiver()

	by := joinIndex(traces.AllTraces(), logs.AllLogs())
	for i, r := range requests {
		if err := by.joined(r, "use1-az4", sb.ID()); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
	}
	points, err := greetingPoints(metrics.AllMetrics(), "use1-az4")
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= down+up; v++ {
		if points[v] != 1 {
			t.Fatalf("hello.greetings = %d arrived %d times, want once (every flush's point exactly once)", v, points[v])
		}
	}
	if len(points) != down+up {
		t.Fatalf("%d distinct hello.greetings points, want %d: %v", len(points), down+up, points)
	}
	out.mu.Lock()
	agentOut := out.b.String()
	out.mu.Unlock()
	c := shutdownCounters(t, agentOut)
	t.Logf("agent counters at shutdown: %v", c)
	if c["dropped"] != 0 || c["spooled"] == 0 || c["replayed"] == 0 || c["otlp_rejected"] != 0 || c["otlp_received"] < 3*(down+up) {
		t.Fatalf("agent counters %v: want spooled and replayed > 0, nothing dropped or rejected, 3 OTLP payloads per invocation", c)
	}
}

var counterRE = regexp.MustCompile(`\b(received|forwarded|spooled|replayed|dropped|otlp_received|otlp_rejected)=(\d+)`)

// shutdownCounters reads the agent's counters from its "shut down" log line.
func shutdownCounters(t *testing.T, out string) map[string]int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `msg="shut down"`) {
			continue
		}
		c := map[string]int{}
		for _, m := range counterRE.FindAllStringSubmatch(line, -1) {
			c[m[1]], _ = strconv.Atoi(m[2])
		}
		return c
	}
	t.Fatalf("no shut down line in the agent's output")
	return nil
}
