// Package collectorconf writes the azlens-collector configurations azlens runs itself: the
// pipeline of `azlens up` and the ones the end-to-end tests start come from one template, so each
// component's settings are spelled in one place. (deploy/collector/config.yaml, the annotated
// file users copy, is written for people and stays separate.) Configurations that exist to test
// one unusual shape — the testbed's bare receivers, the soak's persistent storage — keep their own.
package collectorconf

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Exporter names, as a pipeline lists them.
const (
	DebugExporter      = "debug"            // always defined: the collector log (verbosity basic)
	OTLPExporter       = "otlp_grpc"        // Exporters.OTLPGRPC
	LokiExporter       = "loki"             // Exporters.Loki
	PrometheusExporter = "prometheus"       // Exporters.Prometheus
	ZonalShiftExporter = "zonalshift"       // Exporters.ZonalShift
	ConsoleExporter    = "otlphttp/console" // Exporters.Console
)

// Config describes one collector.
type Config struct {
	// Telemetry is host:port of the lambdatelemetry receiver (the agents' collector endpoint).
	Telemetry string
	// OTLP, when set, adds an otlp receiver (HTTP) at host:port whose metrics join the metrics
	// pipeline: the canaries' results reach the detector that way.
	OTLP string
	// BatchTimeout, when set, batches traces and logs, and metrics too unless AZHealth runs.
	BatchTimeout time.Duration
	// AZHealth, when set, runs the per-AZ detector on the metrics pipeline.
	AZHealth *AZHealth
	// Exporters configures the exporters the pipelines name.
	Exporters Exporters
	// Traces, Logs and Metrics list each pipeline's exporters; a pipeline without any is left out.
	Traces, Logs, Metrics []string
	// LogLevel is the collector's own log level (service.telemetry.logs.level); "" leaves info,
	// which e2etest.StartCollector needs to see "Everything is ready".
	LogLevel string
}

// AZHealth is the azhealth processor's timing; zero fields keep the processor's defaults.
type AZHealth struct {
	Tick, ShortWindow, LongWindow        time.Duration
	ZoneChangeCooldown                   time.Duration
	MinEvacuation, FailbackStageDuration time.Duration
}

// Exporters are the settings of the exporters a Config may name.
type Exporters struct {
	OTLPGRPC   string      // host:port of an OTLP/gRPC backend (Jaeger's :4317), plaintext
	Loki       string      // base URL of a Loki push API
	Prometheus string      // host:port the Prometheus exporter serves /metrics on
	ZonalShift *ZonalShift // the ARC zonal shift API the detector's decisions go to
	Console    string      // OTLP/HTTP base URL of the web console's invocation buffer
}

// ZonalShift is the zonalshift exporter's settings.
type ZonalShift struct {
	Endpoint string            // the API's base URL
	Lease    time.Duration     // 0 keeps the exporter's default
	Resource map[string]string // function name → ARC resource identifier
}

// YAML renders the configuration.
func (c Config) YAML() (string, error) {
	if c.Telemetry == "" {
		return "", errors.New("collectorconf: Telemetry (the lambdatelemetry receiver's endpoint) is empty")
	}
	if len(c.Traces)+len(c.Logs)+len(c.Metrics) == 0 {
		return "", errors.New("collectorconf: no pipeline has an exporter")
	}
	defined := map[string]bool{
		DebugExporter:      true,
		OTLPExporter:       c.Exporters.OTLPGRPC != "",
		LokiExporter:       c.Exporters.Loki != "",
		PrometheusExporter: c.Exporters.Prometheus != "",
		ZonalShiftExporter: c.Exporters.ZonalShift != nil && c.Exporters.ZonalShift.Endpoint != "",
		ConsoleExporter:    c.Exporters.Console != "",
	}
	used := map[string]bool{}
	for _, p := range []struct {
		name string
		exps []string
	}{{"traces", c.Traces}, {"logs", c.Logs}, {"metrics", c.Metrics}} {
		for _, e := range p.exps {
			if !defined[e] {
				return "", fmt.Errorf("collectorconf: the %s pipeline names exporter %q, which Exporters does not configure", p.name, e)
			}
			used[e] = true
		}
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, view{c, used}); err != nil {
		return "", fmt.Errorf("collectorconf: %w", err)
	}
	return b.String(), nil
}

type view struct {
	Config
	Used map[string]bool
}

func (v view) MetricsReceivers() string {
	if v.OTLP != "" {
		return "lambdatelemetry, otlp"
	}
	return "lambdatelemetry"
}

func list(names []string) string { return "[" + strings.Join(names, ", ") + "]" }

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// Durations are written in Go's syntax, which the collector's config decoder reads.
var tmpl = template.Must(template.New("collector").Funcs(template.FuncMap{
	"list": list, "keys": sortedKeys, "quote": func(s string) string { return fmt.Sprintf("%q", s) },
}).Parse(`receivers:
  lambdatelemetry:
    endpoint: {{.Telemetry}}
{{- if .OTLP}}
  otlp:
    protocols:
      http:
        endpoint: {{.OTLP}}
{{- end}}
{{- if or .BatchTimeout .AZHealth}}
processors:
{{- if .BatchTimeout}}
  batch:
    timeout: {{.BatchTimeout}}
{{- end}}
{{- with .AZHealth}}
  azhealth:
{{- if .Tick}}
    tick: {{.Tick}}
{{- end}}
{{- if .ShortWindow}}
    short_window: {{.ShortWindow}}
{{- end}}
{{- if .LongWindow}}
    long_window: {{.LongWindow}}
{{- end}}
{{- if .ZoneChangeCooldown}}
    guards:
      zone_change_cooldown: {{.ZoneChangeCooldown}}
{{- end}}
{{- if or .MinEvacuation .FailbackStageDuration}}
    recovery:
{{- if .MinEvacuation}}
      min_evacuation: {{.MinEvacuation}}
{{- end}}
{{- if .FailbackStageDuration}}
      failback_stage_duration: {{.FailbackStageDuration}}
{{- end}}
{{- end}}
{{- end}}
{{- end}}
exporters:
  debug:
    verbosity: basic
{{- if .Used.otlp_grpc}}
  otlp_grpc:
    endpoint: {{.Exporters.OTLPGRPC}}
    tls:
      insecure: true
{{- end}}
{{- if .Used.loki}}
  loki:
    endpoint: {{.Exporters.Loki}}
{{- end}}
{{- if .Used.prometheus}}
  prometheus:
    endpoint: {{.Exporters.Prometheus}}
    resource_constant_labels:
      included: ["*"]
{{- end}}
{{- if .Used.zonalshift}}
{{- with .Exporters.ZonalShift}}
  zonalshift:
    endpoint: {{.Endpoint}}
{{- if .Resource}}
    resource_identifiers:
{{- $r := .Resource}}
{{- range keys .Resource}}
      {{quote .}}: {{index $r . | quote}}
{{- end}}
{{- end}}
{{- if .Lease}}
    lease: {{.Lease}}
{{- end}}
{{- end}}
{{- end}}
{{- if index .Used "otlphttp/console"}}
  # The web console's recent-invocation buffer (internal/console); best effort, never retried.
  otlphttp/console:
    endpoint: {{.Exporters.Console}}
    retry_on_failure:
      enabled: false
{{- end}}
service:
  telemetry:
{{- if .LogLevel}}
    logs:
      level: {{.LogLevel}}
{{- end}}
    metrics:
      level: none
  pipelines:
{{- if .Traces}}
    traces:
      receivers: [lambdatelemetry]
{{- if .BatchTimeout}}
      processors: [batch]
{{- end}}
      exporters: {{list .Traces}}
{{- end}}
{{- if .Logs}}
    logs:
      receivers: [lambdatelemetry]
{{- if .BatchTimeout}}
      processors: [batch]
{{- end}}
      exporters: {{list .Logs}}
{{- end}}
{{- if .Metrics}}
    metrics:
      receivers: [{{.MetricsReceivers}}]
{{- if .AZHealth}}
      processors: [azhealth]
{{- else if .BatchTimeout}}
      processors: [batch]
{{- end}}
      exporters: {{list .Metrics}}
{{- end}}
`))
