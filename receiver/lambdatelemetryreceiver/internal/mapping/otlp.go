package mapping

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// The function's own OpenTelemetry data (wire format v2's "otlp" array) joins the platform's
// view of the same environment:
//
//   - every resource gains the environment's attributes (AZ ID, faas.instance, …); the SDK keeps
//     its own service.* attributes;
//   - the handler's server span (a span carrying faas.invocation_id, as otellambda sets it, whose
//     parent is not in the payload) becomes a child of that invocation's span, in its trace: with
//     X-Ray tracing the SDK and the platform already share the trace id (Root) and only the
//     parent changes (from the X-Ray Parent to the invocation span); without it the SDK's trace
//     id is replaced, for every span and log record of that trace, by the invocation's;
//   - spans whose invocation is not known yet (the SDK's export reaches the agent before the
//     Telemetry API delivers platform.start) wait, per payload, until it is or until the
//     correlation timeout, then leave as they are.

// OTLP is the decoded OTLP content of one batch.
type OTLP struct {
	Traces  []ptrace.Traces
	Metrics []pmetric.Metrics
	Logs    []plog.Logs
}

const (
	// maxRecent bounds, per environment, the invocations and trace id mappings remembered for
	// spans that arrive after their invocation was emitted.
	maxRecent = 1024
	// maxHeld bounds, per environment, the payloads waiting for their invocation; beyond it the
	// oldest leaves unjoined.
	maxHeld = 256
)

type heldTraces struct {
	td      ptrace.Traces
	waiting []string // request ids not known yet
	created time.Time
}

// otlpState is the per-environment state of the join.
type otlpState struct {
	recent map[string]ids                      // request id → its invocation's ids
	traces map[pcommon.TraceID]pcommon.TraceID // SDK trace id → invocation trace id, when they differ
	held   []*heldTraces
}

func (env *environment) otlp() *otlpState {
	if env.sdk == nil {
		env.sdk = &otlpState{recent: map[string]ids{}, traces: map[pcommon.TraceID]pcommon.TraceID{}}
	}
	return env.sdk
}

// remember records an invocation's ids once they are known (any of its platform events seen).
func (env *environment) remember(requestID string, id ids) {
	s := env.otlp()
	if _, ok := s.recent[requestID]; !ok && len(s.recent) >= maxRecent {
		clear(s.recent)
	}
	s.recent[strings.Clone(requestID)] = id
}

// ApplyOTLP maps the OTLP payloads of one batch from the environment described by resource
// (called after Apply for the same batch, whose platform events are then known).
func (m *Mapper) ApplyOTLP(resource pcommon.Map, p OTLP, now time.Time) Output {
	out := newOutput()
	m.mu.Lock()
	defer m.mu.Unlock()
	env := m.environment(resource, now, &out)
	env.lastSeen = now
	if env.resource.Len() == 0 {
		resource.CopyTo(env.resource)
	}
	for _, md := range p.Metrics {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			enrich(env.resource, rms.At(i).Resource().Attributes())
		}
		rms.MoveAndAppendTo(out.Metrics.ResourceMetrics())
	}
	for _, ld := range p.Logs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			enrich(env.resource, rls.At(i).Resource().Attributes())
			m.rewriteLogTraces(env, rls.At(i))
		}
		rls.MoveAndAppendTo(out.Logs.ResourceLogs())
	}
	s := env.otlp()
	for _, td := range p.Traces {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			enrich(env.resource, rss.At(i).Resource().Attributes())
		}
		if waiting := m.unknownInvocations(env, td); len(waiting) > 0 {
			if len(s.held) >= maxHeld {
				m.emitHeld(env, s.held[0], &out)
				s.held = s.held[1:]
			}
			s.held = append(s.held, &heldTraces{td: td, waiting: waiting, created: now})
			continue
		}
		m.join(env, td)
		out.pendingSDK = append(out.pendingSDK, td)
	}
	out.finish()
	return out
}

// enrich puts the environment's attributes on an SDK resource; the platform's values win (the
// SDK cannot know the AZ ID or the environment id), except service.*, which the SDK sets from the
// same OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES the agent reads.
func enrich(env, res pcommon.Map) {
	env.Range(func(k string, v pcommon.Value) bool {
		if strings.HasPrefix(k, "service.") {
			if _, ok := res.Get(k); ok {
				return true
			}
		}
		v.CopyTo(res.PutEmpty(k))
		return true
	})
}

// handlerRoots calls each for every span carrying faas.invocation_id whose parent is not in the
// payload: the handler's server span of otellambda (or any instrumentation following semconv).
func handlerRoots(td ptrace.Traces, each func(sp ptrace.Span, requestID string)) {
	inPayload := map[pcommon.SpanID]bool{}
	forEachSpan(td, func(sp ptrace.Span) { inPayload[sp.SpanID()] = true })
	forEachSpan(td, func(sp ptrace.Span) {
		v, ok := sp.Attributes().Get(string(semconv.FaaSInvocationIDKey))
		if !ok || v.Str() == "" || inPayload[sp.ParentSpanID()] {
			return
		}
		each(sp, v.Str())
	})
}

func forEachSpan(td ptrace.Traces, each func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				each(spans.At(k))
			}
		}
	}
}

// known returns the ids of an invocation of env: pending in the table or recently emitted.
func (m *Mapper) known(env *environment, requestID string) (ids, bool) {
	if inv := m.pending[invKey{env.key, requestID}]; inv != nil {
		return inv.ids, true
	}
	id, ok := env.otlp().recent[requestID]
	return id, ok
}

func (m *Mapper) unknownInvocations(env *environment, td ptrace.Traces) []string {
	var out []string
	handlerRoots(td, func(_ ptrace.Span, requestID string) {
		if _, ok := m.known(env, requestID); !ok {
			out = append(out, strings.Clone(requestID))
		}
	})
	return out
}

// join re-parents the handler roots of td under their invocations and moves their traces into
// the invocations' traces; it returns how many roots had no known invocation.
func (m *Mapper) join(env *environment, td ptrace.Traces) int {
	s := env.otlp()
	unjoined := 0
	handlerRoots(td, func(sp ptrace.Span, requestID string) {
		id, ok := m.known(env, requestID)
		if !ok {
			unjoined++
			return
		}
		if from := sp.TraceID(); from != id.traceID {
			if len(s.traces) >= maxRecent {
				clear(s.traces)
			}
			s.traces[from] = id.traceID
		}
		sp.SetParentSpanID(id.spanID)
	})
	if len(s.traces) > 0 {
		forEachSpan(td, func(sp ptrace.Span) {
			if to, ok := s.traces[sp.TraceID()]; ok {
				sp.SetTraceID(to)
			}
		})
	}
	return unjoined
}

func (m *Mapper) rewriteLogTraces(env *environment, rl plog.ResourceLogs) {
	s := env.otlp()
	if len(s.traces) == 0 {
		return
	}
	sls := rl.ScopeLogs()
	for j := 0; j < sls.Len(); j++ {
		lrs := sls.At(j).LogRecords()
		for k := 0; k < lrs.Len(); k++ {
			if to, ok := s.traces[lrs.At(k).TraceID()]; ok {
				lrs.At(k).SetTraceID(to)
			}
		}
	}
}

// releaseHeld emits the held payloads of env whose invocations are all known now, or that waited
// longer than the correlation timeout (or every one, when deadline is zero: shutdown, forgetting).
func (m *Mapper) releaseHeld(env *environment, deadline time.Time, all bool, out *Output) {
	if env.sdk == nil || len(env.sdk.held) == 0 {
		return
	}
	kept := env.sdk.held[:0]
	for _, h := range env.sdk.held {
		ready := all || !h.created.After(deadline)
		if !ready {
			ready = true
			for _, r := range h.waiting {
				if _, ok := m.known(env, r); !ok {
					ready = false
					break
				}
			}
		}
		if ready {
			m.emitHeld(env, h, out)
			continue
		}
		kept = append(kept, h)
	}
	clear(env.sdk.held[len(kept):])
	env.sdk.held = kept
}

func (m *Mapper) emitHeld(env *environment, h *heldTraces, out *Output) {
	out.OTLPUnjoined += m.join(env, h.td)
	out.pendingSDK = append(out.pendingSDK, h.td)
}

// finish appends SDK traces released during a call after the platform's spans (whose resource
// slots m.spans indexes) are complete.
func (out *Output) finish() {
	for _, td := range out.pendingSDK {
		td.ResourceSpans().MoveAndAppendTo(out.Traces.ResourceSpans())
	}
	out.pendingSDK = nil
}
