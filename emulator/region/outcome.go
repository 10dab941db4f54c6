package region

// Outcome is what became of one invocation the region was asked for: the emulator's ground truth,
// against which what the telemetry pipeline detected can be compared (emulator/groundtruth
// exports it as Prometheus metrics).
type Outcome struct {
	// Zone served the invocation; for a throttled one, the zone it was pinned to, or "" when the
	// router had every zone to choose from.
	Zone string
	// Environment is the execution environment's ID; "" when none took the invocation.
	Environment string
	// Status is the invocation's telemetry status — success, error, timeout or failure (the
	// environment failed before the function answered) — or OutcomeThrottled.
	Status string
	// RequestID is the invocation's request id; "" when no environment took it.
	RequestID string
	// TraceHeader is the X-Amzn-Trace-Id the invocation ran with; "" when no environment took it.
	TraceHeader string
	// ColdStart is true when the environment ran init for this invocation: its first, or the first
	// after a reset.
	ColdStart bool
}

// OutcomeThrottled is the Status of an invocation no environment became free for (429).
const OutcomeThrottled = "throttled"

// observe hands o to the configured observer, if any.
func (r *Region) observe(o Outcome) {
	if r.cfg.Observe != nil {
		r.cfg.Observe(o)
	}
}
