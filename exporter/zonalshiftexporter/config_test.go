package zonalshiftexporter

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/azlens/azlens/exporter/zonalshiftexporter/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatalf("load testdata/config.yaml: %v", err)
	}
	id := component.NewIDWithName(metadata.Type, name)
	if name == "" {
		id = component.NewID(metadata.Type)
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
		cfg := loadConfig(t, "")
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if cfg.Endpoint != "" || cfg.Region != "" || cfg.MaxAttempts != 0 || cfg.Timeout != defaultTimeout || cfg.Lease != time.Minute ||
			cfg.renewInterval() != 30*time.Second || !cfg.cancelOnRecovery() || cfg.commentTag() != defaultCommentTag ||
			!cfg.FailbackWeight {
			t.Errorf("defaults: %+v", cfg)
		}
		q := cfg.QueueConfig.Get()
		if q == nil || q.NumConsumers != 1 || q.Batch.HasValue() {
			t.Errorf("sending_queue: %+v, want enabled, one consumer, no batching", q)
		}
		if !cfg.BackOffConfig.Enabled || cfg.BackOffConfig.MaxElapsedTime != time.Minute {
			t.Errorf("retry_on_failure: %+v", cfg.BackOffConfig)
		}
		if got, _ := expiresIn(cfg.lease()); got != "1m" {
			t.Errorf("expiresIn = %q", got)
		}
	})
	t.Run("full", func(t *testing.T) {
		cfg := loadConfig(t, "full")
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if cfg.Endpoint != "https://arc.example.com/" || cfg.Region != "eu-west-1" || cfg.MaxAttempts != 5 || cfg.Timeout != 2*time.Second || cfg.Lease != 5*time.Minute ||
			cfg.renewInterval() != time.Minute || cfg.cancelOnRecovery() || cfg.commentTag() != "collector-a" ||
			cfg.FailbackWeight || cfg.QueueConfig.HasValue() || cfg.BackOffConfig.InitialInterval != 500*time.Millisecond {
			t.Errorf("full: %+v", cfg)
		}
		if got := cfg.resourceIdentifier("checkout"); !strings.HasPrefix(got, "arn:aws:elasticloadbalancing:") {
			t.Errorf("resource identifier of checkout = %q", got)
		}
		if got := cfg.resourceIdentifier("other"); got != "other" {
			t.Errorf("resource identifier of an unmapped function = %q", got)
		}
	})
	t.Run("long lease", func(t *testing.T) {
		cfg := loadConfig(t, "long_lease")
		if err := confmap.Validate(cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if got, _ := expiresIn(cfg.lease()); got != "48h" {
			t.Errorf("expiresIn = %q, want 48h", got)
		}
	})
}

func TestLoadConfigInvalid(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"bad_endpoint", `endpoint must be an http or https URL (a local region, e.g. http://127.0.0.1:9001) or empty (real ARC), got "127.0.0.1:9001"`},
		{"bad_region", `region must be an AWS region name such as us-east-1, got "US East"`},
		{"negative_attempts", "max_attempts must be 0 (the SDK's default) or more, got -1"},
		{"lease_seconds", "lease must be a whole number of minutes, at least 1m, got 1m30s"},
		{"lease_too_long", "lease must be at most 1440m, or whole hours up to 72h, got 73h0m0s"},
		{"lease_odd_hours", "lease must be at most 1440m, or whole hours up to 72h, got 25h1m0s"},
		{"renew_too_slow", "renew_interval must be shorter than lease (1m0s), got 1m0s"},
		{"bad_recovery", `on_recovery must be "cancel" or "expire", got "keep"`},
		{"long_tag", "comment_tag must be at most 80 characters, got 92"},
		{"empty_mapping", `resource_identifiers: function name and identifier must not be empty ("fn": "")`},
		{"parallel_queue", "sending_queue::num_consumers must be 1 so decisions are enacted in order, got 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, tc.name))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExpiresIn(t *testing.T) {
	for _, tc := range []struct {
		lease time.Duration
		want  string
	}{
		{time.Minute, "1m"}, {90 * time.Minute, "90m"}, {24 * time.Hour, "1440m"}, {25 * time.Hour, "25h"}, {72 * time.Hour, "72h"},
		{0, ""}, {59 * time.Second, ""}, {61 * time.Second, ""}, {73 * time.Hour, ""}, {-time.Minute, ""},
	} {
		got, err := expiresIn(tc.lease)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("expiresIn(%v) = %q, %v; want %q", tc.lease, got, err, tc.want)
		}
	}
}
