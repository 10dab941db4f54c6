package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/azlens/azlens/exporter/zonalshiftexporter/internal/metadata"
	"github.com/azlens/azlens/internal/clock"
	"github.com/azlens/azlens/internal/exporterbase"
)

const (
	// defaultTimeout bounds one API request; a lease of a minute leaves no room for slow calls.
	defaultTimeout = 5 * time.Second
	// defaultLease is ARC's FIS integration lease: a dead collector's shift lapses within it.
	defaultLease = time.Minute
	// defaultCommentTag marks this exporter's shifts.
	defaultCommentTag = "azlens-zonalshift"
	// defaultQueueSize holds a few minutes of detector ticks while the API is unreachable.
	defaultQueueSize = 100
	// defaultRetryMaxElapsed gives up on a push after one lease: by then a newer decision has
	// arrived and the old one is stale.
	defaultRetryMaxElapsed = time.Minute
	// defaultRetryInitial and defaultRetryMax keep retries inside the lease.
	defaultRetryInitial = time.Second
	defaultRetryMax     = 10 * time.Second
)

// NewFactory creates the factory of the zonal shift exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	// No endpoint: real ARC, in the region of the SDK's default chain or region.
	client.Timeout = defaultTimeout

	queue := exporterhelper.NewDefaultQueueConfig()
	queue.NumConsumers = 1
	queue.QueueSize = defaultQueueSize
	// Merging pushes would mix ticks; each push is one decision snapshot.
	queue.Batch = configoptional.None[exporterhelper.BatchConfig]()

	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = defaultRetryInitial
	retry.MaxInterval = defaultRetryMax
	retry.MaxElapsedTime = defaultRetryMaxElapsed

	return &Config{
		ClientConfig:   client,
		QueueConfig:    configoptional.Some(queue),
		BackOffConfig:  retry,
		Lease:          defaultLease,
		OnRecovery:     RecoveryCancel,
		CommentTag:     defaultCommentTag,
		FailbackWeight: true,
	}
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("zonalshift exporter: unexpected config type %T", cfg)
	}
	exp, err := newShiftExporter(c, set.TelemetrySettings, clock.Real{})
	if err != nil {
		return nil, err
	}
	return exporterbase.NewMetrics(ctx, set, cfg, exp.pushMetrics, exporterbase.Settings{
		Start:    exp.start,
		Shutdown: exp.shutdown,
		// No timeout for the whole push, which makes several requests: each
		// has its own (the client's).
		Retry: c.BackOffConfig,
		Queue: c.QueueConfig,
	})
}
