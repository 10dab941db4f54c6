// Package aws_test checks the SAM example: the template decodes (CloudFormation's short-form tags
// such as !Ref and !If included), every reference in it resolves, the layers are the ones the
// Makefile builds, and the function gets the layer and the environment the agent really reads.
package aws_test

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/azlens/azlens/extension-agent/config"
)

const templateFile = "template.yaml"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node helpers over yaml.Node: a generic decode into map[string]any would fail on (or silently
// drop) the CloudFormation tags, so the template is walked as nodes and tags are read as they are.

func load(t *testing.T) *yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: want one YAML document holding a mapping", templateFile)
	}
	return doc.Content[0]
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// path follows keys from n.
func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = get(n, k)
	}
	return n
}

// keys returns the keys of mapping n in order.
func keys(n *yaml.Node) []string {
	var out []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// scalars returns the plain values of sequence n (or of n itself when it is a plain scalar).
func scalars(n *yaml.Node) []string {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind == yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				out = append(out, c.Value)
			}
		}
		return out
	}
	return nil
}

// isRef reports whether n is `!Ref name` (short form) or `{Ref: name}`.
func isRef(n *yaml.Node, name string) bool {
	if n == nil {
		return false
	}
	if n.Tag == "!Ref" {
		return n.Value == name
	}
	r := get(n, "Ref")
	return r != nil && r.Value == name
}

// walk calls f on n and every node below it.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

func resourcesOfType(root *yaml.Node, typ string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	res := get(root, "Resources")
	for _, id := range keys(res) {
		r := get(res, id)
		if v := get(r, "Type"); v != nil && v.Value == typ {
			out[id] = r
		}
	}
	return out
}

func TestTemplateDecodes(t *testing.T) {
	root := load(t)
	if v := get(root, "AWSTemplateFormatVersion"); v == nil || v.Value != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %v, want 2010-09-09", v)
	}
	// Without the SAM transform, AWS::Serverless::* types do not exist.
	if !slices.Contains(scalars(get(root, "Transform")), "AWS::Serverless-2016-10-31") {
		t.Error("Transform must include AWS::Serverless-2016-10-31")
	}
	if len(keys(get(root, "Resources"))) == 0 {
		t.Fatal("no Resources")
	}
}

// TestReferencesResolve: every !Ref / Ref names a parameter, a resource or a pseudo parameter;
// every !If names a condition; every !GetAtt names a resource. CloudFormation only reports these at
// deploy time.
func TestReferencesResolve(t *testing.T) {
	root := load(t)
	known := map[string]bool{}
	for _, k := range keys(get(root, "Parameters")) {
		known[k] = true
	}
	resources := map[string]bool{}
	for _, k := range keys(get(root, "Resources")) {
		known[k] = true
		resources[k] = true
	}
	conditions := map[string]bool{}
	for _, k := range keys(get(root, "Conditions")) {
		conditions[k] = true
	}
	pseudo := regexp.MustCompile(`^AWS::(AccountId|NoValue|NotificationARNs|Partition|Region|StackId|StackName|URLSuffix)$`)
	var refs, ifs, atts int
	walk(root, func(n *yaml.Node) {
		switch n.Tag {
		case "!Ref":
			refs++
			if !known[n.Value] && !pseudo.MatchString(n.Value) {
				t.Errorf("line %d: !Ref %s names nothing in the template", n.Line, n.Value)
			}
		case "!If":
			ifs++
			if n.Kind != yaml.SequenceNode || len(n.Content) != 3 {
				t.Errorf("line %d: !If takes [condition, then, else]", n.Line)
			} else if !conditions[n.Content[0].Value] {
				t.Errorf("line %d: !If condition %s is not defined", n.Line, n.Content[0].Value)
			}
		case "!GetAtt":
			atts++
			target, _, _ := strings.Cut(n.Value, ".")
			if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
				target = n.Content[0].Value
			}
			if !resources[target] {
				t.Errorf("line %d: !GetAtt %s names no resource", n.Line, target)
			}
		}
	})
	// The template uses the short forms; finding none would mean the tags were lost in decoding.
	if refs == 0 || ifs == 0 {
		t.Errorf("found %d !Ref and %d !If: CloudFormation tags were not decoded", refs, ifs)
	}
}

// TestLayers: one layer per architecture, from the zips `make layer` writes, each declaring the
// architecture it was built for.
func TestLayers(t *testing.T) {
	root := load(t)
	layers := resourcesOfType(root, "AWS::Serverless::LayerVersion")
	want := map[string]string{ // zip → architecture
		"../../dist/azlens-agent-layer-amd64.zip": "x86_64",
		"../../dist/azlens-agent-layer-arm64.zip": "arm64",
	}
	seen := map[string]bool{}
	for id, l := range layers {
		props := get(l, "Properties")
		zip := get(props, "ContentUri")
		if zip == nil {
			t.Errorf("layer %s has no ContentUri", id)
			continue
		}
		arch, ok := want[zip.Value]
		if !ok {
			t.Errorf("layer %s: ContentUri %q is not one of the layer zips %v", id, zip.Value, slices.Sorted(maps.Keys(want)))
			continue
		}
		seen[zip.Value] = true
		if got := scalars(get(props, "CompatibleArchitectures")); !slices.Equal(got, []string{arch}) {
			t.Errorf("layer %s (%s): CompatibleArchitectures %v, want [%s]", id, zip.Value, got, arch)
		}
		if !slices.Contains(scalars(get(props, "CompatibleRuntimes")), "provided.al2023") {
			t.Errorf("layer %s: CompatibleRuntimes must include provided.al2023", id)
		}
	}
	for zip := range want {
		if !seen[zip] {
			t.Errorf("no layer publishes %s", zip)
		}
	}
}

func theFunction(t *testing.T, root *yaml.Node) (string, *yaml.Node) {
	t.Helper()
	fns := resourcesOfType(root, "AWS::Serverless::Function")
	if len(fns) != 1 {
		t.Fatalf("want exactly one AWS::Serverless::Function, found %d", len(fns))
	}
	for id, f := range fns {
		return id, get(f, "Properties")
	}
	return "", nil
}

// TestFunction: the sample Go function on provided.al2023 with the layer of its architecture.
func TestFunction(t *testing.T) {
	root := load(t)
	id, props := theFunction(t, root)
	if v := get(props, "Runtime"); v == nil || v.Value != "provided.al2023" {
		t.Errorf("%s: Runtime %v, want provided.al2023", id, v)
	}
	// provided.* runtimes run the executable named bootstrap; aws-lambda-go needs that name.
	if v := get(props, "Handler"); v == nil || v.Value != "bootstrap" {
		t.Errorf("%s: Handler %v, want bootstrap", id, v)
	}
	if v := get(props, "CodeUri"); v == nil || !strings.Contains(v.Value, "hello") {
		t.Errorf("%s: CodeUri %v, want the examples/hello bootstrap directory", id, v)
	}

	// Architectures is the Architecture parameter, whose values are exactly the layers' ones, and
	// the attached layer is chosen by the same parameter.
	arch := get(props, "Architectures")
	if arch == nil || arch.Kind != yaml.SequenceNode || len(arch.Content) != 1 || !isRef(arch.Content[0], "Architecture") {
		t.Errorf("%s: Architectures must be [!Ref Architecture]", id)
	}
	if got := scalars(path(root, "Parameters", "Architecture", "AllowedValues")); !slices.Equal(sortedCopy(got), []string{"arm64", "x86_64"}) {
		t.Errorf("Architecture AllowedValues %v, want arm64 and x86_64", got)
	}
	layers := get(props, "Layers")
	if layers == nil || layers.Kind != yaml.SequenceNode || len(layers.Content) != 1 {
		t.Fatalf("%s: want exactly one entry in Layers (the azlens agent)", id)
	}
	// Each layer resource must be reachable from that entry, under a condition on Architecture.
	for layerID, l := range resourcesOfType(root, "AWS::Serverless::LayerVersion") {
		referenced := false
		walk(layers.Content[0], func(n *yaml.Node) { referenced = referenced || isRef(n, layerID) })
		if !referenced {
			t.Errorf("%s: Layers does not reference layer %s", id, layerID)
		}
		archs := scalars(path(l, "Properties", "CompatibleArchitectures"))
		cond := layers.Content[0]
		if cond.Tag != "!If" || len(cond.Content) != 3 {
			t.Fatalf("%s: Layers entry must be !If [IsArm64, arm64 layer, x86_64 layer]", id)
		}
		armBranch := isRef(cond.Content[1], layerID)
		if armBranch != slices.Contains(archs, "arm64") {
			t.Errorf("%s: layer %s (%v) is on the wrong branch of !If %s", id, layerID, archs, cond.Content[0].Value)
		}
	}
	isArm := path(root, "Conditions", "IsArm64")
	if isArm == nil || isArm.Tag != "!Equals" || len(isArm.Content) != 2 ||
		!isRef(isArm.Content[0], "Architecture") || isArm.Content[1].Value != "arm64" {
		t.Error("condition IsArm64 must be !Equals [!Ref Architecture, arm64]")
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestFunctionEnvironment: the function sets AZLENS_COLLECTOR_ENDPOINT from the CollectorEndpoint
// parameter, every AZLENS_* variable it sets is one the agent reads, and values the parameter's
// AllowedPattern admits are ones the agent accepts (and the other way round for the rejects).
func TestFunctionEnvironment(t *testing.T) {
	root := load(t)
	id, props := theFunction(t, root)
	vars := path(props, "Environment", "Variables")
	endpoint := get(vars, "AZLENS_COLLECTOR_ENDPOINT")
	if endpoint == nil {
		t.Fatalf("%s: no AZLENS_COLLECTOR_ENDPOINT in Environment.Variables (have %v)", id, keys(vars))
	}
	if !isRef(endpoint, "CollectorEndpoint") {
		t.Errorf("%s: AZLENS_COLLECTOR_ENDPOINT must be !Ref CollectorEndpoint", id)
	}
	if path(root, "Parameters", "CollectorEndpoint") == nil {
		t.Fatal("no CollectorEndpoint parameter")
	}

	// Every AZLENS_* name set here must be one config.Load asks for: a misspelt name is silently
	// ignored by the agent.
	asked := map[string]bool{}
	if _, err := config.Load(func(k string) string { asked[k] = true; return "" }); err != nil {
		t.Fatalf("agent config with an empty environment: %v", err)
	}
	for _, k := range keys(vars) {
		if strings.HasPrefix(k, "AZLENS_") && !asked[k] {
			t.Errorf("%s: environment variable %s is not read by the agent", id, k)
		}
	}
	if tok := get(vars, "AZLENS_COLLECTOR_TOKEN"); tok != nil && !strings.Contains(nodeText(tok), "CollectorToken") {
		t.Errorf("%s: AZLENS_COLLECTOR_TOKEN must come from the CollectorToken parameter", id)
	}
	if p := path(root, "Parameters", "CollectorToken", "NoEcho"); p == nil || p.Value != "true" {
		t.Error("CollectorToken must be NoEcho")
	}

	pattern := path(root, "Parameters", "CollectorEndpoint", "AllowedPattern")
	if pattern == nil {
		t.Fatal("CollectorEndpoint has no AllowedPattern")
	}
	re, err := regexp.Compile(pattern.Value)
	if err != nil {
		t.Fatalf("AllowedPattern %q: %v", pattern.Value, err)
	}
	// The template's own CollectorInsecure parameter is what lets plain http to a VPC address through.
	if !isRef(get(vars, "AZLENS_COLLECTOR_INSECURE"), "CollectorInsecure") {
		t.Errorf("%s: AZLENS_COLLECTOR_INSECURE must be !Ref CollectorInsecure", id)
	}
	if d := path(root, "Parameters", "CollectorInsecure", "Default"); d == nil || d.Value != "false" {
		t.Error("CollectorInsecure must default to false")
	}
	for _, v := range []string{"https://azlens-collector.example.com", "http://10.0.1.20:4319", "https://c.example.com/azlens"} {
		if !re.MatchString(v) {
			t.Errorf("AllowedPattern rejects %q", v)
		}
		cfg, err := config.Load(envOf(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": v, "AZLENS_COLLECTOR_INSECURE": "true"}))
		if err != nil || cfg.CollectorEndpoint != v {
			t.Errorf("agent with AZLENS_COLLECTOR_ENDPOINT=%q: endpoint %q, %v", v, cfg.CollectorEndpoint, err)
		}
	}
	if _, err := config.Load(envOf(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": "http://10.0.1.20:4319"})); err == nil {
		t.Error("agent accepts plain http to a VPC address although CollectorInsecure defaults to false")
	}
	for _, v := range []string{"azlens-collector.example.com:4319", "ftp://c.example.com", "https://c.example.com/?x=1", "https://"} {
		if re.MatchString(v) {
			t.Errorf("AllowedPattern admits %q", v)
		}
		if _, err := config.Load(envOf(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": v})); err == nil {
			t.Errorf("agent accepts AZLENS_COLLECTOR_ENDPOINT=%q, which the template rejects", v)
		}
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// nodeText flattens a node's scalars, tags aside, for loose "mentions" checks.
func nodeText(n *yaml.Node) string {
	var b strings.Builder
	walk(n, func(c *yaml.Node) {
		if c.Kind == yaml.ScalarNode {
			b.WriteString(c.Value)
			b.WriteByte(' ')
		}
	})
	return b.String()
}
