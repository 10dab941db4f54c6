package lambdatelemetryreceiver

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/azlens/azlens/internal/componentmeta"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// TestMetadataYAML holds mdatagen's output (internal/metadata, documentation.md) against
// metadata.yaml.
func TestMetadataYAML(t *testing.T) {
	componentmeta.Check(t, componentmeta.Want{
		Type:  metadata.Type,
		Class: "receiver",
		Stability: map[string]component.StabilityLevel{
			"traces": metadata.TracesStability, "logs": metadata.LogsStability, "metrics": metadata.MetricsStability,
		},
		SelfMetrics: []string{
			"otelcol_lambdatelemetryreceiver_dropped_items", "otelcol_lambdatelemetryreceiver_duplicate_batches",
			"otelcol_lambdatelemetryreceiver_environments_forgotten", "otelcol_lambdatelemetryreceiver_incomplete",
			"otelcol_lambdatelemetryreceiver_rejected_requests",
		},
	})
}
