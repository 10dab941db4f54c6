package collectorconf

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type parsed struct {
	Receivers  map[string]any
	Processors map[string]map[string]any
	Exporters  map[string]map[string]any
	Service    struct {
		Telemetry map[string]map[string]any
		Pipelines map[string]struct{ Receivers, Processors, Exporters []string }
	}
}

func render(t *testing.T, c Config) parsed {
	t.Helper()
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var p parsed
	if err := yaml.Unmarshal([]byte(y), &p); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, y)
	}
	// Every component a pipeline names is defined, and every exporter defined is used (or debug).
	used := map[string]bool{}
	for name, pl := range p.Service.Pipelines {
		for _, r := range pl.Receivers {
			if _, ok := p.Receivers[r]; !ok {
				t.Errorf("pipeline %s: receiver %s undefined\n%s", name, r, y)
			}
		}
		for _, r := range pl.Processors {
			if _, ok := p.Processors[r]; !ok {
				t.Errorf("pipeline %s: processor %s undefined\n%s", name, r, y)
			}
		}
		for _, e := range pl.Exporters {
			if _, ok := p.Exporters[e]; !ok {
				t.Errorf("pipeline %s: exporter %s undefined\n%s", name, e, y)
			}
			used[e] = true
		}
	}
	for e := range p.Exporters {
		if !used[e] && e != DebugExporter {
			t.Errorf("exporter %s defined but unused\n%s", e, y)
		}
	}
	return p
}

// The loop's shape: canaries in through otlp, the detector with its timings, decisions out to
// zonal shift, traces to a backend and the console, metrics to Prometheus.
func TestLoopShape(t *testing.T) {
	p := render(t, Config{
		Telemetry:    "127.0.0.1:4319",
		OTLP:         "127.0.0.1:4318",
		BatchTimeout: 200 * time.Millisecond,
		AZHealth: &AZHealth{Tick: time.Second, ShortWindow: 6 * time.Second, LongWindow: 30 * time.Second,
			ZoneChangeCooldown: 20 * time.Second, MinEvacuation: 10 * time.Second, FailbackStageDuration: 2 * time.Second},
		Exporters: Exporters{OTLPGRPC: "127.0.0.1:4317", Prometheus: "127.0.0.1:8889", Console: "http://127.0.0.1:1/otlp",
			ZonalShift: &ZonalShift{Endpoint: "http://127.0.0.1:2", Lease: time.Minute, Resource: map[string]string{"hello": "arn:aws:lambda:us-east-1:1:function:hello"}}},
		Traces:   []string{OTLPExporter, ConsoleExporter},
		Logs:     []string{DebugExporter},
		Metrics:  []string{PrometheusExporter, ZonalShiftExporter},
		LogLevel: "warn",
	})
	m := p.Service.Pipelines["metrics"]
	if strings.Join(m.Receivers, ",") != "lambdatelemetry,otlp" || strings.Join(m.Processors, ",") != "azhealth" {
		t.Errorf("metrics pipeline %+v: want canaries (otlp) in and azhealth alone", m)
	}
	az := p.Processors["azhealth"]
	if az["tick"] != "1s" || az["short_window"] != "6s" || az["long_window"] != "30s" ||
		az["guards"].(map[string]any)["zone_change_cooldown"] != "20s" ||
		az["recovery"].(map[string]any)["min_evacuation"] != "10s" || az["recovery"].(map[string]any)["failback_stage_duration"] != "2s" {
		t.Errorf("azhealth settings %v", az)
	}
	zs := p.Exporters["zonalshift"]
	if zs["lease"] != "1m0s" || zs["resource_identifiers"].(map[string]any)["hello"] != "arn:aws:lambda:us-east-1:1:function:hello" {
		t.Errorf("zonalshift settings %v", zs)
	}
	if p.Exporters["otlphttp/console"]["retry_on_failure"].(map[string]any)["enabled"] != false {
		t.Errorf("the console exporter retries: %v", p.Exporters["otlphttp/console"])
	}
	if p.Service.Telemetry["logs"]["level"] != "warn" || p.Service.Telemetry["metrics"]["level"] != "none" {
		t.Errorf("service telemetry %v", p.Service.Telemetry)
	}
	if got := p.Service.Pipelines["traces"].Processors; strings.Join(got, ",") != "batch" {
		t.Errorf("traces processors %v, want [batch]", got)
	}
}

// The tests' shape: no detector, metrics batched, the collector's log left at info (the
// "Everything is ready" line StartCollector waits for), no otlp receiver.
func TestTestShape(t *testing.T) {
	p := render(t, Config{
		Telemetry:    "127.0.0.1:4319",
		BatchTimeout: 100 * time.Millisecond,
		Exporters:    Exporters{OTLPGRPC: "127.0.0.1:4317", Prometheus: "127.0.0.1:8889"},
		Traces:       []string{OTLPExporter},
		Metrics:      []string{PrometheusExporter, OTLPExporter},
	})
	if _, ok := p.Service.Pipelines["logs"]; ok {
		t.Error("a logs pipeline without exporters was written")
	}
	if _, ok := p.Receivers["otlp"]; ok {
		t.Error("otlp receiver written without OTLP")
	}
	if _, ok := p.Service.Telemetry["logs"]; ok {
		t.Error("service.telemetry.logs written without LogLevel: the ready line would depend on a default")
	}
	if got := p.Service.Pipelines["metrics"]; strings.Join(got.Processors, ",") != "batch" || strings.Join(got.Exporters, ",") != "prometheus,otlp_grpc" {
		t.Errorf("metrics pipeline %+v", got)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Traces: []string{DebugExporter}}, "Telemetry"},
		{Config{Telemetry: "x:1"}, "no pipeline"},
		{Config{Telemetry: "x:1", Logs: []string{LokiExporter}}, `logs pipeline names exporter "loki"`},
		{Config{Telemetry: "x:1", Metrics: []string{ZonalShiftExporter}, Exporters: Exporters{ZonalShift: &ZonalShift{}}}, `"zonalshift"`},
		{Config{Telemetry: "x:1", Traces: []string{"otlp"}}, `"otlp"`},
	} {
		_, err := tc.c.YAML()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("YAML() error %v, want one naming %s", err, tc.want)
		}
	}
}
