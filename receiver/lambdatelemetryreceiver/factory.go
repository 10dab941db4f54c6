package lambdatelemetryreceiver

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

const (
	// defaultEndpoint is next to OTLP's 4317/4318 and loopback-only unless configured.
	defaultEndpoint = "localhost:4319"
	// defaultCorrelationTimeout covers a report that arrives during the next
	// invocation of a function invoked at least every few minutes.
	defaultCorrelationTimeout = 5 * time.Minute
	// defaultMaxPendingInvocations bounds the table to a few MB.
	defaultMaxPendingInvocations = 10000
	// defaultMaxEnvironments is well above the concurrency of one function fleet per collector.
	defaultMaxEnvironments = 10000
	// defaultEnvironmentIdleTimeout: Lambda rarely keeps an idle environment longer.
	defaultEnvironmentIdleTimeout = 2 * time.Hour
)

// NewFactory returns the factory of the lambdatelemetry receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability),
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	http := confighttp.NewDefaultServerConfig()
	http.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig:           http,
		CorrelationTimeout:     defaultCorrelationTimeout,
		MaxPendingInvocations:  defaultMaxPendingInvocations,
		MaxEnvironments:        defaultMaxEnvironments,
		EnvironmentIdleTimeout: defaultEnvironmentIdleTimeout,
	}
}

// One receiver serves all three signals of a config: the signals come from
// the same events and share the correlation state.
var (
	receiversMu sync.Mutex
	receivers   = map[*Config]*lambdaReceiver{}
)

func shared(cfg component.Config, set receiver.Settings) (*lambdaReceiver, error) {
	c := cfg.(*Config)
	receiversMu.Lock()
	defer receiversMu.Unlock()
	if r := receivers[c]; r != nil {
		return r, nil
	}
	r, err := newReceiver(c, set)
	if err != nil {
		return nil, err
	}
	r.forget = func() {
		receiversMu.Lock()
		defer receiversMu.Unlock()
		if receivers[c] == r {
			delete(receivers, c)
		}
	}
	receivers[c] = r
	return r, nil
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, err := shared(cfg, set)
	if err != nil {
		return nil, err
	}
	r.nextTraces = next
	return r, nil
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := shared(cfg, set)
	if err != nil {
		return nil, err
	}
	r.nextLogs = next
	return r, nil
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := shared(cfg, set)
	if err != nil {
		return nil, err
	}
	r.nextMetrics = next
	return r, nil
}
