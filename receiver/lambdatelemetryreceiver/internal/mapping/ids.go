package mapping

import (
	"crypto/sha256"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/azlens/azlens/internal/telemetryevent"
	"github.com/azlens/azlens/internal/xray"
)

// ids are the trace identifiers of one invocation.
type ids struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	parent  pcommon.SpanID
	sampled bool
	// fromXRay is true when traceID came from the X-Ray header.
	fromXRay bool
}

// Deterministic ids are a hash of the request id (or environment and phase)
// so that two receivers, or a replay of the same batch, produce the same ids
// without sharing state. The prefix separates the id spaces.
//
// The input is laid out in a buffer on the stack and hashed in one call: sha256.New is a heap
// object per call, and this runs for every child span of every invocation.
func hashIDs(parts ...string) (pcommon.TraceID, pcommon.SpanID) {
	var buf [192]byte
	in := append(buf[:0], "azlens/v1"...)
	for _, p := range parts {
		in = append(in, 0)
		in = append(in, p...)
	}
	sum := sha256.Sum256(in)
	var t pcommon.TraceID
	var s pcommon.SpanID
	copy(t[:], sum[:16])
	copy(s[:], sum[16:24])
	// An all-zero id is invalid in OTel; a hash yields one with probability 2^-64.
	if s.IsEmpty() {
		s[7] = 1
	}
	return t, s
}

func childSpanID(requestID, name string) pcommon.SpanID {
	_, s := hashIDs("child", requestID, name)
	return s
}

// invocationIDs derives the ids of an invocation from the first tracing
// object found on its events; without one they are derived from requestId.
func invocationIDs(requestID string, events ...*telemetryevent.Event) ids {
	var id ids
	for _, e := range events {
		if e == nil || !e.Tracing.Present || e.Tracing.Header.TraceID.IsEmpty() {
			continue
		}
		h := e.Tracing.Header
		id.traceID, id.parent, id.sampled, id.fromXRay = h.TraceID, h.ParentID, h.Sampled(), true
		if e.Tracing.SpanID != "" {
			// Validated by the decoder.
			id.spanID, _ = xray.ParseSpanID(e.Tracing.SpanID)
		} else {
			_, id.spanID = hashIDs("invocation", requestID)
		}
		return id
	}
	id.traceID, id.spanID = hashIDs("invocation", requestID)
	return id
}
