package azhealthprocessor

import (
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/azlens/azlens/internal/componentmeta"
	"github.com/azlens/azlens/processor/azhealthprocessor/internal/metadata"
)

// TestMetadataYAML holds mdatagen's output (internal/metadata) against metadata.yaml.
func TestMetadataYAML(t *testing.T) {
	componentmeta.Check(t, componentmeta.Want{
		Type:      metadata.Type,
		Class:     "processor",
		Stability: map[string]component.StabilityLevel{"metrics": metadata.MetricsStability},
	})
}
