package emulator

import (
	"encoding/json"
	"time"
)

// invocation is one invocation's state, guarded by Sandbox.mu once dispatched.
type invocation struct {
	id          string
	req         *InvokeRequest
	trace       string
	spanID      string
	cold        bool
	initDur     time.Duration
	start       time.Time // platform.start
	deadline    time.Time
	handedOff   time.Time // the runtime's /next returned it
	respStart   time.Time
	respEnd     time.Time
	runtimeBack time.Time

	// Set under Sandbox.mu.
	responding   bool // a /response or /error is being read
	isAnswered   bool
	payload      []byte
	funcError    bool
	errorType    string
	status       string
	extPending   int
	back         bool // runtime back at /next
	doneEmitted  bool // platform.runtimeDone emitted
	completeSent bool

	answered chan struct{} // closed when the caller's answer is ready
	complete chan struct{} // closed when runtime and INVOKE extensions are back
	done     chan struct{} // InvokeResult.Done
}

func (s *Sandbox) newInvocation(req *InvokeRequest) *invocation {
	inv := &invocation{
		id:       req.RequestID,
		req:      req,
		trace:    req.TraceHeader,
		answered: make(chan struct{}),
		complete: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if inv.id == "" {
		inv.id = newRequestID()
	}
	if inv.trace == "" {
		sampled := s.cfg.TraceSampleRate > 0 && randFloat() < s.cfg.TraceSampleRate
		inv.trace = newTraceHeader(time.Now(), sampled)
	}
	inv.spanID = newSpanID()
	return inv
}

// answerLocked records the caller's answer once; later answers (a response racing a timeout) lose.
func (inv *invocation) answerLocked(payload []byte, funcError bool, errorType string) bool {
	if inv.isAnswered {
		return false
	}
	inv.isAnswered = true
	inv.payload = payload
	inv.funcError = funcError
	inv.errorType = errorType
	inv.status = statusOf(errorType)
	close(inv.answered)
	return true
}

// result is the caller's view of inv; call it under Sandbox.mu.
func (inv *invocation) result() *InvokeResult {
	r := &InvokeResult{
		RequestID:   inv.id,
		Payload:     inv.payload,
		Status:      inv.status,
		ErrorType:   inv.errorType,
		ColdStart:   inv.cold,
		TraceHeader: inv.trace,
		Done:        inv.done,
	}
	if inv.funcError {
		r.FunctionError = "Unhandled"
	}
	if !inv.respEnd.IsZero() && !inv.handedOff.IsZero() {
		r.Duration = inv.respEnd.Sub(inv.handedOff)
	}
	return r
}

// errorPayload is the error JSON Lambda answers with when the platform, not the function, failed.
func errorPayload(errorType, message string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, errorType})
	return b
}

// invokeEvent is the Extensions API INVOKE event.
type invokeEvent struct {
	EventType          string         `json:"eventType"`
	DeadlineMs         int64          `json:"deadlineMs"`
	RequestID          string         `json:"requestId"`
	InvokedFunctionArn string         `json:"invokedFunctionArn"`
	Tracing            *tracingHeader `json:"tracing,omitempty"`
}

type tracingHeader struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// shutdownEvent is the Extensions API SHUTDOWN event.
type shutdownEvent struct {
	EventType      string `json:"eventType"`
	DeadlineMs     int64  `json:"deadlineMs"`
	ShutdownReason string `json:"shutdownReason"`
}
