package lambdatelemetryreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// goldenResource is the resource of every agent batch in the golden cases.
var goldenResource = map[string]any{
	"cloud.provider":          "aws",
	"cloud.platform":          "aws_lambda",
	"cloud.region":            "us-east-1",
	"cloud.account.id":        "123456789012",
	"cloud.availability_zone": "use1-az1",
	"faas.name":               "fn",
	"faas.version":            "$LATEST",
	"faas.instance":           "2026/03/01/[$LATEST]0123456789abcdef",
	"faas.max_memory":         134217728,
	"service.name":            "fn",
}

type goldenStep struct {
	// Seq and Events make an agent batch.
	Seq    int64             `json:"seq"`
	Events []json.RawMessage `json:"events"`
	// TelemetryFile is POSTed to /v1/telemetry as it is.
	TelemetryFile string `json:"telemetry_file"`
	// Sweep advances the clock by this much and runs the timeout sweep.
	Sweep string `json:"sweep"`
}

func agentBody(t testing.TB, seq int64, events []json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"resource": goldenResource,
		"agent": map[string]any{
			"name": "azlens-agent", "version": "0.1.0", "seq": seq,
			"events_received": 10 * seq, "events_forwarded": 10 * seq, "batches_sent": seq,
			"flush_duration_ms_sum": 1.25 * float64(seq), "flush_count": seq,
		},
		"events": events,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden replays each testdata/golden/<case>/input.json through the
// receiver's HTTP endpoints with a fixed clock and compares all traces and
// logs emitted, and the last (cumulative) metrics, with the golden files.
// Run with -update to rewrite them after an intended mapping change.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found %d golden cases, want at least 10", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			runGolden(t, dir)
		})
	}
}

func runGolden(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct{ Steps []goldenStep }
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.ResourceAttributes = map[string]string{"cloud.provider": "aws", "cloud.availability_zone": "use1-az2", "faas.name": "sample-fn", "faas.instance": "sample-env", "service.name": "sample-fn"}
	})
	for i, st := range in.Steps {
		switch {
		case st.Sweep != "":
			d, err := time.ParseDuration(st.Sweep)
			if err != nil {
				t.Fatal(err)
			}
			h.advance(d)
			h.r.sweep(h.clock.Now(), "timeout")
		case st.TelemetryFile != "":
			body, err := os.ReadFile(filepath.Join(dir, st.TelemetryFile))
			if err != nil {
				t.Fatal(err)
			}
			h.advance(time.Second)
			h.mustPost(t, TelemetryPath, body, len(in.Steps) > 0)
		default:
			h.advance(time.Second)
			if code, msg := h.post(t, AgentBatchPath, agentBody(t, st.Seq, st.Events)); code != http.StatusOK {
				t.Fatalf("step %d: status %d: %s", i, code, msg)
			}
		}
	}

	traces := ptrace.NewTraces()
	for _, td := range h.traces.AllTraces() {
		td.ResourceSpans().MoveAndAppendTo(traces.ResourceSpans())
	}
	logs := plog.NewLogs()
	for _, ld := range h.logs.AllLogs() {
		ld.ResourceLogs().MoveAndAppendTo(logs.ResourceLogs())
	}
	metrics := pmetric.NewMetrics()
	if all := h.metrics.AllMetrics(); len(all) > 0 {
		metrics = all[len(all)-1]
	}

	tracesFile := filepath.Join(dir, "traces.yaml")
	logsFile := filepath.Join(dir, "logs.yaml")
	metricsFile := filepath.Join(dir, "metrics.yaml")
	if *update {
		if err := golden.WriteTracesToFile(tracesFile, traces); err != nil {
			t.Fatal(err)
		}
		if err := golden.WriteLogsToFile(logsFile, logs); err != nil {
			t.Fatal(err)
		}
		if err := golden.WriteMetricsToFile(metricsFile, metrics, golden.SkipMetricTimestampNormalization()); err != nil {
			t.Fatal(err)
		}
	}
	wantTraces, err := golden.ReadTraces(tracesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := ptracetest.CompareTraces(wantTraces, traces); err != nil {
		t.Errorf("traces differ from %s: %v", tracesFile, err)
	}
	wantLogs, err := golden.ReadLogs(logsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := plogtest.CompareLogs(wantLogs, logs); err != nil {
		t.Errorf("logs differ from %s: %v", logsFile, err)
	}
	wantMetrics, err := golden.ReadMetrics(metricsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := pmetrictest.CompareMetrics(wantMetrics, metrics); err != nil {
		t.Errorf("metrics differ from %s: %v", metricsFile, err)
	}
}

func (h *harness) mustPost(t *testing.T, path string, body []byte, _ bool) {
	t.Helper()
	if code, msg := h.post(t, path, body); code != http.StatusOK {
		t.Fatalf("POST %s: status %d: %s", path, code, msg)
	}
}

func (h *harness) post(t testing.TB, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+h.r.listenAddr.String()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
