package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

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

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
	"github.com/azlens/azlens/internal/exporterbase"
)

const (
	// defaultTimeout bounds one push attempt; retries get their own.
	defaultTimeout = 30 * time.Second
	// defaultPushPath is appended to an endpoint given without a path.
	defaultPushPath = "/loki/api/v1/push"
	// defaultSeverityLabel is the label the severity goes to.
	defaultSeverityLabel = "level"
	// defaultBatchMaxSize caps log records per push, so one push stays well
	// under Loki's request size limits; the batch minimum is exporterhelper's.
	defaultBatchMaxSize = 16384
	// defaultAllLogAttributes keeps every record attribute (JSON log fields,
	// the platform event type) as structured metadata, so nothing is lost.
	defaultAllLogAttributes = true
)

// defaultResourceLabels are low-cardinality: one value per function or zone.
func defaultResourceLabels() map[string]string {
	return map[string]string{
		"service.name":            "service_name",
		"faas.name":               "faas_name",
		"cloud.availability_zone": "cloud_availability_zone",
	}
}

// defaultStructuredMetadata joins a log line to its invocation.
func defaultStructuredMetadata() map[string]string {
	return map[string]string{
		"faas.invocation_id": "faas_invocation_id",
	}
}

// NewFactory creates the factory of the Loki exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout

	queue := exporterhelper.NewDefaultQueueConfig()
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.MaxSize = defaultBatchMaxSize
	queue.Batch = configoptional.Some(batch)

	return &Config{
		ClientConfig:  client,
		QueueConfig:   configoptional.Some(queue),
		BackOffConfig: configretry.NewDefaultBackOffConfig(),
		Labels: LabelsConfig{
			ResourceAttributes: defaultResourceLabels(),
			LogAttributes:      map[string]string{},
			Severity:           defaultSeverityLabel,
		},
		StructuredMetadata: StructuredMetadataConfig{
			Attributes:       defaultStructuredMetadata(),
			AllLogAttributes: defaultAllLogAttributes,
		},
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("loki exporter: unexpected config type %T", cfg)
	}
	exp, err := newLokiExporter(c, set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return exporterbase.NewLogs(ctx, set, cfg, exp.pushLogs, exporterbase.Settings{
		Start:    exp.start,
		Shutdown: exp.shutdown,
		Timeout:  c.Timeout,
		Retry:    c.BackOffConfig,
		Queue:    c.QueueConfig,
	})
}
