package mapping

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/goleak"

	"github.com/azlens/azlens/internal/telemetryevent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const invocationBatch = `[
 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}},
 {"time":"2026-03-01T10:00:00.005Z","type":"function","record":"line without request id"},
 {"time":"2026-03-01T10:00:00.010Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":10}}},
 {"time":"2026-03-01T10:00:00.011Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":11}}}
]`

func newTestMapper() *Mapper {
	return New(Settings{CorrelationTimeout: time.Minute, MaxPending: 10, MaxEnvironments: 10, ScopeName: "test"})
}

func resource(instance string) pcommon.Map {
	r := pcommon.NewMap()
	r.PutStr("faas.name", "fn")
	r.PutStr("faas.instance", instance)
	return r
}

// Two receivers with no shared state (or a replay) derive the same ids
// for an invocation without tracing, and its logs join its span.
func TestDeterministicIDsWithoutSharedState(t *testing.T) {
	var d telemetryevent.Decoder
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var spanIDs, traceIDs []string
	for range 2 {
		b, err := d.DecodeEvents([]byte(invocationBatch))
		if err != nil {
			t.Fatal(err)
		}
		out := newTestMapper().Apply(resource("env-1"), b, 0, now)
		if out.Traces.SpanCount() != 2 {
			t.Fatalf("got %d spans, want invocation + extensionOverhead", out.Traces.SpanCount())
		}
		sp := out.Traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		traceIDs = append(traceIDs, sp.TraceID().String())
		spanIDs = append(spanIDs, sp.SpanID().String())
		line := out.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1)
		if line.TraceID() != sp.TraceID() || line.SpanID() != sp.SpanID() {
			t.Fatal("text log line not joined to the active invocation")
		}
	}
	if traceIDs[0] != traceIDs[1] || spanIDs[0] != spanIDs[1] {
		t.Fatalf("ids differ between mappers: %v %v", traceIDs, spanIDs)
	}
}

func TestEnvironmentsAreBounded(t *testing.T) {
	m := New(Settings{CorrelationTimeout: time.Minute, MaxPending: 10, MaxEnvironments: 2, EnvironmentIdle: time.Hour, ScopeName: "test"})
	var d telemetryevent.Decoder
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	forgotten := 0
	for i, inst := range []string{"a", "b", "c"} {
		b, err := d.DecodeEvents([]byte(`[{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r"}}]`))
		if err != nil {
			t.Fatal(err)
		}
		out := m.Apply(resource(inst), b, 0, now.Add(time.Duration(i)*time.Second))
		forgotten += out.EnvironmentsForgotten
		if inst == "c" && out.Incomplete != 1 {
			t.Fatalf("forgetting env a emitted %d incomplete invocations, want 1", out.Incomplete)
		}
	}
	if forgotten != 1 || len(m.envs) != 2 {
		t.Fatalf("forgotten=%d envs=%d, want 1 and 2", forgotten, len(m.envs))
	}
	// Idle environments are forgotten by the sweep.
	out := m.Sweep(now.Add(2 * time.Hour))
	if out.EnvironmentsForgotten != 2 || len(m.envs) != 0 {
		t.Fatalf("sweep forgot %d, %d left", out.EnvironmentsForgotten, len(m.envs))
	}
}

// lineInvocations maps each function log line of out to its faas.invocation_id ("" for none).
func lineInvocations(out Output) map[string]string {
	got := map[string]string{}
	rls := out.Logs.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if typ, _ := lr.Attributes().Get(AttrType); typ.Str() != "function" {
					continue
				}
				id, _ := lr.Attributes().Get("faas.invocation_id")
				got[lr.Body().Str()] = id.Str()
			}
		}
	}
	return got
}

// agent.active says which invocation a batch's leading function lines belong to, whatever this
// receiver saw last: a batch built while r1 was active, processed after r2 started (replayed from
// the spool, or sent to a restarted collector), still joins its lines to r1. A batch without it
// (an older agent) keeps the receiver's own notion.
func TestAgentActiveAttributesLinesOfBatchesOutOfOrder(t *testing.T) {
	var d telemetryevent.Decoder
	m := newTestMapper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	apply := func(agent, events string) map[string]string {
		t.Helper()
		b, err := d.DecodeAgentBatch([]byte(`{"resource":{"faas.name":"fn","faas.instance":"env-1"},"agent":` + agent + `,"events":[` + events + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return lineInvocations(m.Apply(resource("env-1"), b, 0, now))
	}
	const (
		startR2 = `{"time":"2026-03-01T10:00:01.000Z","type":"platform.start","record":{"requestId":"r2"}}`
		endR1   = `{"time":"2026-03-01T10:00:00.900Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success"}},` +
			`{"time":"2026-03-01T10:00:00.901Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":1}}}`
	)
	line := func(s string) string {
		return `{"time":"2026-03-01T10:00:00.500Z","type":"function","record":"` + s + `"}`
	}
	// r2's start is processed first; then the batch that was built while r1 was active.
	if got := apply(`{"seq":2,"active":""}`, startR2+","+line("r2 line")); got["r2 line"] != "r2" {
		t.Fatalf("line after r2's start: %v", got)
	}
	if got := apply(`{"seq":1,"active":"r1"}`, line("r1 line")+","+endR1+","+line("after r1")); got["r1 line"] != "r1" || got["after r1"] != "" {
		t.Fatalf("late batch of r1: %v, want r1's line on r1 and the line after its report on none", got)
	}
	if got := apply(`{"seq":3,"active":"r2"}`, line("r2 again")); got["r2 again"] != "r2" {
		t.Fatalf("batch of r2: %v", got)
	}
	// An older agent: no agent.active, the receiver's notion (r2, from the last batch) stays.
	if got := apply(`{"seq":4}`, line("old agent")); got["old agent"] != "r2" {
		t.Fatalf("batch without agent.active: %v", got)
	}
	// Without agent.active the late batch would have joined r2 — the bug this field fixes.
	if got := apply(`{"seq":5}`, line("r1 line, old agent")); got["r1 line, old agent"] != "r2" {
		t.Fatalf("baseline: %v", got)
	}
}

// An invocation still open at the end of a batch keeps its own copies of the events it borrowed
// from the batch: the decoder reuses a released batch's events, here simulated by overwriting
// them, and the span emitted when the report arrives in a later batch still has the start's time
// and runtimeDone's spans and metrics.
func TestHeldInvocationOutlivesItsBatch(t *testing.T) {
	var d telemetryevent.Decoder
	m := newTestMapper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b, err := d.DecodeEvents([]byte(`[
 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}},
 {"time":"2026-03-01T10:00:00.010Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":10,"producedBytes":7},"spans":[{"name":"responseLatency","start":"2026-03-01T10:00:00.001Z","durationMs":5}]}}
]`))
	if err != nil {
		t.Fatal(err)
	}
	if out := m.Apply(resource("env-1"), b, 0, now); out.Traces.SpanCount() != 0 {
		t.Fatalf("emitted %d spans before the report", out.Traces.SpanCount())
	}
	for i := range b.Events {
		b.Events[i] = telemetryevent.Event{Time: now, RequestID: "other", Spans: []telemetryevent.Span{{Name: "reused"}}}
	}
	b2, err := d.DecodeEvents([]byte(`[{"time":"2026-03-01T10:00:00.011Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":11}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	out := m.Apply(resource("env-1"), b2, 0, now)
	spans := out.Traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	if spans.Len() != 3 {
		t.Fatalf("got %d spans, want invocation, responseLatency, extensionOverhead", spans.Len())
	}
	inv := spans.At(0)
	if got := inv.StartTimestamp().AsTime(); !got.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("invocation starts at %v, want the platform.start's time", got)
	}
	if v, ok := inv.Attributes().Get(AttrProducedBytes); !ok || v.Int() != 7 {
		t.Fatalf("%s = %v, want runtimeDone's 7", AttrProducedBytes, v.AsRaw())
	}
	if id, _ := inv.Attributes().Get("faas.invocation_id"); id.Str() != "r1" {
		t.Fatalf("faas.invocation_id = %q", id.Str())
	}
	if name := spans.At(1).Name(); name != "responseLatency" {
		t.Fatalf("child span %q, want runtimeDone's responseLatency", name)
	}
}
