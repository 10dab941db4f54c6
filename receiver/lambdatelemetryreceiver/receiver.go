package lambdatelemetryreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/azlens/azlens/internal/clock"
	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/mapping"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// Paths served (the contract's). The agent wire format's version is in its path.
const (
	AgentBatchPath = contract.AgentBatchPath
	TelemetryPath  = contract.TelemetryPath

	// retryAfterSeconds is suggested to clients when a consumer is saturated.
	retryAfterSeconds = "1"
	transport         = "http"
	dataFormat        = "json"
)

type lambdaReceiver struct {
	cfg *Config
	set receiver.Settings

	nextTraces  consumer.Traces
	nextLogs    consumer.Logs
	nextMetrics consumer.Metrics

	obsrep   *receiverhelper.ObsReport
	decoder  telemetryevent.Decoder
	mapper   *mapping.Mapper
	resource pcommon.Map
	clock    clock.Clock
	// forget removes the receiver from the factory's shared map.
	forget func()
	// seqs is the persisted copy of the seq windows (nil without storage:).
	seqs *seqStore

	incomplete metric.Int64Counter
	rejected   metric.Int64Counter
	duplicates metric.Int64Counter
	forgotten  metric.Int64Counter
	dropped    metric.Int64Counter
	warnOnce   sync.Map // reason → *sync.Once: log each kind of drop once

	startOnce    sync.Once
	shutdownOnce sync.Once
	server       *http.Server
	listenAddr   net.Addr
	stop         chan struct{}
	wg           sync.WaitGroup
}

func newReceiver(cfg *Config, set receiver.Settings) (*lambdaReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              transport,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	r := &lambdaReceiver{
		cfg:    cfg,
		set:    set,
		obsrep: obsrep,
		mapper: mapping.New(mapping.Settings{
			CorrelationTimeout: cfg.CorrelationTimeout,
			MaxPending:         cfg.MaxPendingInvocations,
			MaxEnvironments:    cfg.MaxEnvironments,
			EnvironmentIdle:    cfg.EnvironmentIdleTimeout,
			Checkpoints:        cfg.StorageID != nil,
			ScopeName:          metadata.ScopeName,
			ScopeVersion:       set.BuildInfo.Version,
		}),
		resource: pcommon.NewMap(),
		clock:    clock.Real{},
		stop:     make(chan struct{}),
		forget:   func() {},
	}
	for k, v := range cfg.ResourceAttributes {
		r.resource.PutStr(k, v)
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create self-metrics: %w", err)
	}
	r.incomplete = tb.LambdatelemetryreceiverIncomplete
	r.rejected = tb.LambdatelemetryreceiverRejectedRequests
	r.duplicates = tb.LambdatelemetryreceiverDuplicateBatches
	r.forgotten = tb.LambdatelemetryreceiverEnvironmentsForgotten
	r.dropped = tb.LambdatelemetryreceiverDroppedItems
	return r, nil
}

// Start serves HTTP and runs the correlation sweeper.
func (r *lambdaReceiver) Start(ctx context.Context, host component.Host) error {
	var err error
	r.startOnce.Do(func() { err = r.start(ctx, host) })
	return err
}

func (r *lambdaReceiver) start(ctx context.Context, host component.Host) error {
	mux := http.NewServeMux()
	mux.HandleFunc(AgentBatchPath, r.handleAgentBatch)
	mux.HandleFunc(AgentBatchV2Path, r.handleAgentBatchV2)
	mux.HandleFunc(TelemetryPath, r.handleTelemetry)
	if r.cfg.StorageID != nil {
		seqs, skipped, err := openSeqStore(ctx, host, *r.cfg.StorageID, r.set.ID, r.cfg, r.clock.Now())
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			r.set.Logger.Warn("storage: dropped unreadable seq windows; their environments' retried batches may be counted twice",
				zap.Int("count", len(skipped)), zap.Error(errors.Join(skipped...)))
		}
		r.seqs = seqs
		// Continue every environment's series where the last process recorded them (see
		// mapping.Checkpoint), before any batch can start them afresh.
		for env, data := range seqs.checkpoints() {
			if err := r.mapper.Restore(env, data, r.clock.Now()); err != nil {
				r.warnFirst("storage:restore", "storage: an environment's metrics start new series instead of continuing the recorded ones; a batch the last process applied without recording it is counted in both", zap.Error(err))
			}
		}
	}
	srv, err := r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		return fmt.Errorf("create http server: %w", err)
	}
	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", r.cfg.NetAddr.Endpoint, err)
	}
	r.server = srv
	r.listenAddr = ln.Addr()
	r.set.Logger.Info("Starting lambdatelemetry receiver", zap.String("endpoint", ln.Addr().String()))
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	go func() {
		defer r.wg.Done()
		r.sweepLoop()
	}()
	return nil
}

// sweepInterval is a tenth of the correlation timeout, within [1s, 30s], so
// an incomplete invocation is emitted at most 10% late.
func (r *lambdaReceiver) sweepInterval() time.Duration {
	return min(max(r.cfg.CorrelationTimeout/10, time.Second), 30*time.Second)
}

func (r *lambdaReceiver) sweepLoop() {
	t := r.clock.NewTicker(r.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C():
			now := r.clock.Now()
			r.sweep(now, "timeout")
			if r.seqs != nil {
				if err := r.seqs.sweep(context.Background(), now); err != nil {
					r.warnFirst("storage:sweep", "storage: forgetting idle environments' seq windows failed", zap.Error(err))
				}
			}
		}
	}
}

// sweep emits what timed out (or, at shutdown, everything held).
func (r *lambdaReceiver) sweep(now time.Time, reason string) {
	var out mapping.Output
	if reason == "shutdown" {
		out = r.mapper.Flush(now)
	} else {
		out = r.mapper.Sweep(now)
	}
	r.count(out, reason)
	if err := r.consume(context.Background(), out); err != nil {
		n := int64(out.Traces.SpanCount() + out.Logs.LogRecordCount() + out.Metrics.DataPointCount())
		r.dropped.Add(context.Background(), n, metric.WithAttributes(attribute.String("reason", reason)))
		r.warnFirst("dropped:"+reason, "next consumer refused output of a "+reason+" sweep; it is dropped (counted in otelcol_lambdatelemetryreceiver_dropped_items)", zap.Error(err))
		return
	}
	if r.seqs != nil && len(out.Checkpoints) > 0 {
		// The counts the sweep added are exported: a successor must continue from them, or its
		// series would go below what this process emitted.
		if err := r.seqs.saveCheckpoints(context.Background(), out.Checkpoints); err != nil {
			r.warnFirst("storage:checkpoint", "storage: recording the metric state after a sweep failed; a restarted collector's series may go below this one's", zap.Error(err))
		}
	}
}

func (r *lambdaReceiver) count(out mapping.Output, reason string) {
	ctx := context.Background()
	if n := out.Incomplete - out.EvictedFull; n > 0 {
		rsn := reason
		if out.EnvironmentsForgotten > 0 && reason != "shutdown" {
			rsn = "evicted"
		}
		r.incomplete.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", rsn)))
		r.warnFirst("incomplete:"+rsn, "emitting incomplete invocations (azlens.incomplete=true); counted in otelcol_lambdatelemetryreceiver_incomplete", zap.String("reason", rsn))
	}
	if out.EvictedFull > 0 {
		r.incomplete.Add(ctx, int64(out.EvictedFull), metric.WithAttributes(attribute.String("reason", "table_full")))
		r.warnFirst("incomplete:table_full", "correlation table full: emitting oldest invocations incomplete; raise max_pending_invocations", zap.Int("max_pending_invocations", r.cfg.MaxPendingInvocations))
	}
	if out.EnvironmentsForgotten > 0 {
		r.forgotten.Add(ctx, int64(out.EnvironmentsForgotten))
	}
	if out.Duplicate {
		r.duplicates.Add(ctx, 1)
	}
}

func (r *lambdaReceiver) warnFirst(key, msg string, fields ...zap.Field) {
	o, _ := r.warnOnce.LoadOrStore(key, &sync.Once{})
	o.(*sync.Once).Do(func() { r.set.Logger.Warn(msg, fields...) })
}

// Shutdown stops the server (waiting for requests in flight), then emits
// everything still held, marked incomplete, so nothing accepted is lost.
// It is safe without Start and idempotent.
func (r *lambdaReceiver) Shutdown(ctx context.Context) error {
	var err error
	r.shutdownOnce.Do(func() {
		r.forget()
		if r.server != nil {
			err = r.server.Shutdown(ctx)
		}
		close(r.stop)
		r.wg.Wait()
		if r.server != nil {
			r.sweep(r.clock.Now(), "shutdown")
		}
		if r.seqs != nil {
			err = errors.Join(err, r.seqs.close(ctx))
		}
	})
	return err
}

// Kinds of body served.
const (
	bodyTelemetry = iota // a plain Telemetry API POST
	bodyAgentV1
	bodyAgentV2
)

func (r *lambdaReceiver) handleAgentBatch(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, bodyAgentV1)
}

func (r *lambdaReceiver) handleAgentBatchV2(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, bodyAgentV2)
}

func (r *lambdaReceiver) handleTelemetry(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, bodyTelemetry)
}

func (r *lambdaReceiver) handle(w http.ResponseWriter, req *http.Request, kind int) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+req.Method+" not allowed: use POST")
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			r.fail(w, http.StatusUnsupportedMediaType, "content_type", fmt.Sprintf("content-type %q not supported: use application/json", ct))
			return
		}
	}
	body, err := readBody(req, r.cfg.MaxRequestBodySize)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.fail(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than max_request_body_size (%d bytes)", tooLarge.Limit))
			return
		}
		r.fail(w, http.StatusBadRequest, "read", "read body: "+err.Error())
		return
	}
	resp, status, reason, msg := r.process(req.Context(), body, kind)
	if status != http.StatusOK {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		r.fail(w, status, reason, msg)
		return
	}
	writeAccepted(w, resp.Accepted)
}

type acceptedResponse struct {
	Accepted int `json:"accepted"`
}

type errorResponse struct {
	Error string `json:"error"`
}

// process decodes, maps and consumes one body. Decoding is all-or-nothing,
// so a malformed body changes no state.
func (r *lambdaReceiver) process(ctx context.Context, body []byte, kind int) (acceptedResponse, int, string, string) {
	var b *telemetryevent.Batch
	var err error
	resource := r.resource
	agent := kind != bodyTelemetry
	if agent {
		b, err = r.decoder.DecodeAgentBatch(body)
	} else {
		b, err = r.decoder.DecodeEvents(body)
	}
	if err != nil {
		return acceptedResponse{}, http.StatusBadRequest, "malformed", err.Error()
	}
	var sdk mapping.OTLP
	nOTLP := 0
	if kind == bodyAgentV2 {
		var bad []otlpItemError
		sdk, nOTLP, bad, err = decodeOTLP(body)
		if err != nil {
			r.decoder.Release(b)
			return acceptedResponse{}, http.StatusBadRequest, "malformed", err.Error()
		}
		if len(bad) > 0 {
			r.dropped.Add(ctx, int64(len(bad)), metric.WithAttributes(attribute.String("reason", "otlp_undecodable")))
			r.warnFirst("dropped:otlp_undecodable", "dropping OTLP payloads pdata cannot decode (counted in otelcol_lambdatelemetryreceiver_dropped_items{reason=otlp_undecodable})", zap.Error(bad[0]))
		}
	}
	if agent {
		resource = mapping.ResourceFromFields(b.Resource)
	}
	seq, hasSeq := int64(0), false
	if b.Agent != nil {
		seq, hasSeq = b.Agent.Seq, b.Agent.HasSeq
	}
	digest := xxhash.Sum64(body)
	var env string
	if hasSeq && r.seqs != nil {
		env = mapping.EnvKey(resource)
		if r.seqs.applied(env, seq, digest) {
			// Applied and accepted downstream before (by this process or one before a restart):
			// the agent did not get the answer. Applying it again would double-count.
			nEvents := len(b.Events)
			r.decoder.Release(b)
			r.duplicates.Add(ctx, 1)
			return acceptedResponse{Accepted: nEvents + nOTLP}, http.StatusOK, "", ""
		}
	}
	out := r.mapper.Apply(resource, b, digest, r.clock.Now())
	if out.Delivering {
		r.decoder.Release(b)
		return acceptedResponse{}, http.StatusServiceUnavailable, "retryable", fmt.Sprintf("batch seq %d is still being delivered by an earlier attempt: retry later", seq)
	}
	if hasSeq {
		// After the stash below: a retry arriving meanwhile waits for the outcome (mapping.Output.Delivering).
		defer r.mapper.Delivered(resource, seq)
	}
	if !out.Duplicate && (len(sdk.Traces)+len(sdk.Metrics)+len(sdk.Logs)) > 0 {
		joined := r.mapper.ApplyOTLP(resource, sdk, r.clock.Now())
		out.SDKMetrics = pmetric.NewMetrics()
		joined.Metrics.CopyTo(out.SDKMetrics)
		joined.Traces.ResourceSpans().MoveAndAppendTo(out.Traces.ResourceSpans())
		joined.Logs.ResourceLogs().MoveAndAppendTo(out.Logs.ResourceLogs())
		joined.Metrics.ResourceMetrics().MoveAndAppendTo(out.Metrics.ResourceMetrics())
		out.OTLPUnjoined += joined.OTLPUnjoined
	}
	// The mapper keeps copies of what it holds; the output references only
	// the body and the batch's string arena, neither of which is reused.
	nEvents := len(b.Events)
	r.decoder.Release(b)
	r.count(out, "evicted")
	if err := r.consume(ctx, out); err != nil {
		if consumererror.IsPermanent(err) {
			return acceptedResponse{}, http.StatusBadRequest, "rejected_permanent", "rejected downstream: " + err.Error()
		}
		if hasSeq {
			r.mapper.Stash(resource, seq, out)
		}
		return acceptedResponse{}, http.StatusServiceUnavailable, "retryable", "downstream unavailable, retry later: " + err.Error()
	}
	if env != "" {
		// Before the 200: a SIGKILL after this write leaves the agent retrying a batch the
		// successor knows; one before it (after the export) leaves the successor applying the
		// batch again, onto the checkpoint recorded with the batch before: counted once.
		// Not with the request's context: an agent that gave up waiting will retry exactly this.
		if err := r.seqs.record(context.WithoutCancel(ctx), env, seq, digest, out.Checkpoint, r.clock.Now()); err != nil {
			r.warnFirst("storage:record", "storage: recording an applied batch failed; a collector restarted now would continue this environment's metrics from an older state", zap.Error(err))
		}
	}
	return acceptedResponse{Accepted: nEvents + nOTLP}, http.StatusOK, "", ""
}

// consume hands the output to the next consumers with obsreport
// self-telemetry; it returns a permanent error if any consumer's was
// permanent, else the first retryable one.
func (r *lambdaReceiver) consume(ctx context.Context, out mapping.Output) error {
	var errs []error
	if n := out.Traces.SpanCount(); n > 0 && r.nextTraces != nil {
		c := r.obsrep.StartTracesOp(ctx)
		err := r.nextTraces.ConsumeTraces(c, out.Traces)
		r.obsrep.EndTracesOp(c, dataFormat, n, err)
		errs = append(errs, err)
	}
	if n := out.Logs.LogRecordCount(); n > 0 && r.nextLogs != nil {
		c := r.obsrep.StartLogsOp(ctx)
		err := r.nextLogs.ConsumeLogs(c, out.Logs)
		r.obsrep.EndLogsOp(c, dataFormat, n, err)
		errs = append(errs, err)
	}
	if n := out.Metrics.DataPointCount(); n > 0 && r.nextMetrics != nil {
		c := r.obsrep.StartMetricsOp(ctx)
		err := r.nextMetrics.ConsumeMetrics(c, out.Metrics)
		r.obsrep.EndMetricsOp(c, dataFormat, n, err)
		errs = append(errs, err)
	}
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if consumererror.IsPermanent(err) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func (r *lambdaReceiver) fail(w http.ResponseWriter, status int, reason, msg string) {
	r.rejected.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
	r.warnFirst("rejected:"+reason, "rejecting request; further ones are only counted in otelcol_lambdatelemetryreceiver_rejected_requests",
		zap.String("reason", reason), zap.Int("status", status), zap.String("error", msg))
	writeJSON(w, status, errorResponse{Error: msg})
}

// writeAccepted answers 200 with the body json.Marshal makes of acceptedResponse{n}, without
// its reflection: this is the answer to every batch.
func writeAccepted(w http.ResponseWriter, n int) {
	var buf [40]byte
	b := append(buf[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
