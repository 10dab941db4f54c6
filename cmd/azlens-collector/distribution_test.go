package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.yaml.in/yaml/v3"
)

const modulePath = "github.com/azlens/azlens"

type inventory struct {
	Components []struct {
		Type      string   `yaml:"type"`
		Class     string   `yaml:"class"`
		Package   string   `yaml:"package"`
		Signals   []string `yaml:"signals"`
		Stability string   `yaml:"stability"`
	} `yaml:"components"`
}

type metadataFile struct {
	Type   string `yaml:"type"`
	Status struct {
		Class     string              `yaml:"class"`
		Stability map[string][]string `yaml:"stability"`
	} `yaml:"status"`
}

type builderModule struct {
	GoMod  string `yaml:"gomod"`
	Import string `yaml:"import"`
}

type builderConfig struct {
	Receivers  []builderModule `yaml:"receivers"`
	Processors []builderModule `yaml:"processors"`
	Exporters  []builderModule `yaml:"exporters"`
	Extensions []builderModule `yaml:"extensions"`
	Connectors []builderModule `yaml:"connectors"`
}

func (m builderModule) importPath() string {
	if m.Import != "" {
		return m.Import
	}
	return strings.Fields(m.GoMod)[0]
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDistributionInSync fails when components.yaml, builder-config.yaml,
// the generated components.go and our components' metadata.yaml disagree.
// Fix by editing components.yaml / builder-config.yaml and running
// `make collector` (cmd/azlens-collector/generate.sh).
func TestDistributionInSync(t *testing.T) {
	root := filepath.Join("..", "..")
	var inv inventory
	readYAML(t, filepath.Join(root, "components.yaml"), &inv)
	var bc builderConfig
	readYAML(t, filepath.Join(root, "builder-config.yaml"), &bc)
	generated, err := os.ReadFile("components.go")
	if err != nil {
		t.Fatal(err)
	}
	factories, err := components()
	if err != nil {
		t.Fatal(err)
	}

	classes := map[string][]builderModule{
		"receiver": bc.Receivers, "processor": bc.Processors, "exporter": bc.Exporters,
		"extension": bc.Extensions, "connector": bc.Connectors,
	}

	// 1. Every inventory entry matches its metadata.yaml and is in the builder config and the generated code.
	ours := map[string]bool{}
	for _, c := range inv.Components {
		ours[c.Package] = true
		rel, ok := strings.CutPrefix(c.Package, modulePath+"/")
		if !ok {
			t.Errorf("components.yaml: %s is not a package of %s", c.Package, modulePath)
			continue
		}
		var md metadataFile
		readYAML(t, filepath.Join(root, filepath.FromSlash(rel), "metadata.yaml"), &md)
		if md.Type != c.Type || md.Status.Class != c.Class {
			t.Errorf("%s: components.yaml says %s %s, metadata.yaml says %s %s", c.Package, c.Class, c.Type, md.Status.Class, md.Type)
		}
		var mdSignals []string
		for level, sigs := range md.Status.Stability {
			for _, s := range sigs {
				mdSignals = append(mdSignals, s)
				if level != c.Stability {
					t.Errorf("%s: %s stability is %s in metadata.yaml, %s in components.yaml", c.Package, s, level, c.Stability)
				}
			}
		}
		sort.Strings(mdSignals)
		want := slices.Clone(c.Signals)
		sort.Strings(want)
		if !slices.Equal(mdSignals, want) {
			t.Errorf("%s: signals %v in components.yaml, %v in metadata.yaml", c.Package, want, mdSignals)
		}
		if !slices.ContainsFunc(classes[c.Class], func(m builderModule) bool { return m.importPath() == c.Package }) {
			t.Errorf("%s: not among the %ss of builder-config.yaml", c.Package, c.Class)
		}
		typ := component.MustNewType(c.Type)
		var registered bool
		switch c.Class {
		case "receiver":
			_, registered = factories.Receivers[typ]
		case "processor":
			_, registered = factories.Processors[typ]
		case "exporter":
			_, registered = factories.Exporters[typ]
		case "extension":
			_, registered = factories.Extensions[typ]
		case "connector":
			_, registered = factories.Connectors[typ]
		}
		if !registered {
			t.Errorf("%s: type %q is not registered by the generated components.go; run make collector", c.Package, c.Type)
		}
	}

	// 2. Every module of the builder config is in the generated code and, if ours, in the inventory.
	for class, mods := range classes {
		for _, m := range mods {
			if !strings.Contains(string(generated), `"`+m.importPath()+`"`) {
				t.Errorf("%s %s is in builder-config.yaml but not in components.go; run make collector", class, m.importPath())
			}
			if strings.HasPrefix(m.importPath(), modulePath+"/") && !ours[m.importPath()] {
				t.Errorf("%s %s is in builder-config.yaml but not in components.yaml", class, m.importPath())
			}
		}
	}

	// 3. Every component import of the generated code is in the builder config.
	imports := regexp.MustCompile(`(?m)^\s+\w+ "([^"]+)"$`).FindAllStringSubmatch(string(generated), -1)
	for _, im := range imports {
		path := im[1]
		if strings.Contains(path, "otelconftelemetry") {
			continue // the builder's telemetry factory, not a component
		}
		found := false
		for _, mods := range classes {
			found = found || slices.ContainsFunc(mods, func(m builderModule) bool { return m.importPath() == path })
		}
		if !found {
			t.Errorf("components.go imports %s, which builder-config.yaml does not list; run make collector", path)
		}
	}
}
