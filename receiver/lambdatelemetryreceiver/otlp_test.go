package lambdatelemetryreceiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The wire format v2 bodies here are built as the agent builds them: OTLP protobuf from pdata (the
// same wire format the Go SDK's exporters write), base64 in "body"; OTLP/JSON as an object.

var (
	xrayTrace  = pcommon.TraceID{0x5e, 0x1b, 0x43, 0x00, 0x8c, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56}
	xrayParent = pcommon.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	xraySpan   = pcommon.SpanID{0x6b, 0x04, 0xd1, 0x8e, 0x33, 0x7a, 0x01, 0x02}
)

const tracedHeader = "Root=1-5e1b4300-8c123456789abcdef0123456;Parent=53995c3f42cd8ad8;Sampled=1"

func tracedInvocation(requestID string) string {
	tr := `"tracing":{"spanId":"6b04d18e337a0102","type":"X-Amzn-Trace-Id","value":"` + tracedHeader + `"}`
	return `[
 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + requestID + `",` + tr + `}},
 {"time":"2026-03-01T10:00:00.010Z","type":"platform.runtimeDone","record":{"requestId":"` + requestID + `","status":"success","metrics":{"durationMs":10},` + tr + `}},
 {"time":"2026-03-01T10:00:00.011Z","type":"platform.report","record":{"requestId":"` + requestID + `","status":"success","metrics":{"durationMs":11,"billedDurationMs":11,"memorySizeMB":128,"maxMemoryUsedMB":40},` + tr + `}}
]`
}

// sdkTraces is what otellambda exports for one invocation: its server span (faas.invocation_id,
// parent = the propagated context's span) and one child.
func sdkTraces(trace pcommon.TraceID, parent pcommon.SpanID, requestID string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "orders-sdk")
	rs.Resource().Attributes().PutStr("telemetry.sdk.language", "go")
	rs.Resource().Attributes().PutStr("cloud.availability_zone", "us-east-1a") // a zone NAME: replaced by the AZ ID
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda")
	srv := ss.Spans().AppendEmpty()
	srv.SetName("fn")
	srv.SetKind(ptrace.SpanKindServer)
	srv.SetTraceID(trace)
	srv.SetSpanID(pcommon.SpanID{0xaa, 1})
	srv.SetParentSpanID(parent)
	srv.Attributes().PutStr("faas.invocation_id", requestID)
	child := ss.Spans().AppendEmpty()
	child.SetName("work")
	child.SetTraceID(trace)
	child.SetSpanID(pcommon.SpanID{0xaa, 2})
	child.SetParentSpanID(srv.SpanID())
	return td
}

type otlpItem struct {
	Signal   string `json:"signal"`
	Encoding string `json:"encoding"`
	Body     any    `json:"body"`
}

func protoItem(t testing.TB, v any) otlpItem {
	t.Helper()
	var b []byte
	var err error
	var signal string
	switch d := v.(type) {
	case ptrace.Traces:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(d)
		signal = "traces"
	case pmetric.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(d)
		signal = "metrics"
	case plog.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(d)
		signal = "logs"
	}
	if err != nil {
		t.Fatal(err)
	}
	return otlpItem{signal, "protobuf", base64.StdEncoding.EncodeToString(b)}
}

func v2Body(t testing.TB, seq int64, events string, items ...otlpItem) []byte {
	t.Helper()
	ev := []json.RawMessage{}
	if events != "" {
		ev = rawEvents(t, events)
	}
	m := map[string]any{
		"resource": goldenResource,
		"agent":    map[string]any{"name": "azlens-agent", "version": "0.2.0", "seq": seq, "otlp_received": len(items)},
		"events":   ev,
	}
	if items != nil {
		m["otlp"] = items
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// spansByName collects every span received so far.
func spansByName(h *harness) map[string]ptrace.Span {
	out := map[string]ptrace.Span{}
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(res pcommon.Map, sp ptrace.Span) { out[sp.Name()] = sp })
	}
	return out
}

func forEach(td ptrace.Traces, each func(pcommon.Map, ptrace.Span)) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			for k := 0; k < rs.ScopeSpans().At(j).Spans().Len(); k++ {
				each(rs.Resource().Attributes(), rs.ScopeSpans().At(j).Spans().At(k))
			}
		}
	}
}

func resourceOf(h *harness, name string) pcommon.Map {
	var out pcommon.Map
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(res pcommon.Map, sp ptrace.Span) {
			if sp.Name() == name {
				out = res
			}
		})
	}
	return out
}

func TestV2JoinsTheHandlerSpanUnderItsInvocation(t *testing.T) {
	h := newHarness(t, nil)
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 1, tracedInvocation("r1"), protoItem(t, sdkTraces(xrayTrace, xrayParent, "r1"))), false)

	spans := spansByName(h)
	inv, srv, child := spans["fn"], ptrace.Span{}, spans["work"]
	// Two spans are named fn: the platform's invocation span and otellambda's server span.
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(_ pcommon.Map, sp ptrace.Span) {
			if sp.Name() == "fn" && sp.SpanID() == (pcommon.SpanID{0xaa, 1}) {
				srv = sp
			} else if sp.Name() == "fn" {
				inv = sp
			}
		})
	}
	if inv.SpanID() != xraySpan || inv.TraceID() != xrayTrace {
		t.Fatalf("invocation span %s/%s, want the X-Ray ids", inv.TraceID(), inv.SpanID())
	}
	if srv.TraceID() != xrayTrace || srv.ParentSpanID() != xraySpan {
		t.Fatalf("handler span in %s under %s, want trace %s under the invocation span %s", srv.TraceID(), srv.ParentSpanID(), xrayTrace, xraySpan)
	}
	if child.TraceID() != xrayTrace || child.ParentSpanID() != srv.SpanID() {
		t.Fatalf("child span moved: %s under %s", child.TraceID(), child.ParentSpanID())
	}
	res := resourceOf(h, "work")
	for k, want := range map[string]string{
		"cloud.availability_zone": "use1-az1",
		"faas.instance":           "2026/03/01/[$LATEST]0123456789abcdef",
		"service.name":            "orders-sdk",
		"telemetry.sdk.language":  "go",
	} {
		if v, ok := res.Get(k); !ok || v.AsString() != want {
			t.Errorf("SDK resource %s = %v, want %s", k, v.AsRaw(), want)
		}
	}
}

// Without X-Ray tracing the platform derives the invocation's trace id from its request id; the
// SDK's trace (its own random id) moves into it, later payloads and log records included.
func TestV2MovesAnUntracedHandlerIntoTheInvocationTrace(t *testing.T) {
	h := newHarness(t, nil)
	sdkTrace := pcommon.TraceID{9, 9, 9}
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 1, oneInvocation, protoItem(t, sdkTraces(sdkTrace, pcommon.SpanID{}, "r1"))), false)
	// A span of the same trace exported later, and a log record correlated with it.
	late := ptrace.NewTraces()
	sp := late.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("late")
	sp.SetTraceID(sdkTrace)
	sp.SetSpanID(pcommon.SpanID{0xaa, 3})
	sp.SetParentSpanID(pcommon.SpanID{0xaa, 1})
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("sdk log")
	lr.SetTraceID(sdkTrace)
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 2, "", protoItem(t, late), protoItem(t, ld)), false)

	var inv, srv ptrace.Span
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(_ pcommon.Map, s ptrace.Span) {
			switch {
			case s.Name() == "fn" && s.SpanID() == (pcommon.SpanID{0xaa, 1}):
				srv = s
			case s.Name() == "fn":
				inv = s
			}
		})
	}
	if srv.TraceID() != inv.TraceID() || srv.ParentSpanID() != inv.SpanID() {
		t.Fatalf("handler %s under %s; invocation %s/%s", srv.TraceID(), srv.ParentSpanID(), inv.TraceID(), inv.SpanID())
	}
	spans := spansByName(h)
	if spans["work"].TraceID() != inv.TraceID() || spans["late"].TraceID() != inv.TraceID() {
		t.Fatalf("descendants not moved: work %s, late %s, want %s", spans["work"].TraceID(), spans["late"].TraceID(), inv.TraceID())
	}
	found := false
	for _, l := range h.logs.AllLogs() {
		for i := 0; i < l.ResourceLogs().Len(); i++ {
			rl := l.ResourceLogs().At(i)
			recs := rl.ScopeLogs().At(0).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				if recs.At(k).Body().AsString() == "sdk log" {
					found = true
					if recs.At(k).TraceID() != inv.TraceID() {
						t.Fatalf("SDK log record kept trace %s", recs.At(k).TraceID())
					}
					if v, _ := rl.Resource().Attributes().Get("cloud.availability_zone"); v.Str() != "use1-az1" {
						t.Fatalf("SDK log resource without the AZ ID: %v", rl.Resource().Attributes().AsRaw())
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("SDK log record not received")
	}
}

// The SDK's export reaches the agent before the Telemetry API delivers platform.start: its spans
// wait for the invocation, then leave joined; one whose invocation never comes leaves unjoined
// after the correlation timeout.
func TestV2HoldsSpansThatArriveBeforeTheirInvocation(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CorrelationTimeout = time.Minute })
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 1, "", protoItem(t, sdkTraces(xrayTrace, xrayParent, "r1"))), false)
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 2, "", protoItem(t, sdkTraces(pcommon.TraceID{7}, pcommon.SpanID{}, "never"))), false)
	if _, ok := spansByName(h)["work"]; ok {
		t.Fatal("spans of an unknown invocation emitted before it arrived")
	}
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 3, tracedInvocation("r1")), false)
	joined := 0
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(_ pcommon.Map, s ptrace.Span) {
			if s.SpanID() == (pcommon.SpanID{0xaa, 1}) {
				joined++
				if s.ParentSpanID() != xraySpan {
					t.Fatalf("held handler span emitted under %s, want %s", s.ParentSpanID(), xraySpan)
				}
			}
		})
	}
	if joined != 1 {
		t.Fatalf("%d handler spans after the invocation arrived, want 1 (the other is still waiting)", joined)
	}
	h.advance(2 * time.Minute)
	h.r.sweep(h.clock.Now(), "timeout")
	waited := 0
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(_ pcommon.Map, s ptrace.Span) {
			if s.TraceID() == (pcommon.TraceID{7}) {
				waited++
			}
		})
	}
	if waited != 2 {
		t.Fatalf("%d spans of the never-invoked payload after the timeout, want 2", waited)
	}
}

// sdkLogRecords returns the bodies of the SDK log records received so far, by body.
func sdkLogRecords(h *harness) map[string]plog.LogRecord {
	out := map[string]plog.LogRecord{}
	for _, l := range h.logs.AllLogs() {
		for i := 0; i < l.ResourceLogs().Len(); i++ {
			sls := l.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				recs := sls.At(j).LogRecords()
				for k := 0; k < recs.Len(); k++ {
					if b := recs.At(k).Body().AsString(); len(b) > 4 && b[:4] == "sdk " {
						out[b] = recs.At(k)
					}
				}
			}
		}
	}
	return out
}

// invocationOf is oneInvocation with another request id (untraced: ids derived from it).
func invocationOf(requestID string) string {
	return strings.ReplaceAll(oneInvocation, `"r1"`, `"`+requestID+`"`)
}

func sdkLogsOf(trace pcommon.TraceID, sampled bool, body string) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	lr.SetTraceID(trace)
	lr.SetSpanID(pcommon.SpanID{0xaa, 2})
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(sampled))
	return ld
}

// Without X-Ray tracing the join moves the SDK's trace; a log record of that trace must follow it
// even when it arrives before its spans are joined: in the same batch as spans still waiting for
// their invocation, or in a batch before its spans (a spooled batch replayed after newer ones).
// An unsampled record (no span will come) leaves at once, as it is.
func TestV2LogRecordsFollowTheirSpansIntoTheInvocationTrace(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CorrelationTimeout = time.Minute })
	held, early, unsampled := pcommon.TraceID{1, 1}, pcommon.TraceID{2, 2}, pcommon.TraceID{3, 3}
	// r1's spans and log record arrive before r1's platform events.
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 1, "", protoItem(t, sdkTraces(held, pcommon.SpanID{}, "r1")),
		protoItem(t, sdkLogsOf(held, true, "sdk held"))), false)
	// r2's log record arrives before its spans; an unsampled record needs no wait.
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 2, "", protoItem(t, sdkLogsOf(early, true, "sdk early")),
		protoItem(t, sdkLogsOf(unsampled, false, "sdk unsampled"))), false)
	recs := sdkLogRecords(h)
	if len(recs) != 1 || recs["sdk unsampled"].TraceID() != unsampled {
		t.Fatalf("before the spans: %d SDK records emitted, want only the unsampled one, as is", len(recs))
	}
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 3, invocationOf("r1")), false)
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 4, invocationOf("r2"), protoItem(t, sdkTraces(early, pcommon.SpanID{}, "r2"))), false)

	invs := map[string]pcommon.TraceID{}
	for _, td := range h.traces.AllTraces() {
		forEach(td, func(_ pcommon.Map, s ptrace.Span) {
			if s.Kind() == ptrace.SpanKindServer && s.SpanID() != (pcommon.SpanID{0xaa, 1}) {
				id, _ := s.Attributes().Get("faas.invocation_id")
				invs[id.Str()] = s.TraceID()
			}
		})
	}
	recs = sdkLogRecords(h)
	for body, req := range map[string]string{"sdk held": "r1", "sdk early": "r2"} {
		if invs[req].IsEmpty() {
			t.Fatalf("no invocation span for %s", req)
		}
		if _, ok := recs[body]; !ok {
			t.Fatalf("%q never left (records %v)", body, recs)
		}
		if got := recs[body].TraceID(); got != invs[req] {
			t.Errorf("%q: trace %s, want the invocation's %s", body, got, invs[req])
		}
	}
	if len(recs) != 3 {
		t.Fatalf("%d SDK records, want 3 (each once)", len(recs))
	}
}

// A sampled record whose spans never come leaves as it is after the correlation timeout.
func TestV2LogRecordsWaitNoLongerThanTheCorrelationTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CorrelationTimeout = time.Minute })
	h.mustPost(t, AgentBatchV2Path, v2Body(t, 1, "", protoItem(t, sdkLogsOf(pcommon.TraceID{4}, true, "sdk orphan"))), false)
	if len(sdkLogRecords(h)) != 0 {
		t.Fatal("a record of a sampled trace left before its spans or the timeout")
	}
	h.advance(2 * time.Minute)
	h.r.sweep(h.clock.Now(), "timeout")
	if r, ok := sdkLogRecords(h)["sdk orphan"]; !ok || r.TraceID() != (pcommon.TraceID{4}) {
		t.Fatal("the waiting record did not leave, unchanged, after the correlation timeout")
	}
}

func TestV2EnrichesMetricsAndDropsOnlyUndecodablePayloads(t *testing.T) {
	h := newHarness(t, nil)
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("orders.processed")
	m.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(3)
	bad := otlpItem{"traces", "protobuf", base64.StdEncoding.EncodeToString([]byte{0x0a, 0x05, 0x01})}
	js, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	jsonItem := otlpItem{"metrics", "json", json.RawMessage(js)}
	status, msg := h.post(t, AgentBatchV2Path, v2Body(t, 1, oneInvocation, bad, protoItem(t, md), jsonItem))
	if status != http.StatusOK {
		t.Fatalf("%d %s: one bad payload must not refuse the batch", status, msg)
	}
	got := 0
	for _, md := range h.metrics.AllMetrics() {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			ms := rm.ScopeMetrics().At(0).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() == "orders.processed" {
					got++
					if v, _ := rm.Resource().Attributes().Get("faas.instance"); v.Str() == "" {
						t.Fatal("SDK metric without faas.instance")
					}
				}
			}
		}
	}
	if got != 2 {
		t.Fatalf("%d SDK metrics, want 2 (protobuf and JSON)", got)
	}
	if h.traces.SpanCount() == 0 {
		t.Fatal("the batch's platform events were not applied")
	}
	if status, _ := h.post(t, AgentBatchV2Path, []byte(`{"resource":{},"events":[],"otlp":{}}`)); status != http.StatusBadRequest {
		t.Fatalf("otlp not an array: %d", status)
	}
}

// FuzzAgentBatchV2Handler: any v2 body is answered 200 or 400, never a panic.
func FuzzAgentBatchV2Handler(f *testing.F) {
	samples, err := os.ReadFile("testdata/golden/aws_samples/telemetry.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v2Body(f, 1, string(samples)))
	f.Add(v2Body(f, 2, tracedInvocation("r1"), protoItem(f, sdkTraces(xrayTrace, xrayParent, "r1"))))
	f.Add(v2Body(f, 3, "", protoItem(f, sdkTraces(pcommon.TraceID{1}, pcommon.SpanID{}, "r2")), otlpItem{"logs", "json", map[string]any{"resourceLogs": []any{}}}))
	r := fuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, status, _, msg := r.process(context.Background(), body, bodyAgentV2)
		checkStatus(t, status, msg)
	})
}
