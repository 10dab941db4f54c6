package lokiexporter

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
)

// TestMetadataYAML keeps internal/metadata, written by hand in place of
// mdatagen's output, in step with metadata.yaml.
func TestMetadataYAML(t *testing.T) {
	raw, err := os.ReadFile("metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Type   string `yaml:"type"`
		Status struct {
			Class     string              `yaml:"class"`
			Stability map[string][]string `yaml:"stability"`
		} `yaml:"status"`
	}
	if err := yaml.Unmarshal(raw, &md); err != nil {
		t.Fatalf("metadata.yaml: %v", err)
	}
	if md.Type != metadata.Type.String() {
		t.Errorf("metadata.yaml type %q, code %q", md.Type, metadata.Type)
	}
	if md.Status.Class != "exporter" {
		t.Errorf("metadata.yaml class %q, want exporter", md.Status.Class)
	}
	want := map[string][]string{"alpha": {"logs"}}
	if len(md.Status.Stability) != 1 || len(md.Status.Stability["alpha"]) != 1 || md.Status.Stability["alpha"][0] != "logs" {
		t.Errorf("metadata.yaml stability %v, want %v", md.Status.Stability, want)
	}
	if metadata.LogsStability.String() != "Alpha" {
		t.Errorf("code logs stability %v, want Alpha", metadata.LogsStability)
	}
}
