package backends

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
)

// TestDeployConfigAgainstBackends runs the shipped deploy/collector/config.yaml with every address
// set through its documented environment variables — Jaeger's OTLP port, VictoriaLogs' /insert base
// URL, the Prometheus exporter and the collector's own telemetry — and checks the collector's own
// metrics answer on the chosen address and show both exporters started against the real backends.
func TestDeployConfigAgainstBackends(t *testing.T) {
	j := startJaeger(t)
	vl := startVictoriaLogs(t)
	telemetry := freeport.Port(t)
	c := startChild(t, "azlens-collector", collectorPath, []string{
		"AZLENS_RECEIVER_ENDPOINT=" + freeport.Addr(t),
		"AZLENS_JAEGER_OTLP_ENDPOINT=" + j.otlp,
		"AZLENS_LOKI_ENDPOINT=" + vl.base + "/insert",
		"AZLENS_PROMETHEUS_ENDPOINT=" + freeport.Addr(t),
		"AZLENS_COLLECTOR_TELEMETRY_HOST=127.0.0.1",
		fmt.Sprintf("AZLENS_COLLECTOR_TELEMETRY_PORT=%d", telemetry),
	}, "--config", filepath.Join(repoRoot, "deploy", "collector", "config.yaml"))
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetry)
	waitFor(t, 2*time.Minute, "the collector's own metrics on the configured address", func() (bool, string) {
		if done, how := c.exited(); done {
			t.Fatalf("%s\n%s", how, tail(c.log, 40))
		}
		code, body := get(url)
		ok := code == http.StatusOK &&
			strings.Contains(string(body), "otelcol_process_uptime") &&
			strings.Contains(string(body), `exporter="loki"`) &&
			strings.Contains(string(body), `exporter="otlp_grpc"`)
		return ok, fmt.Sprintf("GET %s → %d (%d bytes)", url, code, len(body))
	})
	if strings.Contains(tail(c.log, 200), "looks wrong") {
		t.Errorf("the loki exporter reports a wrong push URL:\n%s", tail(c.log, 40))
	}
}
