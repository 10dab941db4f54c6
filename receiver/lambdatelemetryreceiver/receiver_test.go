package lambdatelemetryreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

const oneInvocation = `[
 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}},
 {"time":"2026-03-01T10:00:00.010Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":10}}},
 {"time":"2026-03-01T10:00:00.011Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":11,"billedDurationMs":11,"memorySizeMB":128,"maxMemoryUsedMB":40}}}
]`

func rawEvents(t testing.TB, s string) []json.RawMessage {
	var ev []json.RawMessage
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"

	// Shutdown without Start is safe.
	r, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Start, shut down twice; then again on the same fixed port, which must have been released.
	var port string
	for i := range 2 {
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:" + port
		if port == "" {
			cfg.NetAddr.Endpoint = "127.0.0.1:0"
		}
		tr, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		mr, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		if tr != mr {
			t.Fatal("signals of one config do not share one receiver")
		}
		if err := tr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		// A second Start (the collector calls it once per signal) is a no-op.
		if err := mr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
		_, port, _ = net.SplitHostPort(tr.(*lambdaReceiver).listenAddr.String())
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := mr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxRequestBodySize = 4096 })
	url := "http://" + h.r.listenAddr.String()
	tests := []struct {
		name, method, path, ctype, body string
		wantStatus                      int
		wantErr                         string
	}{
		{"get", http.MethodGet, AgentBatchPath, "", "", http.StatusMethodNotAllowed, "method GET not allowed"},
		{"xml", http.MethodPost, AgentBatchPath, "text/xml", "<a/>", http.StatusUnsupportedMediaType, `content-type "text/xml" not supported`},
		{"not json", http.MethodPost, AgentBatchPath, "application/json", "{", http.StatusBadRequest, "body is not json"},
		{"no resource", http.MethodPost, AgentBatchPath, "application/json", `{"events":[]}`, http.StatusBadRequest, "resource: missing"},
		{"bad event", http.MethodPost, TelemetryPath, "application/json", `[{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"ok"}},{"time":"x","type":"function","record":"y"}]`, http.StatusBadRequest, `events[1].time: "x" is not an rfc 3339 timestamp`},
		{"too large", http.MethodPost, TelemetryPath, "application/json", "[" + strings.Repeat(`"x",`, 2000) + `"x"]`, http.StatusRequestEntityTooLarge, "body larger than max_request_body_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e errorResponse
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(e.Error, tt.wantErr) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, e.Error, tt.wantStatus, tt.wantErr)
			}
		})
	}
	// Nothing of a rejected request was applied: the valid start of "bad event" is not pending.
	if n := h.r.mapper.Pending(); n != 0 {
		t.Fatalf("%d invocations pending after rejected requests", n)
	}
	if h.traces.SpanCount()+h.logs.LogRecordCount()+h.metrics.DataPointCount() != 0 {
		t.Fatal("rejected requests produced output")
	}
}

func TestGzipAgentBatch(t *testing.T) {
	h := newHarness(t, nil)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(agentBody(t, 1, rawEvents(t, oneInvocation)))
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.r.listenAddr.String()+AgentBatchPath, &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ok acceptedResponse
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil || resp.StatusCode != http.StatusOK || ok.Accepted != 3 {
		t.Fatalf("status %d, %+v, %v", resp.StatusCode, ok, err)
	}
	if got := h.traces.SpanCount(); got != 2 { // invocation + extensionOverhead
		t.Fatalf("got %d spans, want 2", got)
	}
}

// switchable fails with err until it is cleared, then records like a sink.
type switchable struct {
	mu  sync.Mutex
	err error
	consumertest.TracesSink
}

func (s *switchable) set(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

func (s *switchable) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.TracesSink.ConsumeTraces(ctx, td)
}

func TestConsumerErrors(t *testing.T) {
	sw := &switchable{}
	h := newHarness(t, nil, func(c *harnessConsumers) { c.traces = sw })

	sw.set(consumererror.NewPermanent(errors.New("schema rejected")))
	if code, msg := h.post(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, oneInvocation))); code != http.StatusBadRequest || !strings.Contains(msg, "schema rejected") {
		t.Fatalf("permanent: got %d %s, want 400", code, msg)
	}

	sw.set(errors.New("queue full"))
	events := rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r2"`))
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.r.listenAddr.String()+AgentBatchPath, bytes.NewReader(agentBody(t, 2, events)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("retryable: got %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// The agent retries the same seq once the pipeline recovers: the spans
	// come through once, and the invocation is counted once.
	sw.set(nil)
	if code, msg := h.post(t, AgentBatchPath, agentBody(t, 2, events)); code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, msg)
	}
	if got := sw.SpanCount(); got != 2 {
		t.Fatalf("after retry got %d spans, want 2", got)
	}
	all := h.metrics.AllMetrics()
	if got := invocations(t, all[len(all)-1]); got != 2 {
		t.Fatalf("faas.invocations = %d after retry, want 2 (r1 and r2, each once)", got)
	}
}

func invocations(t *testing.T, md pmetric.Metrics) int64 {
	t.Helper()
	var n int64
	for _, v := range invocationSeries(md) {
		n += v
	}
	return n
}

func TestCorrelationTableFull(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPendingInvocations = 1 })
	starts := `[
	 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"a"}},
	 {"time":"2026-03-01T10:00:01.000Z","type":"platform.start","record":{"requestId":"b"}}]`
	if code, msg := h.post(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, starts))); code != http.StatusOK {
		t.Fatalf("%d %s", code, msg)
	}
	td := h.traces.AllTraces()
	if len(td) != 1 || td[0].SpanCount() != 1 {
		t.Fatalf("want the oldest invocation emitted, got %d batches", len(td))
	}
	sp := td[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	if v, ok := sp.Attributes().Get(contract.AttrIncomplete); !ok || !v.Bool() {
		t.Fatal("evicted invocation not marked azlens.incomplete")
	}
	if id, _ := sp.Attributes().Get("faas.invocation_id"); id.Str() != "a" {
		t.Fatalf("evicted %q, want the oldest (a)", id.Str())
	}
	if h.r.mapper.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", h.r.mapper.Pending())
	}
}

// TestShutdownFlushes: what is held at shutdown is emitted, not lost.
func TestShutdownFlushes(t *testing.T) {
	h := newHarness(t, nil)
	start := `[{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"held"}}]`
	if code, msg := h.post(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, start))); code != http.StatusOK {
		t.Fatalf("%d %s", code, msg)
	}
	if h.traces.SpanCount() != 0 {
		t.Fatal("partial invocation emitted early")
	}
	if err := h.r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.traces.SpanCount() != 1 {
		t.Fatalf("got %d spans after shutdown, want the held invocation", h.traces.SpanCount())
	}
}

// TestSweepLoopRuns checks the ticker-driven sweep with a real (short)
// interval: it waits for the sink to receive, not for a fixed time.
func TestSweepTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CorrelationTimeout = time.Minute })
	start := `[{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"late"}}]`
	if code, msg := h.post(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, start))); code != http.StatusOK {
		t.Fatalf("%d %s", code, msg)
	}
	h.advance(59 * time.Second)
	h.r.sweep(h.clock.Now(), "timeout")
	if h.traces.SpanCount() != 0 {
		t.Fatal("emitted before the correlation timeout")
	}
	h.advance(2 * time.Second)
	h.r.sweep(h.clock.Now(), "timeout")
	if h.traces.SpanCount() != 1 {
		t.Fatal("not emitted after the correlation timeout")
	}
}

var _ consumer.Traces = (*switchable)(nil)

// TestRestartedAgentReusingSeq: an agent that restarts in the same
// environment starts its seq again; its new batches are not mistaken for
// retries because their bodies differ.
func TestRestartedAgentReusingSeq(t *testing.T) {
	h := newHarness(t, nil)
	first := rawEvents(t, oneInvocation)
	second := rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r9"`))
	for _, ev := range [][]json.RawMessage{first, first, second} {
		if code, msg := h.post(t, AgentBatchPath, agentBody(t, 1, ev)); code != http.StatusOK {
			t.Fatalf("%d %s", code, msg)
		}
	}
	all := h.metrics.AllMetrics()
	if got := invocations(t, all[len(all)-1]); got != 2 {
		t.Fatalf("faas.invocations = %d, want 2 (the retry of the first batch skipped, the restarted agent's batch applied)", got)
	}
}

// TestSelfTelemetry: drops and rejections are counted as metrics, and the
// standard receiver metrics (obsreport) count accepted items.
func TestSelfTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.MaxPendingInvocations = 1
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	tr, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	r := tr.(*lambdaReceiver)
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	h := &harness{r: r}
	starts := `[
	 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"a"}},
	 {"time":"2026-03-01T10:00:01.000Z","type":"platform.start","record":{"requestId":"b"}}]`
	if code, _ := h.post(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, starts))); code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _ := h.post(t, AgentBatchPath, []byte(`{`)); code != http.StatusBadRequest {
		t.Fatal(code)
	}
	for name, want := range map[string]int64{
		"otelcol_lambdatelemetryreceiver_incomplete":        1,
		"otelcol_lambdatelemetryreceiver_rejected_requests": 1,
		"otelcol_receiver_accepted_spans":                   1,
	} {
		m, err := tel.GetMetric(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sum, ok := m.Data.(metricdata.Sum[int64])
		if !ok || len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != want {
			t.Errorf("%s = %+v, want one point of %d", name, m.Data, want)
		}
	}
}

// heldLogs holds its first ConsumeLogs until released and fails it (an export the agent gave up
// waiting for, then cancelled); later calls reach the sink.
type heldLogs struct {
	entered, release chan struct{}
	first            sync.Once
	consumertest.LogsSink
}

func (h *heldLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	held := false
	h.first.Do(func() { held = true })
	if held {
		close(h.entered)
		<-h.release
		return errors.New("rpc error: code = Canceled desc = context canceled")
	}
	return h.LogsSink.ConsumeLogs(ctx, ld)
}

// TestRetryDuringDeliveryWaitsForItsOutcome: an agent whose request timed out retries while the
// collector is still exporting the first attempt. The retry must not be answered before that
// attempt ends: answered 200 then (nothing stashed yet to re-send), and the first attempt failing
// after, the batch's logs were lost — seen in the fault soak as a whole invocation missing.
func TestRetryDuringDeliveryWaitsForItsOutcome(t *testing.T) {
	logs := &heldLogs{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, nil, func(c *harnessConsumers) { c.logs = logs })
	batch := agentBody(t, 5, rawEvents(t, oneInvocation))
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(logs.release) }) }
	defer release() // a failed assertion must not leave the first attempt (and Shutdown) blocked

	firstCode := make(chan int, 1)
	go func() {
		code, _ := h.post(t, AgentBatchPath, batch)
		firstCode <- code
	}()
	<-logs.entered
	if code, msg := h.post(t, AgentBatchPath, batch); code != http.StatusServiceUnavailable || !strings.Contains(msg, "seq 5 is still being delivered") {
		t.Fatalf("retry during the first attempt: %d %s, want 503 naming the seq", code, msg)
	}
	release()
	if code := <-firstCode; code != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: %d, want 503 (its export failed)", code)
	}
	h.mustPost(t, AgentBatchPath, batch, true)
	if n := logs.LogRecordCount(); n != 3 {
		t.Fatalf("%d log records reached the sink after the retry, want the batch's 3", n)
	}
	if got := countedInvocations(t, h); got != 1 {
		t.Fatalf("counted %d invocations, want 1", got)
	}
}
