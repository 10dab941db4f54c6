package mapping

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
)

// Attribute names of docs/otel-mapping.md that OTel semantic conventions do
// not define.
const (
	AttrBilledDurationMs   = "aws.lambda.billed_duration_ms"
	AttrMaxMemoryUsedMB    = "aws.lambda.max_memory_used_mb"
	AttrProducedBytes      = "aws.lambda.produced_bytes"
	AttrInitDurationMs     = "aws.lambda.init_duration_ms"
	AttrRestoreDurationMs  = "aws.lambda.restore_duration_ms"
	AttrInitializationType = "aws.lambda.initialization_type"
	AttrPhase              = "aws.lambda.phase"
	AttrStatus             = "aws.lambda.status"
	AttrType               = "type"

	spanExtensionOverhead = "extensionOverhead"
)

func ms(d float64) time.Duration { return time.Duration(d * float64(time.Millisecond)) }

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// spans returns the span slice of the environment's ResourceSpans in out,
// creating it on first use. Environments per call are few, so a linear
// search is cheap.
func (m *Mapper) spans(env *environment, out *Output) ptrace.SpanSlice {
	for i, e := range out.traceEnvs {
		if e == env {
			return out.Traces.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
		}
	}
	rs := out.Traces.ResourceSpans().AppendEmpty()
	env.resource.CopyTo(rs.Resource().Attributes())
	ss := rs.ScopeSpans().AppendEmpty()
	m.scope(ss.Scope())
	out.traceEnvs = append(out.traceEnvs, env)
	ss.Spans().EnsureCapacity(out.spanHint)
	return ss.Spans()
}

// outcome is the invocation's status: the report's, else runtimeDone's;
// a report without status (as in AWS's own samples) is a success.
func (inv *invocation) outcome() (string, string) {
	for _, e := range []*telemetryevent.Event{inv.report, inv.runtimeDone} {
		if e != nil && e.Status != "" {
			return e.Status, e.ErrorType
		}
	}
	if inv.report != nil || inv.runtimeDone != nil {
		return contract.OutcomeSuccess, ""
	}
	return "", ""
}

// emitInvocation removes inv from the table, appends its span and children
// to out and records its metrics.
func (m *Mapper) emitInvocation(inv *invocation, now time.Time, out *Output) {
	delete(m.pending, invKey{inv.env.key, inv.requestID})
	m.order.Remove(inv.elem)
	// Emitted: what it borrowed from the batch is not kept (the output refers only to strings,
	// which stay valid).
	inv.borrowed = 0
	env := inv.env
	env.dirty = true
	incomplete := !inv.complete()
	if incomplete {
		out.Incomplete++
	}
	if env.activeID == inv.requestID {
		env.activeID = ""
	}
	if inv.start == nil {
		inv.ids = invocationIDs(inv.requestID, inv.runtimeDone, inv.report)
	}

	var durationMs float64
	haveDuration := false
	if inv.report != nil && inv.report.Metrics.Has&telemetryevent.HasDurationMs != 0 {
		durationMs, haveDuration = inv.report.Metrics.DurationMs, true
	} else if inv.runtimeDone != nil && inv.runtimeDone.Metrics.Has&telemetryevent.HasDurationMs != 0 {
		durationMs, haveDuration = inv.runtimeDone.Metrics.DurationMs, true
	}
	var start time.Time
	switch {
	case inv.start != nil:
		start = inv.start.Time
	case inv.runtimeDone != nil:
		start = inv.runtimeDone.Time.Add(-ms(durationMs))
	default:
		start = inv.report.Time.Add(-ms(durationMs))
	}
	end := start.Add(ms(durationMs))
	if !haveDuration {
		// Only the start is known: an instant span, marked incomplete.
		end = start
	}

	status, errorType := inv.outcome()
	coldstart := inv.coldstart || (inv.report != nil && inv.report.Metrics.Has&telemetryevent.HasInitDurationMs != 0)

	spans := m.spans(env, out)
	sp := spans.AppendEmpty()
	sp.SetTraceID(inv.ids.traceID)
	sp.SetSpanID(inv.ids.spanID)
	sp.SetParentSpanID(inv.ids.parent)
	if inv.ids.sampled {
		sp.SetFlags(1)
	}
	sp.SetName(spanName(env))
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(ts(start))
	sp.SetEndTimestamp(ts(end))
	a := sp.Attributes()
	a.EnsureCapacity(invocationAttrs)
	a.PutStr(string(semconv.FaaSInvocationIDKey), inv.requestID)
	a.PutBool(string(semconv.FaaSColdstartKey), coldstart)
	if status != "" {
		a.PutStr(AttrStatus, status)
	}
	if status != "" && status != contract.OutcomeSuccess {
		sp.Status().SetCode(ptrace.StatusCodeError)
		et := errorType
		if et == "" {
			et = status
		}
		a.PutStr(string(semconv.ErrorTypeKey), et)
		sp.Status().SetMessage(et)
	}
	if r := inv.report; r != nil {
		if r.Metrics.Has&telemetryevent.HasBilledDurationMs != 0 {
			putNumber(a, AttrBilledDurationMs, r.Metrics.BilledDurationMs)
		}
		if r.Metrics.Has&telemetryevent.HasMaxMemoryUsedMB != 0 {
			putNumber(a, AttrMaxMemoryUsedMB, r.Metrics.MaxMemoryUsedMB)
		}
		if r.Metrics.Has&telemetryevent.HasInitDurationMs != 0 {
			a.PutDouble(AttrInitDurationMs, r.Metrics.InitDurationMs)
		}
		if r.Metrics.Has&telemetryevent.HasRestoreDurationMs != 0 {
			a.PutDouble(AttrRestoreDurationMs, r.Metrics.RestoreDurationMs)
		}
	}
	if rd := inv.runtimeDone; rd != nil && rd.Metrics.Has&telemetryevent.HasProducedBytes != 0 {
		putNumber(a, AttrProducedBytes, rd.Metrics.ProducedBytes)
	}
	if incomplete {
		a.PutBool(contract.AttrIncomplete, true)
	}

	var responseLatency float64
	haveResponseLatency := false
	if rd := inv.runtimeDone; rd != nil {
		for _, s := range rd.Spans {
			m.child(spans, inv.ids, childSpanID(inv.requestID, s.Name), s.Name, s.Start, s.Start.Add(ms(s.DurationMs)))
			if s.Name == "responseLatency" {
				responseLatency, haveResponseLatency = s.DurationMs, true
			}
		}
	}
	extOverhead := -1.0
	if inv.report != nil && inv.runtimeDone != nil &&
		inv.report.Metrics.Has&telemetryevent.HasDurationMs != 0 &&
		inv.runtimeDone.Metrics.Has&telemetryevent.HasDurationMs != 0 {
		extOverhead = max(inv.report.Metrics.DurationMs-inv.runtimeDone.Metrics.DurationMs, 0)
		if extOverhead > 0 {
			s := start.Add(ms(inv.runtimeDone.Metrics.DurationMs))
			m.child(spans, inv.ids, childSpanID(inv.requestID, spanExtensionOverhead), spanExtensionOverhead, s, s.Add(ms(extOverhead)))
		}
	}

	// Metrics: an invocation of which only the start is known has no
	// outcome; it is counted as incomplete, not as an invocation.
	if status == "" {
		return
	}
	mt := &env.metrics
	mt.invocations[outcomeIndex(status)]++
	if coldstart {
		mt.coldstarts++
	}
	if haveDuration {
		mt.invokeDuration.record(durationMs / 1000)
	}
	if r := inv.report; r != nil {
		if r.Metrics.Has&telemetryevent.HasBilledDurationMs != 0 {
			mt.billedDuration.record(r.Metrics.BilledDurationMs / 1000)
		}
		if r.Metrics.Has&telemetryevent.HasMaxMemoryUsedMB != 0 {
			mt.memUsage.record(r.Metrics.MaxMemoryUsedMB * 1024 * 1024)
		}
	}
	if haveResponseLatency {
		mt.responseLatency.record(responseLatency / 1000)
	}
	if extOverhead >= 0 {
		mt.extensionOverhead.record(extOverhead / 1000)
	}
	if rd := inv.runtimeDone; rd != nil && rd.Metrics.Has&telemetryevent.HasProducedBytes != 0 {
		mt.producedBytes += rd.Metrics.ProducedBytes
	}
}

// invocationAttrs is what an invocation's span carries at most in the usual case (faas.invocation_id,
// faas.coldstart, status, error.type, billed duration, max memory, init duration, produced bytes):
// its map is allocated once at that size rather than grown one Put at a time; a rare extra
// attribute (restore duration, incomplete) grows it once.
const invocationAttrs = 8

// spanName is faas.name, as the FaaS semantic conventions name server spans.
func spanName(env *environment) string {
	if v, ok := env.resource.Get(string(semconv.FaaSNameKey)); ok && v.AsString() != "" {
		return v.AsString()
	}
	return "invocation"
}

func (m *Mapper) child(spans ptrace.SpanSlice, parent ids, id pcommon.SpanID, name string, start, end time.Time) {
	c := spans.AppendEmpty()
	c.SetTraceID(parent.traceID)
	c.SetSpanID(id)
	c.SetParentSpanID(parent.spanID)
	if parent.sampled {
		c.SetFlags(1)
	}
	c.SetName(name)
	c.SetKind(ptrace.SpanKindInternal)
	c.SetStartTimestamp(ts(start))
	c.SetEndTimestamp(ts(end))
}

// emitPhase appends an init or restore span: a child of the environment's
// first invocation when linked, else a trace of its own.
func (m *Mapper) emitPhase(env *environment, p *phase, out *Output) {
	incomplete := !p.complete()
	if incomplete {
		out.Incomplete++
	}
	var first *telemetryevent.Event
	for _, e := range []*telemetryevent.Event{p.start, p.runtimeDone, p.report} {
		if e != nil {
			first = e
			break
		}
	}
	var durationMs float64
	haveDuration := p.report != nil && p.report.Metrics.Has&telemetryevent.HasDurationMs != 0
	if haveDuration {
		durationMs = p.report.Metrics.DurationMs
	}
	start := first.Time
	if p.start == nil && p.report != nil {
		start = p.report.Time.Add(-ms(durationMs))
	}
	end := start.Add(ms(durationMs))

	var id ids
	trace, span := hashIDs(p.name, env.key, start.UTC().Format(time.RFC3339Nano))
	if p.link != nil {
		id = ids{traceID: p.link.traceID, spanID: span, parent: p.link.spanID, sampled: p.link.sampled}
	} else {
		id = ids{traceID: trace, spanID: span}
	}
	sp := m.spans(env, out).AppendEmpty()
	sp.SetTraceID(id.traceID)
	sp.SetSpanID(id.spanID)
	sp.SetParentSpanID(id.parent)
	if id.sampled {
		sp.SetFlags(1)
	}
	sp.SetName(p.name)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetStartTimestamp(ts(start))
	sp.SetEndTimestamp(ts(end))
	a := sp.Attributes()
	a.PutBool(string(semconv.FaaSColdstartKey), p.coldstart)
	if it := p.initializationType(); it != "" {
		a.PutStr(AttrInitializationType, it)
	}
	for _, e := range []*telemetryevent.Event{p.start, p.report, p.runtimeDone} {
		if e != nil && e.Phase != "" {
			a.PutStr(AttrPhase, e.Phase)
			break
		}
	}
	status, errorType := "", ""
	for _, e := range []*telemetryevent.Event{p.report, p.runtimeDone} {
		if e != nil && e.Status != "" {
			status, errorType = e.Status, e.ErrorType
			break
		}
	}
	if status != "" {
		a.PutStr(AttrStatus, status)
	}
	if status != "" && status != contract.OutcomeSuccess {
		if errorType == "" {
			errorType = status
		}
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(errorType)
		a.PutStr(string(semconv.ErrorTypeKey), errorType)
	}
	if incomplete {
		a.PutBool(contract.AttrIncomplete, true)
	}
	for _, e := range []*telemetryevent.Event{p.runtimeDone, p.report} {
		if e == nil {
			continue
		}
		for _, s := range e.Spans {
			_, cid := hashIDs(p.name, env.key, start.UTC().Format(time.RFC3339Nano), s.Name)
			m.child(m.spans(env, out), id, cid, s.Name, s.Start, s.Start.Add(ms(s.DurationMs)))
		}
	}
}

// putNumber keeps integral Lambda metrics (billed ms, MB, bytes) ints.
func putNumber(a pcommon.Map, key string, v float64) {
	putField(a, telemetryevent.Field{Key: key, Kind: telemetryevent.FieldNumber, Num: v})
}
