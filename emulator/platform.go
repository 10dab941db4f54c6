package emulator

import (
	"math"
	"time"
)

// Platform event records, field for field as the Telemetry API sends them (docs/lambda-apis.md, "Telemetry API"). The superset
// of fields is always emitted, whatever schemaVersion a subscriber asked for.

const initializationType = "on-demand"

// Telemetry statuses.
const (
	statusSuccess = "success"
	statusError   = "error"
	statusTimeout = "timeout"
	statusFailure = "failure"
)

type tracingRecord struct {
	SpanID string `json:"spanId,omitempty"`
	Type   string `json:"type"`
	Value  string `json:"value"`
}

type spanRecord struct {
	Name       string  `json:"name"`
	Start      string  `json:"start"`
	DurationMs float64 `json:"durationMs"`
}

type initStartRecord struct {
	InitializationType string         `json:"initializationType"`
	Phase              string         `json:"phase"`
	FunctionName       string         `json:"functionName"`
	FunctionVersion    string         `json:"functionVersion"`
	InstanceID         string         `json:"instanceId,omitempty"`
	InstanceMaxMemory  int            `json:"instanceMaxMemory,omitempty"`
	Tracing            *tracingRecord `json:"tracing,omitempty"`
}

type initRuntimeDoneRecord struct {
	InitializationType string         `json:"initializationType"`
	Phase              string         `json:"phase"`
	Status             string         `json:"status"`
	ErrorType          string         `json:"errorType,omitempty"`
	Spans              []spanRecord   `json:"spans,omitempty"`
	Tracing            *tracingRecord `json:"tracing,omitempty"`
}

type initReportMetrics struct {
	DurationMs float64 `json:"durationMs"`
}

type initReportRecord struct {
	InitializationType string            `json:"initializationType"`
	Phase              string            `json:"phase"`
	Status             string            `json:"status"`
	ErrorType          string            `json:"errorType,omitempty"`
	Metrics            initReportMetrics `json:"metrics"`
	Spans              []spanRecord      `json:"spans,omitempty"`
	Tracing            *tracingRecord    `json:"tracing,omitempty"`
}

type extensionRecord struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Events    []string `json:"events"`
	ErrorType string   `json:"errorType,omitempty"`
}

type startRecord struct {
	RequestID string         `json:"requestId"`
	Version   string         `json:"version,omitempty"`
	Tracing   *tracingRecord `json:"tracing,omitempty"`
}

type runtimeDoneMetrics struct {
	DurationMs    float64 `json:"durationMs"`
	ProducedBytes int     `json:"producedBytes"`
}

type runtimeDoneRecord struct {
	RequestID string              `json:"requestId"`
	Status    string              `json:"status"`
	ErrorType string              `json:"errorType,omitempty"`
	Metrics   *runtimeDoneMetrics `json:"metrics,omitempty"`
	Spans     []spanRecord        `json:"spans,omitempty"`
	Tracing   *tracingRecord      `json:"tracing,omitempty"`
}

type reportMetrics struct {
	DurationMs       float64  `json:"durationMs"`
	BilledDurationMs int64    `json:"billedDurationMs"`
	MemorySizeMB     int      `json:"memorySizeMB"`
	MaxMemoryUsedMB  int      `json:"maxMemoryUsedMB"`
	InitDurationMs   *float64 `json:"initDurationMs,omitempty"`
}

type reportRecord struct {
	RequestID string         `json:"requestId"`
	Status    string         `json:"status"`
	ErrorType string         `json:"errorType,omitempty"`
	Metrics   reportMetrics  `json:"metrics"`
	Spans     []spanRecord   `json:"spans,omitempty"`
	Tracing   *tracingRecord `json:"tracing,omitempty"`
}

// millis is a duration in milliseconds with microsecond precision, as Lambda reports it.
func millis(d time.Duration) float64 {
	if d < 0 {
		d = 0
	}
	return float64(d.Microseconds()) / 1000
}

// billedMillis rounds a duration up to the next whole millisecond.
func billedMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(float64(d) / float64(time.Millisecond)))
}

// timestamp is the Telemetry API's time format: UTC, millisecond precision.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func span(name string, start, end time.Time) spanRecord {
	return spanRecord{Name: name, Start: timestamp(start), DurationMs: millis(end.Sub(start))}
}

// statusOf maps an error type to the telemetry status the way RIE does.
func statusOf(errorType string) string {
	switch {
	case errorType == "":
		return statusSuccess
	case errorType == errSandboxTimeout:
		return statusTimeout
	case len(errorType) > 8 && errorType[:8] == "Sandbox.":
		return statusFailure
	default:
		return statusError
	}
}

// Platform error types.
const (
	errRuntimeExit       = "Runtime.ExitError"
	errRuntimeEntrypoint = "Runtime.InvalidEntrypoint"
	errRuntimeUnknown    = "Runtime.Unknown"
	errFunctionUnknown   = "Function.Unknown"
	errResponseTooLarge  = "Function.ResponseSizeTooLarge"
	errExtensionInit     = "Extension.InitError"
	errExtensionExit     = "Extension.ExitError"
	errExtensionCrash    = "Extension.Crash"
	errSandboxFailure    = "Sandbox.Failure"
	errSandboxTimeout    = "Sandbox.Timeout"
	errInvalidState      = "InvalidStateTransition"
	errInvalidRequestID  = "InvalidRequestID"
	errEntityTooLarge    = "RequestEntityTooLarge"
)

// normalizeErrorType keeps well-formed Runtime.*/Function.* types and folds the rest, as RIE does
// for the type a runtime reports (docs/lambda-apis.md, "Runtime API").
func normalizeErrorType(t string) string {
	if wellFormedErrorType(t) {
		return t
	}
	if len(t) >= 9 && t[:9] == "Function." {
		return errFunctionUnknown
	}
	return errRuntimeUnknown
}

func wellFormedErrorType(t string) bool {
	var rest string
	switch {
	case len(t) > 8 && t[:8] == "Runtime.":
		rest = t[8:]
	case len(t) > 9 && t[:9] == "Function.":
		rest = t[9:]
	default:
		return false
	}
	if len(rest) < 2 || rest[0] < 'A' || rest[0] > 'Z' {
		return false
	}
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
