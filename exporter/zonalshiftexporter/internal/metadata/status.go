// Package metadata holds the component's identity, the values mdatagen would
// generate from ../../metadata.yaml (a test keeps the two in sync).
package metadata // import "github.com/azlens/azlens/exporter/zonalshiftexporter/internal/metadata"

import "go.opentelemetry.io/collector/component"

var (
	// Type is the exporter's type in collector configuration.
	Type = component.MustNewType("zonalshift")
	// ScopeName names the meter this exporter records its own metrics with.
	ScopeName = "github.com/azlens/azlens/exporter/zonalshiftexporter"
)

// MetricsStability is the stability of the metrics signal.
const MetricsStability = component.StabilityLevelAlpha
