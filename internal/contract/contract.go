// Package contract holds the names and numbers that cross component
// boundaries: what the agent sends the receiver, what the receiver and the
// canaries emit for the azhealth processor, what the processor emits for the
// zonalshift exporter, the Prometheus rules and `azlens up`. A rename here is
// a rename everywhere; a rename anywhere else breaks the contract.
//
// Attribute keys that OpenTelemetry's semantic conventions define
// (faas.name, cloud.availability_zone, …) are not repeated here: use
// go.opentelemetry.io/otel/semconv. The package has no dependencies so the
// Lambda extension can import it without growing.
package contract

// The agent → receiver wire format. Its version is in the path: a
// receiver serves every version it understands on its own path.
const (
	// AgentWireVersion is the version of the agent batch format the agent
	// posts: 2, {"resource":{…},"agent":{…},"events":[…],"otlp":[…]} posted
	// to AgentBatchV2Path.
	AgentWireVersion = 2
	// AgentBatchPath takes version 1, {"resource":{…},"agent":{…},"events":[…]}
	// (agents before the OTLP endpoint; still served).
	AgentBatchPath = "/v1/agent/batch"
	// AgentBatchV2Path takes version 2: version 1 plus "otlp", the function's
	// own OTLP payloads. A version 1 body is a valid version 2 body.
	AgentBatchV2Path = "/v2/agent/batch"
	// TelemetryPath takes Telemetry API arrays posted directly by Lambda.
	TelemetryPath = "/v1/telemetry"
)

// Metrics the lambdatelemetry receiver emits per function and zone.
const (
	MetricInvocations       = "faas.invocations"
	MetricErrors            = "faas.errors"
	MetricTimeouts          = "faas.timeouts"
	MetricColdstarts        = "faas.coldstarts"
	MetricInvokeDuration    = "faas.invoke_duration"
	MetricInitDuration      = "faas.init_duration"
	MetricMemUsage          = "faas.mem_usage"
	MetricBilledDuration    = "aws.lambda.billed_duration"
	MetricResponseLatency   = "aws.lambda.response_latency"
	MetricExtensionOverhead = "aws.lambda.extension_overhead"
	MetricProducedBytes     = "aws.lambda.produced_bytes"
	MetricDroppedRecords    = "aws.lambda.telemetry.dropped_records"
	// MetricAgentPrefix prefixes the agent's own counters.
	MetricAgentPrefix = "azlens.agent."
)

// MetricCanaryInvocations counts the canary runner's zone-pinned probes by
// outcome.
const MetricCanaryInvocations = "azlens.canary.invocations"

// MetricCanaryDuration is the canaries' latency histogram (seconds, DurationBounds) by outcome;
// the processor counts successful canaries above slow_threshold as failed.
const MetricCanaryDuration = "azlens.canary.duration"

// OutcomeSlow is the canary outcome of a success answered later than the runner's latency bound.
const OutcomeSlow = "slow"

// Metrics the azhealth processor emits per function and zone every tick.
const (
	MetricAZPValue = "azlens.az.p_value"
	MetricAZBreach = "azlens.az.breach"
	// MetricAZAlarmStateSince is the Unix time of the tick that set the alarm state.
	MetricAZAlarmStateSince = "azlens.az.alarm_state_since_timestamp"
	MetricAZAlarmState      = "azlens.az.alarm_state"
	MetricAZTelemetryAge    = "azlens.az.telemetry_age"
	MetricAZTelemetryStale  = "azlens.az.telemetry_stale"
	MetricAZTrafficWeight   = "azlens.az.traffic_weight"
	MetricAZEvacuate        = "azlens.az.evacuate"
	MetricAZShiftBlocked    = "azlens.az.shift_blocked"
	MetricRegionAlert       = "azlens.region.alert"

	// PromAZAlarmState is MetricAZAlarmState as the Prometheus exporter
	// names it (dots to underscores, no unit suffix).
	PromAZAlarmState = "azlens_az_alarm_state"
	// PromAZAlarmStateSince is MetricAZAlarmStateSince as the Prometheus exporter names it
	// (unit "s" appends _seconds).
	PromAZAlarmStateSince = "azlens_az_alarm_state_since_timestamp_seconds"
)

// Attribute keys that semconv does not define.
const (
	// AttrOutcome is the attribute of MetricInvocations and
	// MetricCanaryInvocations; its values are the Outcome constants.
	AttrOutcome = "outcome"
	// AttrIncomplete marks a span or metric point the receiver emitted
	// without the event that completes it.
	AttrIncomplete = "azlens.incomplete"
	// AttrCanary is "true" on the canary runner's resource.
	AttrCanary = "azlens.canary"
)

// Values of AttrOutcome: the four statuses the Telemetry API documents.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
	OutcomeTimeout = "timeout"
	OutcomeFailure = "failure"
)

// DurationBounds are the explicit bucket bounds, in seconds, of
// MetricInvokeDuration. The processor's slow_threshold must be one of them:
// the slow fraction is read from the buckets. Read-only.
var DurationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Headers of the region's front door.
const (
	// HeaderZone pins an invocation to a zone (request) and names the zone
	// that served it (response).
	HeaderZone = "X-Azlens-Zone"
	// HeaderEnvironment names the execution environment that served it.
	HeaderEnvironment = "X-Azlens-Environment"
	// HeaderCanary marks a canary's probe so user traffic can be told apart.
	HeaderCanary = "X-Azlens-Canary"
)
