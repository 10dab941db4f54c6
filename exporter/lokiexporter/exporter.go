package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
	"github.com/azlens/azlens/internal/clock"
)

// rejectedMetric counts records Loki refused for good; exporterhelper's
// send_failed counts them too, but not why.
const rejectedMetric = "otelcol_lokiexporter_rejected_log_records"

type lokiExporter struct {
	cfg      *Config
	settings component.TelemetrySettings
	pushURL  string
	enc      *encoder
	clock    clock.Clock

	rejected metric.Int64Counter
	// loggedRejection makes the first rejection a warning with Loki's reason
	// and later ones debug lines: the counter carries the rate.
	loggedRejection atomic.Bool
	// loggedWrongPath makes the first push refused for its path an error line
	// naming the URL and the fix.
	loggedWrongPath atomic.Bool

	client *http.Client // set by start
}

func newLokiExporter(cfg *Config, set component.TelemetrySettings) (*lokiExporter, error) {
	pushURL, err := pushURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, fmt.Errorf("create self-metrics: %w", err)
	}
	return &lokiExporter{
		cfg:      cfg,
		settings: set,
		pushURL:  pushURL,
		enc:      newEncoder(cfg, clock.Real{}),
		clock:    clock.Real{},
		rejected: tb.LokiexporterRejectedLogRecords,
	}, nil
}

func (e *lokiExporter) start(ctx context.Context, host component.Host) error {
	client, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		return fmt.Errorf("create loki http client: %w", err)
	}
	e.client = client
	e.settings.Logger.Info("pushing logs to loki", zap.String("url", e.pushURL))
	return nil
}

// shutdown releases idle connections; it is safe without start and twice.
func (e *lokiExporter) shutdown(context.Context) error {
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	return nil
}

func (e *lokiExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if e.client == nil {
		return errors.New("loki exporter not started")
	}
	req, count := e.enc.encode(ld)
	if count == 0 {
		return nil
	}
	body, err := e.enc.marshalSnappy(&req)
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, e.pushURL, bytes.NewReader(body))
	if err != nil {
		return consumererror.NewPermanent(fmt.Errorf("build push request: %w", err))
	}
	httpReq.Header.Set("Content-Type", "application/x-protobuf")
	if e.cfg.TenantID != "" {
		httpReq.Header.Set("X-Scope-OrgID", e.cfg.TenantID)
	}
	resp, err := e.client.Do(httpReq)
	if err != nil {
		return fmt.Errorf("push to loki: %w", err)
	}
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBody))
	_ = resp.Body.Close()

	err = classifyResponse(resp.StatusCode, resp.Header, errBody, e.clock.Now())
	if err != nil && consumererror.IsPermanent(err) {
		e.rejected.Add(ctx, int64(count), metric.WithAttributes(
			attribute.Int("http.response.status_code", resp.StatusCode)))
		if wrongPath(resp.StatusCode, errBody) {
			// Every later push will fail the same way: say so loudly, with the fix, even when an
			// ordinary rejection was logged before.
			err = consumererror.NewPermanent(fmt.Errorf("%w; %s", err, wrongPathHint(e.pushURL)))
			if e.loggedWrongPath.CompareAndSwap(false, true) {
				e.settings.Logger.Error("loki push URL refused as a wrong path; every push is dropped (counted in "+rejectedMetric+") until endpoint is fixed",
					zap.String("url", e.pushURL), zap.Int("records", count), zap.Error(err))
				return err
			}
		}
		if e.loggedRejection.CompareAndSwap(false, true) {
			e.settings.Logger.Warn("loki rejected a push; its records are dropped (counted in "+rejectedMetric+", later rejections are logged at debug level)",
				zap.Int("records", count), zap.Error(err))
		} else {
			e.settings.Logger.Debug("loki rejected a push", zap.Int("records", count), zap.Error(err))
		}
	}
	return err
}
