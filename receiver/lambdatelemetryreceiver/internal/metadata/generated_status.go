// Package metadata holds the component type and stability of the
// lambdatelemetry receiver, as metadata.yaml declares them. It is written in
// the shape mdatagen generates; a test in the repository root checks it
// against metadata.yaml.
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the component type used in collector configuration.
	Type = component.MustNewType("lambdatelemetry")
	// ScopeName is the instrumentation scope of the receiver's output and self-telemetry.
	ScopeName = "github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
)

// Stability of each signal.
const (
	TracesStability  = component.StabilityLevelAlpha
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
