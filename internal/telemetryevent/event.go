// Package telemetryevent decodes Lambda Telemetry API events (and the azlens
// agent's batch envelope around them) into plain Go values with fastjson.
//
// Decoding is all-or-nothing: a body either decodes completely or the error
// names the first offending field (`events[3].record.requestId: missing`),
// so a receiver can reject a request without applying any part of it.
//
// Strings of a decoded batch are views of the request body wherever the
// JSON text had no escapes (records too, verbatim); strings that had
// escapes are unescaped into an arena per batch (grown in chunks). So decoding allocates
// next to nothing per event, and the caller must not modify the body
// afterwards. The strings stay valid for as long as the caller keeps them;
// callers that hold a few of them for a long time (a correlation table, a
// map key) must strings.Clone them, so that the whole body is not retained.
package telemetryevent

import (
	"time"

	"github.com/azlens/azlens/internal/xray"
)

// Type is the Telemetry API event type.
type Type uint8

// Event types of the Telemetry API (docs/lambda-apis.md, "Telemetry API").
const (
	TypeUnknown Type = iota
	TypePlatformInitStart
	TypePlatformInitRuntimeDone
	TypePlatformInitReport
	TypePlatformStart
	TypePlatformRuntimeDone
	TypePlatformReport
	TypePlatformRestoreStart
	TypePlatformRestoreRuntimeDone
	TypePlatformRestoreReport
	TypePlatformExtension
	TypePlatformTelemetrySubscription
	TypePlatformLogsDropped
	TypeFunction
	TypeExtension
)

var typeNames = [...]string{
	TypeUnknown:                       "",
	TypePlatformInitStart:             "platform.initStart",
	TypePlatformInitRuntimeDone:       "platform.initRuntimeDone",
	TypePlatformInitReport:            "platform.initReport",
	TypePlatformStart:                 "platform.start",
	TypePlatformRuntimeDone:           "platform.runtimeDone",
	TypePlatformReport:                "platform.report",
	TypePlatformRestoreStart:          "platform.restoreStart",
	TypePlatformRestoreRuntimeDone:    "platform.restoreRuntimeDone",
	TypePlatformRestoreReport:         "platform.restoreReport",
	TypePlatformExtension:             "platform.extension",
	TypePlatformTelemetrySubscription: "platform.telemetrySubscription",
	TypePlatformLogsDropped:           "platform.logsDropped",
	TypeFunction:                      "function",
	TypeExtension:                     "extension",
}

// String returns the wire name of a known type and "" for TypeUnknown.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return ""
}

// IsLog reports whether events of this type carry a log line of the
// function or of an extension.
func (t Type) IsLog() bool { return t == TypeFunction || t == TypeExtension }

func parseType(b []byte) Type {
	// A switch on string(b) compiles without allocating.
	switch string(b) {
	case "platform.initStart":
		return TypePlatformInitStart
	case "platform.initRuntimeDone":
		return TypePlatformInitRuntimeDone
	case "platform.initReport":
		return TypePlatformInitReport
	case "platform.start":
		return TypePlatformStart
	case "platform.runtimeDone":
		return TypePlatformRuntimeDone
	case "platform.report":
		return TypePlatformReport
	case "platform.restoreStart":
		return TypePlatformRestoreStart
	case "platform.restoreRuntimeDone":
		return TypePlatformRestoreRuntimeDone
	case "platform.restoreReport":
		return TypePlatformRestoreReport
	case "platform.extension":
		return TypePlatformExtension
	case "platform.telemetrySubscription":
		return TypePlatformTelemetrySubscription
	case "platform.logsDropped":
		return TypePlatformLogsDropped
	case "function":
		return TypeFunction
	case "extension":
		return TypeExtension
	}
	return TypeUnknown
}

// Metric flags say which Metrics fields were present on the wire, so that
// an absent value is never mistaken for zero.
const (
	HasDurationMs uint16 = 1 << iota
	HasBilledDurationMs
	HasMemorySizeMB
	HasMaxMemoryUsedMB
	HasInitDurationMs
	HasRestoreDurationMs
	HasBilledRestoreDurationMs
	HasProducedBytes
)

// Metrics is the `record.metrics` object of platform events.
type Metrics struct {
	Has                     uint16
	DurationMs              float64
	BilledDurationMs        float64
	MemorySizeMB            float64
	MaxMemoryUsedMB         float64
	InitDurationMs          float64
	RestoreDurationMs       float64
	BilledRestoreDurationMs float64
	ProducedBytes           float64
}

// Span is one entry of a `record.spans` array.
type Span struct {
	Name       string
	Start      time.Time
	DurationMs float64
}

// Tracing is the `record.tracing` object.
type Tracing struct {
	// Present is false when the record had no tracing object.
	Present bool
	// Type is `X-Amzn-Trace-Id` on Lambda.
	Type string
	// Value is the raw trace header.
	Value string
	// Header is Value parsed; only set when Type is X-Amzn-Trace-Id.
	Header xray.Header
	// SpanID is `tracing.spanId`, the span id Lambda gave the invocation
	// segment; empty when absent.
	SpanID string
}

// FieldKind tells which value of a Field is set.
type FieldKind uint8

// Kinds of JSON values in a Field.
const (
	FieldString FieldKind = iota
	FieldNumber
	FieldBool
	// FieldJSON holds an object, array or null as compact JSON text in Str.
	FieldJSON
)

// Field is one extra key of a JSON-format log record.
type Field struct {
	Key  string
	Kind FieldKind
	Str  string
	Num  float64
	Bool bool
}

// Event is one Telemetry API event. Only the fields of its Type are set.
type Event struct {
	// Time is the envelope `time`: when the platform generated the event.
	Time time.Time
	Type Type
	// TypeName is the wire `type`, kept for types this decoder does not know.
	TypeName string

	// Platform record fields.
	RequestID          string
	Status             string
	ErrorType          string
	InitializationType string
	Phase              string
	Version            string
	RuntimeVersion     string
	RuntimeVersionARN  string
	FunctionName       string
	FunctionVersion    string
	InstanceID         string
	InstanceMaxMemory  int64
	Name               string
	State              string
	Reason             string
	DroppedBytes       float64
	DroppedRecords     float64
	Metrics            Metrics
	Spans              []Span
	Tracing            Tracing
	// Record is the JSON of a platform (or unknown) event's record as it was
	// sent, so that nothing the Telemetry API said is lost when it becomes a log.
	Record string

	// Log fields (function and extension events).
	// Message is the text line (text format) or the `message` (JSON format).
	Message string
	// JSONLog is true when the record was a JSON object (JSON log format).
	JSONLog bool
	// Level is the JSON `level`, "" in text format.
	Level string
	// Timestamp is the JSON `timestamp`; zero when absent or not RFC 3339.
	Timestamp time.Time
	// Fields are the other keys of a JSON-format record.
	Fields []Field
}

// Batch is one decoded request body.
type Batch struct {
	// Resource is the agent envelope's `resource`; empty for a plain
	// Telemetry API array.
	Resource []Field
	// Agent holds the agent's `agent` object; nil for a plain array.
	Agent *Agent
	// Events in arrival order.
	Events []Event

	// Backing arrays kept for reuse by Decoder.Release.
	spans     []Span
	fields    []Field
	extents   []extent
	positions []evPos
}

// Agent is the agent's self-description and cumulative counters.
type Agent struct {
	Name    string
	Version string
	// Seq increases by one per batch the agent sends; a retry repeats it.
	Seq int64
	// HasSeq is false when the agent sent no seq.
	HasSeq bool
	// Active is the request id of the invocation active when the batch's first event was taken
	// ("" for none): function lines without a requestId belong to it until the batch's own
	// platform.start or platform.report events change it. HasActive is false when the agent sent
	// none (agents before it), and the receiver keeps its own notion.
	Active    string
	HasActive bool
	// Counters are every other numeric key, in wire order.
	Counters []Counter
}

// Counter is one numeric agent counter.
type Counter struct {
	Key   string
	Value float64
}
