package mapping

import (
	"math"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
)

// logIDs finds the invocation a log record belongs to: its own requestId
// (JSON format), else the invocation active in the environment.
func (m *Mapper) logIDs(env *environment, requestID string) (string, ids, bool) {
	if requestID == "" {
		if env.activeID == "" {
			return "", ids{}, false
		}
		return env.activeID, env.activeIDs, true
	}
	if inv := m.pending[invKey{env.key, requestID}]; inv != nil {
		return requestID, inv.ids, true
	}
	if requestID == env.activeID {
		return requestID, env.activeIDs, true
	}
	// The invocation is unknown here (already emitted, or its start is in a
	// lost batch): the deterministic ids still join when it had no tracing.
	return requestID, invocationIDs(requestID), true
}

func setLogIDs(lr plog.LogRecord, requestID string, id ids) {
	lr.Attributes().PutStr(string(semconv.FaaSInvocationIDKey), requestID)
	lr.SetTraceID(id.traceID)
	lr.SetSpanID(id.spanID)
	if id.sampled {
		lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	}
}

// addLog maps a function or extension log line.
func (m *Mapper) addLog(env *environment, e *telemetryevent.Event, logs plog.LogRecordSlice) {
	lr := logs.AppendEmpty()
	lr.SetObservedTimestamp(ts(e.Time))
	if !e.Timestamp.IsZero() {
		lr.SetTimestamp(ts(e.Timestamp))
	} else {
		lr.SetTimestamp(ts(e.Time))
	}
	lr.Body().SetStr(e.Message)
	if e.Level != "" {
		lr.SetSeverityText(e.Level)
		lr.SetSeverityNumber(severity(e.Level))
	}
	a := lr.Attributes()
	// Sized once (type, faas.invocation_id, the record's fields): a map grown one Put at a time
	// reallocates its array at 1, 2, 4, 8 entries.
	a.EnsureCapacity(2 + len(e.Fields))
	a.PutStr(AttrType, e.TypeName)
	for _, f := range e.Fields {
		putField(a, f)
	}
	if rid, id, ok := m.logIDs(env, e.RequestID); ok {
		setLogIDs(lr, rid, id)
	}
}

// addPlatformLog keeps a platform event as a log record whose body is the
// record's JSON, so nothing the Telemetry API said is lost.
func (m *Mapper) addPlatformLog(env *environment, e *telemetryevent.Event, logs plog.LogRecordSlice, id ids, haveIDs bool) {
	lr := logs.AppendEmpty()
	lr.SetTimestamp(ts(e.Time))
	lr.SetObservedTimestamp(ts(e.Time))
	lr.Body().SetStr(e.Record)
	if haveIDs {
		lr.Attributes().EnsureCapacity(2) // type and faas.invocation_id
	}
	lr.Attributes().PutStr(AttrType, e.TypeName)
	switch {
	case e.Status != "" && e.Status != contract.OutcomeSuccess, e.ErrorType != "":
		lr.SetSeverityText("ERROR")
		lr.SetSeverityNumber(plog.SeverityNumberError)
	case e.Type == telemetryevent.TypePlatformLogsDropped:
		lr.SetSeverityText("WARN")
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
	default:
		lr.SetSeverityText("INFO")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
	}
	if haveIDs {
		setLogIDs(lr, e.RequestID, id)
	}
}

func severity(level string) plog.SeverityNumber {
	switch strings.ToUpper(level) {
	case "TRACE":
		return plog.SeverityNumberTrace
	case "DEBUG":
		return plog.SeverityNumberDebug
	case "INFO":
		return plog.SeverityNumberInfo
	case "WARN", "WARNING":
		return plog.SeverityNumberWarn
	case "ERROR":
		return plog.SeverityNumberError
	case "FATAL", "CRITICAL":
		return plog.SeverityNumberFatal
	}
	return plog.SeverityNumberUnspecified
}

// putField sets an attribute from a decoded JSON value; integral numbers
// become ints so `faas.max_memory` stays an int.
func putField(a pcommon.Map, f telemetryevent.Field) {
	switch f.Kind {
	case telemetryevent.FieldString, telemetryevent.FieldJSON:
		a.PutStr(f.Key, f.Str)
	case telemetryevent.FieldBool:
		a.PutBool(f.Key, f.Bool)
	case telemetryevent.FieldNumber:
		if f.Num == math.Trunc(f.Num) && math.Abs(f.Num) < 1<<53 {
			a.PutInt(f.Key, int64(f.Num))
		} else {
			a.PutDouble(f.Key, f.Num)
		}
	}
}

// ResourceFromFields builds a resource from the agent's `resource` object.
func ResourceFromFields(fields []telemetryevent.Field) pcommon.Map {
	r := pcommon.NewMap()
	r.EnsureCapacity(len(fields))
	for _, f := range fields {
		putField(r, f)
	}
	return r
}
