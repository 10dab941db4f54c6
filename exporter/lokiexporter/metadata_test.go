package lokiexporter

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
	"github.com/azlens/azlens/internal/componentmeta"
)

// TestMetadataYAML holds mdatagen's output (internal/metadata, documentation.md) and the
// self-metric the code names against metadata.yaml.
func TestMetadataYAML(t *testing.T) {
	componentmeta.Check(t, componentmeta.Want{
		Type:        metadata.Type,
		Class:       "exporter",
		Stability:   map[string]component.StabilityLevel{"logs": metadata.LogsStability},
		SelfMetrics: []string{rejectedMetric},
	})
}
