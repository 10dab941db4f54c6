package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// e2eTimeout bounds every wait of the end-to-end test; the test waits on
// events (log lines, sink notifications), never a fixed sleep.
const e2eTimeout = 2 * time.Minute

// TestEndToEnd runs the real azlens-collector binary: agent batches go in
// over HTTP, spans come out over OTLP/gRPC to an in-test OTLP receiver (the
// collector's own otlpreceiver with consumertest sinks), and the Prometheus
// exporter's /metrics shows the per-AZ series.
//
// Later stages plug in here: a real Prometheus server scraping promAddr,
// and the emulator + azlens-agent posting instead of postBatch.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	bin := collectorBinary(t)
	sink := startOTLPSink(t)
	receiverAddr, promAddr := freeAddr(t), freeAddr(t)

	cfg := fmt.Sprintf(`
receivers:
  lambdatelemetry:
    endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
  prometheus:
    endpoint: %s
    resource_constant_labels:
      included: ["*"]
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [lambdatelemetry]
      processors: [batch]
      exporters: [otlp_grpc]
    metrics:
      receivers: [lambdatelemetry]
      processors: [batch]
      exporters: [prometheus, otlp_grpc]
`, receiverAddr, sink.addr, promAddr)
	proc := startCollector(ctx, t, bin, cfg)

	events, err := os.ReadFile(filepath.Join("..", "..", "internal", "telemetryevent", "testdata", "aws-samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"resource":{"cloud.provider":"aws","cloud.platform":"aws_lambda","cloud.region":"us-east-1",
	"cloud.availability_zone":"use1-az1","faas.name":"e2e-fn","faas.instance":"env-e2e","faas.max_memory":134217728,"service.name":"e2e-fn"},
	"agent":{"name":"azlens-agent","version":"0.1.0","seq":1,"events_received":6},"events":%s}`, events)
	postBatch(ctx, t, "http://"+receiverAddr+"/v1/agent/batch", body)

	// Spans: invocation + 2 runtimeDone spans + extensionOverhead + init.
	td := sink.waitTraces(ctx, t, 5)
	var names []string
	for _, d := range td {
		rss := d.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			if az, _ := rss.At(i).Resource().Attributes().Get("cloud.availability_zone"); az.Str() != "use1-az1" {
				t.Errorf("span resource cloud.availability_zone = %q", az.Str())
			}
			spans := rss.At(i).ScopeSpans().At(0).Spans()
			for j := 0; j < spans.Len(); j++ {
				names = append(names, spans.At(j).Name())
			}
		}
	}
	for _, want := range []string{"e2e-fn", "init", "responseLatency", "responseDuration", "extensionOverhead"} {
		if !strings.Contains(strings.Join(names, ","), want) {
			t.Errorf("span %q not received; got %v", want, names)
		}
	}

	// Metrics reached the OTLP sink through the same pipeline as the
	// Prometheus exporter; scrape until the exporter shows them too.
	sink.waitMetrics(ctx, t)
	exposition := scrapeUntil(ctx, t, "http://"+promAddr+"/metrics", `faas_invocations_total{`)
	for _, want := range []string{
		`faas_invocations_total{`,
		`cloud_availability_zone="use1-az1"`,
		`faas_name="e2e-fn"`,
		`outcome="success"`,
		`faas_invoke_duration_seconds_bucket{`,
		`faas_errors_total{`,
		`faas_timeouts_total{`,
		`faas_coldstarts_total{`,
		`faas_init_duration_seconds_bucket{`,
		`faas_mem_usage_bytes_bucket{`,
		`aws_lambda_billed_duration_seconds_bucket{`,
		`aws_lambda_response_latency_seconds_bucket{`,
		`aws_lambda_extension_overhead_seconds_bucket{`,
		`aws_lambda_produced_bytes_total{`,
		`aws_lambda_telemetry_dropped_records_total{`,
		`azlens_agent_events_received_total{`,
	} {
		if !strings.Contains(exposition, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "faas_invocations_total{") && strings.Contains(line, `outcome="success"`) {
			t.Logf("scraped: %s", line)
			if !strings.HasSuffix(line, " 1") {
				t.Errorf("want 1 successful invocation: %s", line)
			}
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("metric families exposed:\n%s", families(exposition))
	}
	proc.stop(t)
}

// TestDeployConfigValid: the shipped deploy/collector/config.yaml is
// accepted by the real binary (every component exists, every config validates).
func TestDeployConfigValid(t *testing.T) {
	bin := collectorBinary(t)
	out, err := exec.Command(bin, "validate", "--config", filepath.Join("..", "..", "deploy", "collector", "config.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("validate deploy/collector/config.yaml: %v\n%s", err, out)
	}
}

// collectorBinary builds the distribution from this package once per test
// run (the same code `make collector` builds), or uses AZLENS_COLLECTOR_BIN
// when set.
func collectorBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("AZLENS_COLLECTOR_BIN"); bin != "" {
		return bin
	}
	build.once.Do(func() {
		build.path = filepath.Join(testDir, "azlens-collector")
		cmd := exec.Command("go", "build", "-o", build.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("build collector: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

var build struct {
	once sync.Once
	path string
	err  error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// otlpSink is an in-process OTLP/gRPC receiver (upstream otlpreceiver) that
// signals a channel whenever it receives something.
type otlpSink struct {
	addr    string
	traces  *consumertest.TracesSink
	metrics *consumertest.MetricsSink
	got     chan struct{}
}

type notifyingTraces struct {
	*consumertest.TracesSink
	got chan struct{}
}

func (n notifyingTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	err := n.TracesSink.ConsumeTraces(ctx, td)
	select {
	case n.got <- struct{}{}:
	default:
	}
	return err
}

type notifyingMetrics struct {
	*consumertest.MetricsSink
	got chan struct{}
}

func (n notifyingMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	err := n.MetricsSink.ConsumeMetrics(ctx, md)
	select {
	case n.got <- struct{}{}:
	default:
	}
	return err
}

func startOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{addr: freeAddr(t), traces: new(consumertest.TracesSink), metrics: new(consumertest.MetricsSink), got: make(chan struct{}, 1)}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{
		"protocols": map[string]any{"grpc": map[string]any{"endpoint": s.addr}},
	}).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	set := receivertest.NewNopSettings(f.Type())
	tr, err := f.CreateTraces(context.Background(), set, cfg, notifyingTraces{s.traces, s.got})
	if err != nil {
		t.Fatal(err)
	}
	var mr receiver.Metrics
	if mr, err = f.CreateMetrics(context.Background(), set, cfg, notifyingMetrics{s.metrics, s.got}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := mr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tr.Shutdown(context.Background())
		_ = mr.Shutdown(context.Background())
	})
	return s
}

func (s *otlpSink) waitTraces(ctx context.Context, t *testing.T, spans int) []ptrace.Traces {
	t.Helper()
	for s.traces.SpanCount() < spans {
		select {
		case <-s.got:
		case <-ctx.Done():
			t.Fatalf("got %d spans, want %d: %v", s.traces.SpanCount(), spans, ctx.Err())
		}
	}
	return s.traces.AllTraces()
}

func (s *otlpSink) waitMetrics(ctx context.Context, t *testing.T) {
	t.Helper()
	for s.metrics.DataPointCount() == 0 {
		select {
		case <-s.got:
		case <-ctx.Done():
			t.Fatalf("no metrics received: %v", ctx.Err())
		}
	}
}

type collectorProcess struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	log    bytes.Buffer
}

// startCollector runs the binary and returns once it logs that it is ready.
func startCollector(ctx context.Context, t *testing.T, bin, config string) *collectorProcess {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &collectorProcess{cmd: exec.Command(bin, "--config", cfgPath), exited: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "Everything is ready") {
				once.Do(func() { close(ready) })
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("collector log:\n%s", p.log.String())
			p.mu.Unlock()
		}
	})
	select {
	case <-ready:
	case err := <-p.exited:
		p.exited <- err
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("collector exited before ready: %v\n%s", err, p.log.String())
	case <-ctx.Done():
		t.Fatalf("collector not ready: %v", ctx.Err())
	}
	return p
}

// stop sends SIGTERM and requires a clean exit.
func (p *collectorProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("collector exit: %v", err)
		}
	case <-time.After(e2eTimeout):
		t.Fatal("collector did not stop on SIGTERM")
	}
}

func postBatch(ctx context.Context, t *testing.T, url, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "azlens-agent/e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ok struct{ Accepted int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &ok) != nil || ok.Accepted == 0 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

// scrapeUntil scrapes until the exposition contains want: the exporter
// updates its registry asynchronously from the metrics reaching the sink.
func scrapeUntil(ctx context.Context, t *testing.T, url, want string) string {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return string(b)
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s never showed %s", url, want)
		}
	}
}

func families(exposition string) string {
	var out []string
	for _, line := range strings.Split(exposition, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			out = append(out, name)
		}
	}
	return strings.Join(out, "\n")
}
