package canary

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/azlens/azlens/internal/contract"
)

// Names of what is exported.
const (
	MetricInvocations = contract.MetricCanaryInvocations
	MetricDuration    = contract.MetricCanaryDuration
	ScopeName         = "github.com/azlens/azlens/emulator/canary"
	ServiceName       = "azlens-canary"
)

// Export sends the cumulative counts of every zone to the collector now, within Timeout. The
// export loop calls it every ExportInterval; a failed export is not retried at once: the next
// one carries the same counts, grown, so nothing is lost but resolution.
func (r *Runner) Export(ctx context.Context) error {
	if r.exportURL == "" {
		return errors.New("export: no otlp_endpoint configured")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	timer := r.clock.AfterFunc(r.cfg.Timeout, func() { cancel(fmt.Errorf("export: no answer within %s", r.cfg.Timeout)) })
	err := r.export(ctx, r.Metrics())
	timer.Stop()
	if cause := context.Cause(ctx); err != nil && cause != nil {
		err = fmt.Errorf("%w (%v)", err, cause)
	}
	cancel(nil)

	r.mu.Lock()
	r.exports.Exports++
	failedBefore := r.exports.LastError != ""
	if err != nil {
		r.exports.Failures++
		r.exports.LastError = err.Error()
	} else {
		r.exports.LastError = ""
	}
	r.mu.Unlock()
	switch {
	case err != nil && !failedBefore:
		r.log.Warn("canary metrics export failed; retrying every interval", "endpoint", r.exportURL, "error", err)
	case err == nil && failedBefore:
		r.log.Info("canary metrics export recovered", "endpoint", r.exportURL)
	}
	if r.cfg.OnExport != nil {
		r.cfg.OnExport(err)
	}
	return err
}

func (r *Runner) export(ctx context.Context, md pmetric.Metrics) error {
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return fmt.Errorf("export: encode metrics: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.exportURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "azlens-canary")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("export: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("export: collector answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	// A 200 may still reject some points (OTLP partial success).
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
		er := pmetricotlp.NewExportResponse()
		if err := er.UnmarshalProto(answer); err == nil && er.PartialSuccess().RejectedDataPoints() > 0 {
			return fmt.Errorf("export: collector rejected %d data points: %s",
				er.PartialSuccess().RejectedDataPoints(), er.PartialSuccess().ErrorMessage())
		}
	}
	return nil
}

// Metrics returns the cumulative counts as OTLP metrics: one resource per zone, one monotonic
// cumulative Sum azlens.canary.invocations with a data point per outcome (zeros included, so a
// rate can be computed from the first export on).
func (r *Runner) Metrics() pmetric.Metrics {
	now := pcommon.NewTimestampFromTime(r.clock.Now())
	r.mu.Lock()
	start := pcommon.NewTimestampFromTime(r.start)
	results := make([]ZoneResult, 0, len(r.cfg.Zones))
	for _, z := range r.cfg.Zones {
		results = append(results, r.results[z].clone())
	}
	r.mu.Unlock()

	md := pmetric.NewMetrics()
	for _, res := range results {
		rm := md.ResourceMetrics().AppendEmpty()
		attrs := rm.Resource().Attributes()
		attrs.PutStr(string(semconv.ServiceNameKey), ServiceName)
		attrs.PutStr(string(semconv.CloudProviderKey), "aws")
		attrs.PutStr(string(semconv.CloudPlatformKey), "aws_lambda")
		attrs.PutStr(string(semconv.CloudRegionKey), r.cfg.Region)
		attrs.PutStr(string(semconv.CloudAvailabilityZoneKey), res.Zone)
		attrs.PutStr(string(semconv.FaaSNameKey), r.cfg.Function)
		attrs.PutStr(contract.AttrCanary, "true")
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(ScopeName)
		m := sm.Metrics().AppendEmpty()
		m.SetName(MetricInvocations)
		m.SetUnit("{invocation}")
		m.SetDescription("Canary invocations sent to the zone, by outcome (success, error, timeout, failure).")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, o := range Outcomes {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			dp.SetIntValue(int64(res.Count(o)))
			dp.Attributes().PutStr(contract.AttrOutcome, string(o))
		}
		m = sm.Metrics().AppendEmpty()
		m.SetName(MetricDuration)
		m.SetUnit("s")
		m.SetDescription("Latency of the canaries sent to the zone, until their answer or their timeout, by outcome.")
		hist := m.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, o := range Outcomes {
			h := res.Latency[o]
			if h == nil {
				continue // an outcome not seen yet has no latency to show
			}
			dp := hist.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			dp.SetCount(h.Count)
			dp.SetSum(h.Sum)
			dp.ExplicitBounds().FromRaw(contract.DurationBounds)
			dp.BucketCounts().FromRaw(h.Counts)
			dp.Attributes().PutStr(contract.AttrOutcome, string(o))
		}
	}
	return md
}
