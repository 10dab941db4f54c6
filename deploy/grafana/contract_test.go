package grafana_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.yaml.in/yaml/v3"

	"github.com/azlens/azlens/emulator/canary"
	"github.com/azlens/azlens/extension-agent/forward"
	"github.com/azlens/azlens/processor/azhealthprocessor"
)

const (
	attrZone          = "cloud.availability_zone"
	collectorConfig   = "../collector/config.yaml"
	receiverGoldenDir = "../../receiver/lambdatelemetryreceiver/testdata/golden"
	// agentPrefix is the receiver's documented mapping of the agent's wire counters (its README:
	// every other numeric key k becomes the cumulative Sum azlens.agent.k).
	agentPrefix = "azlens.agent."
)

// namer is the exporter's metric namer as the shipped collector config sets it up;
// TestCollectorExportsWithSuffixes checks that premise.
var namer = otlptranslator.MetricNamer{WithMetricSuffixes: true}

// promNames returns the series names the prometheus exporter makes of m, by the same calls its
// collector makes (prometheusremotewrite.TranslatorMetricFromOtelMetric, then MetricNamer.Build).
func promNames(t *testing.T, m pmetric.Metric) []string {
	t.Helper()
	name, err := namer.Build(prometheusremotewrite.TranslatorMetricFromOtelMetric(m))
	if err != nil {
		t.Fatalf("translating %s: %v", m.Name(), err)
	}
	if m.Type() == pmetric.MetricTypeHistogram {
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	}
	return []string{name}
}

// zone evidence of a metric: whether its series carry cloud_availability_zone.
type zone int8

const (
	zoneUnknown zone = iota // no data points: nothing to judge by (e.g. p_value without a verdict)
	zoneAbsent
	zonePresent
)

// zoned reports whether every series of m carries the zone: from the resource, or from each of
// its data points.
func zoned(res pcommon.Map, m pmetric.Metric) zone {
	if _, ok := res.Get(attrZone); ok {
		return zonePresent
	}
	var attrs []pcommon.Map
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			attrs = append(attrs, dp.Attributes())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			attrs = append(attrs, dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			attrs = append(attrs, dp.Attributes())
		}
	}
	if len(attrs) == 0 {
		return zoneUnknown
	}
	for _, a := range attrs {
		if _, ok := a.Get(attrZone); !ok {
			return zoneAbsent
		}
	}
	return zonePresent
}

// collect adds every metric of md to names (Prometheus name → zone evidence). A name seen both
// with and without the zone is recorded as absent: the dashboard can only filter on what all
// series have.
func collect(t *testing.T, names map[string]zone, md pmetric.Metrics) {
	t.Helper()
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				z := zoned(rm.Resource().Attributes(), m)
				for _, n := range promNames(t, m) {
					names[n] = merge(names[n], z)
				}
			}
		}
	}
}

func merge(a, b zone) zone {
	switch {
	case a == zoneUnknown:
		return b
	case b == zoneUnknown:
		return a
	case a == zoneAbsent || b == zoneAbsent:
		return zoneAbsent
	}
	return zonePresent
}

// agentCounterKeys runs the real agent forwarder against a transport that records the batch and
// answers 200, and returns the numeric keys of the batch's "agent" object — the counters the
// receiver turns into azlens.agent.* sums.
func agentCounterKeys(t *testing.T) []string {
	t.Helper()
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	rt := roundTripper(func(req *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	})
	f := forward.New(forward.Options{Endpoint: "http://collector.invalid", Transport: rt, Version: "test"},
		[]byte(`{"faas.name":"fn","cloud.availability_zone":"use1-az1"}`))
	f.Start()
	ev := []byte(`{"time":"2026-03-01T12:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}}`)
	f.Add([][]byte{ev}, len(ev))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.Flush(ctx); err != nil {
		t.Fatalf("agent flush: %v", err)
	}
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("agent shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 {
		t.Fatal("the agent sent no batch")
	}
	var batch struct {
		Agent map[string]any `json:"agent"`
	}
	if err := json.Unmarshal(bodies[0], &batch); err != nil {
		t.Fatalf("agent batch: %v\n%s", err, bodies[0])
	}
	var keys []string
	for k, v := range batch.Agent {
		// name and version describe the agent; seq identifies the batch (receiver README).
		if _, numeric := v.(float64); numeric && k != "seq" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		t.Fatalf("agent batch has no counters: %s", bodies[0])
	}
	return keys
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// processorOutput feeds inputs to a real azhealth processor ticking every millisecond and returns
// its first batch of verdict metrics (resource service.name=azlens, per the processor's README).
func processorOutput(t *testing.T, inputs ...pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	got := make(chan pmetric.Metrics, 1)
	sink, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		for _, rm := range md.ResourceMetrics().All() {
			if v, ok := rm.Resource().Attributes().Get("service.name"); ok && v.Str() == "azlens" {
				select {
				case got <- md:
				default: // later ticks say the same
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fact := azhealthprocessor.NewFactory()
	cfg := fact.CreateDefaultConfig().(*azhealthprocessor.Config)
	cfg.Tick = time.Millisecond // any output will do; its names and units are what is checked
	p, err := fact.CreateMetrics(t.Context(), processortest.NewNopSettings(fact.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	for _, md := range inputs {
		if err := p.ConsumeMetrics(t.Context(), md); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case md := <-got:
		return md
	case <-ctx.Done():
		t.Fatal("the azhealth processor emitted no verdict metrics within 30 s")
		return pmetric.Metrics{}
	}
}

// TestContractMatchesComponents derives the exported names from the components themselves and
// compares them with the contract table in both directions, so the table (and with it the
// dashboard) cannot drift from what Prometheus will really scrape.
func TestContractMatchesComponents(t *testing.T) {
	derived := map[string]zone{}

	// Receiver: its golden outputs, which its own golden test pins.
	files, err := filepath.Glob(filepath.Join(receiverGoldenDir, "*", "metrics.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no receiver golden metrics under %s (%v)", receiverGoldenDir, err)
	}
	var goldenInputs []pmetric.Metrics
	for _, f := range files {
		md, err := golden.ReadMetrics(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		collect(t, derived, md)
		goldenInputs = append(goldenInputs, md)
	}

	// Agent counters: the golden inputs carry only some, so take the keys the real agent sends
	// and apply the receiver's mapping rule.
	agent := pmetric.NewMetrics()
	rm := agent.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrZone, "use1-az1")
	for _, k := range agentCounterKeys(t) {
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(agentPrefix + k)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	collect(t, derived, agent)

	// Canaries: the runner's own OTLP metrics.
	r, err := canary.New(canary.Config{Endpoint: "http://frontdoor.invalid", Function: "fn",
		Zones: []string{"use1-az1", "use1-az2", "use1-az4"}, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	canaryMD := r.Metrics()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	collect(t, derived, canaryMD)

	// azhealth: a real processor fed the canary and receiver metrics above.
	collect(t, derived, processorOutput(t, append([]pmetric.Metrics{canaryMD}, goldenInputs...)...))

	for _, n := range slices.Sorted(maps.Keys(contract)) {
		z, ok := derived[n]
		switch {
		case !ok:
			t.Errorf("contract lists %s, which no component exports", n)
		case z != zoneUnknown && (z == zonePresent) != contract[n]:
			t.Errorf("%s: contract says zone label %v, components export %v", n, contract[n], z == zonePresent)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(derived)) {
		if _, ok := contract[n]; !ok {
			t.Errorf("components export %s, missing from the contract table", n)
		}
	}
}

// TestCollectorExportsWithSuffixes checks the premise of the namer above against the shipped
// collector config and the exporter's defaults: suffixes on (_total, _seconds, _bytes, _ratio), no
// namespace prefix, UTF-8 escaped to underscores, and resource attributes turned into labels.
func TestCollectorExportsWithSuffixes(t *testing.T) {
	def := prometheusexporter.NewFactory().CreateDefaultConfig().(*prometheusexporter.Config)
	//nolint:staticcheck // the deprecated field still decides the names while translation_strategy is unset
	if !def.AddMetricSuffixes || def.TranslationStrategy != "" || def.Namespace != "" {
		t.Errorf("exporter defaults changed: add_metric_suffixes=%v translation_strategy=%q namespace=%q",
			def.AddMetricSuffixes, def.TranslationStrategy, def.Namespace) //nolint:staticcheck // see above
	}

	raw, err := os.ReadFile(collectorConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Exporters map[string]map[string]any `yaml:"exporters"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", collectorConfig, err)
	}
	prom, ok := cfg.Exporters["prometheus"]
	if !ok {
		t.Fatalf("%s has no prometheus exporter", collectorConfig)
	}
	for _, k := range []string{"namespace", "add_metric_suffixes"} {
		if v, set := prom[k]; set {
			t.Errorf("%s: prometheus.%s = %v changes every metric name the dashboard uses", collectorConfig, k, v)
		}
	}
	if v, set := prom["translation_strategy"]; set && v != "UnderscoreEscapingWithSuffixes" {
		t.Errorf("%s: prometheus.translation_strategy = %v changes every metric name the dashboard uses", collectorConfig, v)
	}
	// Every resource attribute must become a label: the dashboard filters on faas_name and
	// cloud_availability_zone, and faas_instance keeps each environment's cumulative series apart.
	labels, _ := prom["resource_constant_labels"].(map[string]any)
	included, _ := labels["included"].([]any)
	if len(included) != 1 || included[0] != "*" {
		t.Errorf("%s: prometheus.resource_constant_labels.included must be [\"*\"], got %v", collectorConfig, labels)
	}
}
