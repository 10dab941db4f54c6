package zonalshiftexporter

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/azlens/azlens/exporter/zonalshiftexporter/internal/metadata"
	"github.com/azlens/azlens/internal/componentmeta"
)

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type() != metadata.Type || f.Type().String() != "zonalshift" {
		t.Errorf("type %q, want zonalshift", f.Type())
	}
	if got := f.MetricsStability(); got.String() != "Alpha" {
		t.Errorf("metrics stability %v, want alpha", got)
	}
	if _, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig()); err == nil {
		t.Error("traces should not be supported")
	}
	if err := f.CreateDefaultConfig().(*Config).Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
}

// TestMetadataYAML holds mdatagen's output (internal/metadata, documentation.md) and the
// self-metrics the code names against metadata.yaml.
func TestMetadataYAML(t *testing.T) {
	componentmeta.Check(t, componentmeta.Want{
		Type:        metadata.Type,
		Class:       "exporter",
		Stability:   map[string]component.StabilityLevel{"metrics": metadata.MetricsStability},
		SelfMetrics: []string{actionsMetric, skippedMetric, droppedMetric},
	})
}

func TestLifecycle(t *testing.T) {
	en := newEnv(t)
	f := NewFactory()
	set := exportertest.NewNopSettings(metadata.Type)
	cfg := en.config(nil)

	t.Run("shutdown without start", func(t *testing.T) {
		exp, err := f.CreateMetrics(context.Background(), set, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("queued push enacted by shutdown, shutdown twice", func(t *testing.T) {
		exp, err := f.CreateMetrics(context.Background(), set, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
		if err := exp.ConsumeMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az1")); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := exp.Shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown %d: %v", i, err)
			}
		}
		if act := en.active("fn"); len(act) != 1 || act[0].AwayFrom != "use1-az1" {
			t.Fatalf("active = %+v, want the queued decision enacted", act)
		}
	})
}

// TestRetriedThroughExporterhelper: the API fails twice with 503, exporterhelper retries the
// push, and the shift is started exactly once.
func TestRetriedThroughExporterhelper(t *testing.T) {
	en := newEnv(t)
	var failures atomic.Int32
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if failures.Add(1) <= 2 {
			http.Error(w, `{"__type":"ServiceUnavailable","message":"try again"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	cfg := en.config(func(c *Config) {
		c.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]() // synchronous: the result comes back here
		c.BackOffConfig.InitialInterval = time.Millisecond
		c.BackOffConfig.MaxInterval = time.Millisecond
		c.BackOffConfig.RandomizationFactor = 0
	})
	exp, err := NewFactory().CreateMetrics(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	if err := exp.ConsumeMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az2")); err != nil {
		t.Fatalf("consume after retries: %v", err)
	}
	if n := failures.Load(); n < 3 {
		t.Errorf("API calls = %d, want the two failures and then success", n)
	}
	if act := en.active("fn"); len(act) != 1 || act[0].AwayFrom != "use1-az2" {
		t.Fatalf("active = %+v", act)
	}
}

// TestPermanentNotRetried: a ValidationException is not retried.
func TestPermanentNotRetried(t *testing.T) {
	en := newEnv(t)
	var posts atomic.Int32
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		return false
	}
	cfg := en.config(func(c *Config) {
		c.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
		c.BackOffConfig.InitialInterval = time.Millisecond
	})
	exp, err := NewFactory().CreateMetrics(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	if err := exp.ConsumeMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az9")); err == nil {
		t.Fatal("an unknown zone must fail")
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("start attempts = %d, want 1 (no retry of a permanent error)", n)
	}
}
