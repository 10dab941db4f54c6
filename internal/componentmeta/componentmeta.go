// Package componentmeta lets each component's TestMetadataYAML hold what mdatagen generated
// (internal/metadata, documentation.md) against the metadata.yaml it was generated from, so a
// metadata.yaml edited without `make generate` fails the component's own tests. Only tests
// import it.
package componentmeta

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.yaml.in/yaml/v3"
)

// Metadata is the part of metadata.yaml the collector's code depends on.
type Metadata struct {
	Type   string `yaml:"type"`
	Status struct {
		Class     string              `yaml:"class"`
		Stability map[string][]string `yaml:"stability"`
	} `yaml:"status"`
	Telemetry struct {
		Metrics map[string]struct {
			Description string `yaml:"description"`
			Unit        string `yaml:"unit"`
		} `yaml:"metrics"`
	} `yaml:"telemetry"`
}

// Want is what the generated code of a component says.
type Want struct {
	Type  component.Type
	Class string
	// Stability per signal (traces, logs, metrics), from internal/metadata's constants.
	Stability map[string]component.StabilityLevel
	// SelfMetrics are the names the component's code uses for its own metrics (as exported:
	// otelcol_…); each must be declared under telemetry.metrics.
	SelfMetrics []string
}

// Check compares metadata.yaml, documentation.md and the generated telemetry of the package in
// the current directory with want.
func Check(t *testing.T, want Want) {
	t.Helper()
	raw, err := os.ReadFile("metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var md Metadata
	if err := yaml.Unmarshal(raw, &md); err != nil {
		t.Fatalf("metadata.yaml: %v", err)
	}
	if md.Type != want.Type.String() {
		t.Errorf("metadata.yaml type %q, generated %q", md.Type, want.Type)
	}
	if md.Status.Class != want.Class {
		t.Errorf("metadata.yaml class %q, want %q", md.Status.Class, want.Class)
	}
	declared := 0
	for level, signals := range md.Status.Stability {
		declared += len(signals)
		for _, s := range signals {
			got, ok := want.Stability[s]
			if !ok {
				t.Errorf("metadata.yaml declares %s %s, the generated code has no such signal", level, s)
			} else if !strings.EqualFold(got.String(), level) {
				t.Errorf("signal %s: metadata.yaml %s, generated %s", s, level, got)
			}
		}
	}
	if declared != len(want.Stability) {
		t.Errorf("metadata.yaml declares %d signals, the generated code %d", declared, len(want.Stability))
	}

	doc, _ := os.ReadFile("documentation.md")
	gen, _ := os.ReadFile("internal/metadata/generated_telemetry.go")
	var names []string
	for key, m := range md.Telemetry.Metrics {
		name := "otelcol_" + key
		names = append(names, name)
		if !strings.Contains(string(gen), `"`+name+`"`) {
			t.Errorf("telemetry metric %s: not in internal/metadata/generated_telemetry.go (run make generate)", name)
		}
		if !strings.Contains(string(doc), "### "+name+"\n") || !strings.Contains(string(doc), m.Description) {
			t.Errorf("telemetry metric %s: documentation.md does not describe it as metadata.yaml does (run make generate)", name)
		}
	}
	for _, name := range want.SelfMetrics {
		if !slices.Contains(names, name) {
			t.Errorf("self-metric %s used by the code is not declared in metadata.yaml (have %v)", name, names)
		}
	}
	if len(names) != len(want.SelfMetrics) {
		t.Errorf("metadata.yaml declares self-metrics %v, the code uses %v", names, want.SelfMetrics)
	}
}
