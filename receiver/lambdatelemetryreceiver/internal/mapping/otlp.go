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
//   - log records of a sampled SDK trace whose spans have not been seen yet (held, or in a later
//     batch: a spooled batch replayed after newer ones) wait with their payload until those spans
//     are joined or leave, so they follow them into the invocation's trace; unsampled records
//     (no spans will come) and records outside a trace leave at once.

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

type heldLogs struct {
	ld      plog.Logs
	created time.Time
}

// otlpState is the per-environment state of the join.
type otlpState struct {
	recent map[string]ids                      // request id → its invocation's ids
	traces map[pcommon.TraceID]pcommon.TraceID // SDK trace id → invocation trace id, when they differ
	// settled are the SDK trace ids whose spans left (joined or not): log records carrying one
	// take its final trace id at once.
	settled map[pcommon.TraceID]struct{}
	held    []*heldTraces
	logs    []*heldLogs
}

func (env *environment) otlp() *otlpState {
	if env.sdk == nil {
		env.sdk = &otlpState{recent: map[string]ids{}, traces: map[pcommon.TraceID]pcommon.TraceID{},
			settled: map[pcommon.TraceID]struct{}{}}
	}
	return env.sdk
}

// remember records an invocation's ids once they are known (any of its platform events seen).
// requestID must be the invocation's own copy (invocation.requestID), not a view of a request
// body: it becomes the map's key (an assignment to an existing key replaces the key too). It was
// cloned here, three times per invocation (once per platform event).
func (env *environment) remember(requestID string, id ids) {
	s := env.otlp()
	if _, ok := s.recent[requestID]; !ok && len(s.recent) >= maxRecent {
		clear(s.recent)
	}
	s.recent[requestID] = id
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
	s := env.otlp()
	// Traces first: a log record exported after its spans (the SDK flushes its tracer first)
	// may arrive in the same batch, and takes the trace id their join gives.
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
	for _, ld := range p.Logs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			enrich(env.resource, rls.At(i).Resource().Attributes())
		}
		if m.logsWaiting(env, ld) {
			if len(s.logs) >= maxHeld {
				m.emitHeldLogs(env, s.logs[0], &out)
				s.logs = s.logs[1:]
			}
			s.logs = append(s.logs, &heldLogs{ld: ld, created: now})
			continue
		}
		m.emitLogs(env, ld, &out)
	}
	// Spans of this batch may be what held records (of earlier batches) were waiting for.
	m.releaseHeld(env, now.Add(-m.set.CorrelationTimeout), false, &out)
	out.finish()
	return out
}

// logsWaiting reports whether a log payload has a record of a sampled trace whose spans have not
// left yet: its trace id may still change (join without X-Ray tracing).
func (m *Mapper) logsWaiting(env *environment, ld plog.Logs) bool {
	s := env.otlp()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				tid := lr.TraceID()
				if tid.IsEmpty() || !lr.Flags().IsSampled() {
					continue
				}
				if _, ok := s.traces[tid]; ok {
					continue
				}
				if _, ok := s.settled[tid]; !ok {
					return true
				}
			}
		}
	}
	return false
}

// emitLogs moves a log payload into out with the trace ids the join gave.
func (m *Mapper) emitLogs(env *environment, ld plog.Logs, out *Output) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		m.rewriteLogTraces(env, rls.At(i))
	}
	rls.MoveAndAppendTo(out.Logs.ResourceLogs())
}

func (m *Mapper) emitHeldLogs(env *environment, h *heldLogs, out *Output) { m.emitLogs(env, h.ld, out) }

// settle records the trace ids of spans that leave: log records of these traces wait no more.
func (s *otlpState) settle(td ptrace.Traces) {
	forEachSpan(td, func(sp ptrace.Span) {
		if _, ok := s.settled[sp.TraceID()]; ok {
			return
		}
		if len(s.settled) >= maxRecent {
			clear(s.settled)
		}
		s.settled[sp.TraceID()] = struct{}{}
	})
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
	// The SDK's own trace ids settle here (a record carrying one is rewritten through s.traces
	// or, when the ids were equal, already has its final one).
	s.settle(td)
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
	if env.sdk == nil || len(env.sdk.held)+len(env.sdk.logs) == 0 {
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
	// Then the log records, which may have waited for those spans.
	keptLogs := env.sdk.logs[:0]
	for _, h := range env.sdk.logs {
		if all || !h.created.After(deadline) || !m.logsWaiting(env, h.ld) {
			m.emitHeldLogs(env, h, out)
			continue
		}
		keptLogs = append(keptLogs, h)
	}
	clear(env.sdk.logs[len(keptLogs):])
	env.sdk.logs = keptLogs
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
