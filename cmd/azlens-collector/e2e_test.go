package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/collectorconf"
	"github.com/azlens/azlens/internal/e2etest"
	"github.com/azlens/azlens/internal/freeport"
)

// TestEndToEnd runs the real azlens-collector binary: agent batches go in
// over HTTP, spans come out over OTLP/gRPC to an in-test OTLP receiver (the
// collector's own otlpreceiver with consumertest sinks), and the Prometheus
// exporter's /metrics shows the per-AZ series.
//
// Later stages plug in here: a real Prometheus server scraping promAddr,
// and the emulator + azlens-agent posting instead of postBatch.
func TestEndToEnd(t *testing.T) {
	// Bounds only a hang: every wait below is on the thing itself (the collector's ready line,
	// the sink's next batch, the exporter's registry).
	ctx, cancel := context.WithTimeout(context.Background(), e2etest.WaitLimit)
	defer cancel()

	bin := collectorBinary(t)
	sink := e2etest.OTLPSink(t)
	receiverAddr, promAddr := freeport.Addr(t), freeport.Addr(t)

	cfg, err := collectorconf.Config{
		Telemetry:    receiverAddr,
		BatchTimeout: 100 * time.Millisecond,
		Exporters:    collectorconf.Exporters{OTLPGRPC: sink.Addr, Prometheus: promAddr},
		Traces:       []string{collectorconf.OTLPExporter},
		Metrics:      []string{collectorconf.PrometheusExporter, collectorconf.OTLPExporter},
	}.YAML()
	if err != nil {
		t.Fatal(err)
	}
	proc := e2etest.StartCollector(t, bin, cfg)

	events, err := os.ReadFile(filepath.Join("..", "..", "internal", "telemetryevent", "testdata", "aws-samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"resource":{"cloud.provider":"aws","cloud.platform":"aws_lambda","cloud.region":"us-east-1",
	"cloud.availability_zone":"use1-az1","faas.name":"e2e-fn","faas.instance":"env-e2e","faas.max_memory":134217728,"service.name":"e2e-fn"},
	"agent":{"name":"azlens-agent","version":"0.1.0","seq":1,"events_received":6},"events":%s}`, events)
	postBatch(ctx, t, "http://"+receiverAddr+"/v1/agent/batch", body)

	// Spans: invocation + 2 runtimeDone spans + extensionOverhead + init.
	sink.Wait(t, "5 spans", func() (bool, string) {
		return sink.SpanCount() >= 5, fmt.Sprintf("%d spans", sink.SpanCount())
	})
	td := sink.Traces.AllTraces()
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
	sink.Wait(t, "metrics", func() (bool, string) {
		n := sink.Metrics.DataPointCount()
		return n > 0, fmt.Sprintf("%d data points", n)
	})
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
	proc.Stop(t)
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

// collectorBinary is the distribution TestMain built from this package (the same code `make
// collector` builds), or AZLENS_COLLECTOR_BIN when set.
func collectorBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("AZLENS_COLLECTOR_BIN"); bin != "" {
		return bin
	}
	return builtCollector
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
