package lokiexporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.yaml.in/yaml/v3"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
)

func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatalf("load testdata/config.yaml: %v", err)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatalf("section %s: %v", id, err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatalf("unmarshal %s: %v", id, err)
	}
	return cfg
}

func TestConfigStruct(t *testing.T) {
	if err := componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfigValid(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg := loadConfig(t, component.NewID(metadata.Type))
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if cfg.Endpoint != "http://loki:3100" || cfg.Timeout != defaultTimeout || cfg.TenantID != "" {
			t.Errorf("endpoint %q timeout %v tenant %q", cfg.Endpoint, cfg.Timeout, cfg.TenantID)
		}
		if !cfg.QueueConfig.HasValue() || !cfg.QueueConfig.Get().Batch.HasValue() {
			t.Fatal("the default sending queue should be enabled and batch")
		}
		if got := cfg.QueueConfig.Get().Batch.Get().MaxSize; got != defaultBatchMaxSize {
			t.Errorf("batch max_size = %d, want %d", got, defaultBatchMaxSize)
		}
		if !cfg.BackOffConfig.Enabled {
			t.Error("retry_on_failure should be enabled by default")
		}
		if diff := cmp.Diff(defaultResourceLabels(), cfg.Labels.ResourceAttributes); diff != "" {
			t.Errorf("labels::resource_attributes (-want +got):\n%s", diff)
		}
		if cfg.Labels.Severity != "level" {
			t.Errorf("labels::severity = %q, want level", cfg.Labels.Severity)
		}
		if diff := cmp.Diff(defaultStructuredMetadata(), cfg.StructuredMetadata.Attributes); diff != "" {
			t.Errorf("structured_metadata::attributes (-want +got):\n%s", diff)
		}
		if !cfg.StructuredMetadata.AllLogAttributes {
			t.Error("structured_metadata::all_log_attributes should default to true")
		}
	})

	t.Run("full", func(t *testing.T) {
		cfg := loadConfig(t, component.NewIDWithName(metadata.Type, "full"))
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if cfg.Endpoint != "https://loki.example.com/loki/api/v1/push" || cfg.TenantID != "team-a" || cfg.Timeout != 10*time.Second {
			t.Errorf("endpoint %q tenant %q timeout %v", cfg.Endpoint, cfg.TenantID, cfg.Timeout)
		}
		if v, ok := cfg.Headers.Get("X-Team"); !ok || string(v) != "lambda" {
			t.Errorf("headers: X-Team = %q, %v", v, ok)
		}
		if !cfg.TLS.InsecureSkipVerify {
			t.Error("tls::insecure_skip_verify not loaded")
		}
		q := cfg.QueueConfig.Get()
		if q.QueueSize != 500 || q.NumConsumers != 2 {
			t.Errorf("sending_queue: queue_size %d num_consumers %d", q.QueueSize, q.NumConsumers)
		}
		if b := q.Batch.Get(); b.FlushTimeout != time.Second || b.MinSize != 100 || b.MaxSize != 1000 {
			t.Errorf("sending_queue::batch: %+v", *b)
		}
		if cfg.BackOffConfig.InitialInterval != time.Second || cfg.BackOffConfig.MaxElapsedTime != time.Minute {
			t.Errorf("retry_on_failure: %+v", cfg.BackOffConfig)
		}
		// User keys merge into the defaults; "" removes one.
		wantRes := map[string]string{
			"service.name":            "service_name",
			"faas.name":               "",
			"cloud.availability_zone": "cloud_availability_zone",
			"deployment.environment":  "env",
		}
		if diff := cmp.Diff(wantRes, cfg.Labels.ResourceAttributes); diff != "" {
			t.Errorf("labels::resource_attributes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"type": "type"}, cfg.Labels.LogAttributes); diff != "" {
			t.Errorf("labels::log_attributes (-want +got):\n%s", diff)
		}
		if cfg.Labels.Severity != "severity" {
			t.Errorf("labels::severity = %q", cfg.Labels.Severity)
		}
		if diff := cmp.Diff(map[string]string{"faas.invocation_id": "invocation"}, cfg.StructuredMetadata.Attributes); diff != "" {
			t.Errorf("structured_metadata::attributes (-want +got):\n%s", diff)
		}
		if cfg.StructuredMetadata.AllLogAttributes {
			t.Error("structured_metadata::all_log_attributes: false not loaded")
		}
	})

	t.Run("no_queue", func(t *testing.T) {
		cfg := loadConfig(t, component.NewIDWithName(metadata.Type, "no_queue"))
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if cfg.QueueConfig.HasValue() {
			t.Error("sending_queue::enabled: false should disable the queue")
		}
	})
}

func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		want []string // substrings the error must contain
	}{
		{"no_endpoint", []string{"endpoint must be set"}},
		{"bad_endpoint", []string{"endpoint must be an http or https URL", `"loki:3100"`}},
		{"compression", []string{"compression must be empty", "snappy"}},
		{"faas_instance_label", []string{"labels::resource_attributes::faas.instance", "high-cardinality", "structured metadata"}},
		{"trace_id_label", []string{"labels::log_attributes::trace_id", "high-cardinality"}},
		{"invocation_label", []string{"labels::log_attributes::faas.invocation_id", "high-cardinality"}},
		{"bad_label_name", []string{"labels::resource_attributes::cloud.region", `"cloud-region"`}},
		{"duplicate_label", []string{"labels::log_attributes::service", `"service_name"`, "already used by labels::resource_attributes::service.name"}},
		{"bad_tenant", []string{"tenant_id", `'|'`}},
		{"bad_queue", []string{"queue_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, component.NewIDWithName(metadata.Type, tt.name))
			err := confmap.Validate(cfg)
			if err == nil {
				t.Fatal("validate: want an error, got nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateDirect(t *testing.T) {
	base := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Endpoint = "http://loki:3100"
		return cfg
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"severity off", func(c *Config) { c.Labels.Severity = "" }, ""},
		{"severity reserved", func(c *Config) { c.Labels.Severity = "__level" }, `labels::severity: label name "__level"`},
		{"label name is an id", func(c *Config) { c.Labels.ResourceAttributes["host.id"] = "span_id" }, `label name "span_id" is high-cardinality`},
		{"severity collides", func(c *Config) { c.Labels.Severity = "faas_name" }, "already used by"},
		{"metadata name", func(c *Config) { c.StructuredMetadata.Attributes["x"] = "a.b" }, `structured_metadata::attributes::x: name "a.b"`},
		{"tenant too long", func(c *Config) { c.TenantID = strings.Repeat("a", 151) }, "tenant_id must be at most 150"},
		{"tenant dot", func(c *Config) { c.TenantID = ".." }, "tenant_id must not be"},
		{"ftp", func(c *Config) { c.Endpoint = "ftp://loki" }, "endpoint must be an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mutate(cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

// TestREADMEExample keeps the README's configuration example loadable and valid.
func TestREADMEExample(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no yaml block")
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(block), &m); err != nil {
		t.Fatalf("README yaml: %v", err)
	}
	sub, err := confmap.NewFromStringMap(m).Sub("exporters::loki")
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatalf("unmarshal README example: %v", err)
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Fatalf("README example does not validate: %v", err)
	}
}
