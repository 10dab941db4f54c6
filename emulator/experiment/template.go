package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Resource types a target selects.
const (
	// ResourceZone targets whole availability zones: every execution environment in them, including
	// environments created while the experiment runs.
	ResourceZone = "azlens:zone"
	// ResourceEnvironment targets execution environments (sandboxes) in the listed zones.
	ResourceEnvironment = "azlens:environment"
	// ResourceLambdaFunction is FIS's Lambda function target: the function's execution
	// environments in the zones its parameters or filters name (all the region's zones when
	// none), as ResourceEnvironment.
	ResourceLambdaFunction = "aws:lambda:function"
)

// Action ids.
const (
	ActionAddLatency     = "azlens:invoke:add-latency"
	ActionInjectError    = "azlens:invoke:inject-error"
	ActionZoneCrash      = "azlens:zone:crash"
	ActionTelemetryDrop  = "azlens:telemetry:drop"
	ActionTelemetryDelay = "azlens:telemetry:delay"
	ActionCPUStress      = "azlens:cpu:stress"
	// ActionWait does nothing for its duration, as FIS's aws:fis:wait: it spaces other actions
	// with startAfter, and a template of only a wait is a fault-free baseline run.
	ActionWait = "azlens:wait"
)

// Action ids in the azlens:lambda namespace: the same faults under the names the FIS console and
// CLI users look for. The older ids above stay accepted.
const (
	ActionLambdaInjectErrors  = "azlens:lambda:inject-errors"
	ActionLambdaInjectLatency = "azlens:lambda:inject-latency"
	ActionLambdaCrash         = "azlens:lambda:crash"
	ActionLambdaDropTelemetry = "azlens:lambda:drop-telemetry"
)

// FIS's own Lambda actions, mapped onto the faults whose semantics match (see fis.go).
const (
	ActionFISInvocationError    = "aws:lambda:invocation-error"
	ActionFISInvocationAddDelay = "aws:lambda:invocation-add-delay"
	ActionFISHTTPResponse       = "aws:lambda:invocation-http-integration-response"
)

// Stop condition sources.
const (
	SourceNone  = "none"
	SourceAlarm = "azlens:alarm"
	// SourceCloudWatchAlarm is FIS's: the value is an alarm ARN
	// (arn:aws:cloudwatch:<region>:<account>:alarm:<name>), whose name is looked up as an
	// azlens:alarm's is.
	SourceCloudWatchAlarm = "aws:cloudwatch:alarm"
)

// Template is what an experiment is started from, with FIS's field names: targets name sets of
// zones or environments, actions name what to do to them and when, stop conditions name alarms
// that end the experiment early.
type Template struct {
	Description    string            `json:"description"`
	Targets        map[string]Target `json:"targets"`
	Actions        map[string]Action `json:"actions"`
	StopConditions []StopCondition   `json:"stopConditions"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// Target selects zones or environments, with FIS's fields.
type Target struct {
	// ResourceType is ResourceZone, ResourceEnvironment or ResourceLambdaFunction.
	ResourceType string `json:"resourceType"`
	// ResourceArns are Lambda function ARNs (aws:lambda:function only). The region's faults act
	// on the environments of the function it runs, so they are checked for form, not matched.
	ResourceArns []string `json:"resourceArns,omitempty"`
	// ResourceTags are not supported: a target selects by zone.
	ResourceTags map[string]string `json:"resourceTags,omitempty"`
	// Filters select zones as FIS does: path "AvailabilityZoneId" (or "AvailabilityZone"), values
	// the zone IDs.
	Filters []TargetFilter `json:"filters,omitempty"`
	// Parameters may name one zone as FIS's availabilityZoneIdentifier does.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Zones are zone IDs (e.g. "use1-az2") the target selects from: azlens's shorthand for the
	// filter, which the AWS CLI and SDK cannot send (they know only FIS's fields).
	Zones []string `json:"zones,omitempty"`
	// SelectionMode is "ALL", "COUNT(n)" or "PERCENT(p)", as FIS: of the zones for a zone target,
	// of the environments in the zones for an environment target. COUNT and PERCENT choose at
	// random once, when the experiment starts, among the environments that exist then.
	SelectionMode string `json:"selectionMode"`
}

// TargetFilter is FIS's target filter.
type TargetFilter struct {
	Path   string   `json:"path"`
	Values []string `json:"values"`
}

// Action is one fault (or wait) with its parameters, as FIS: parameters are strings.
type Action struct {
	ActionID    string            `json:"actionId"`
	Description string            `json:"description,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// Targets maps "Zones" (for a zone target) or "Environments" (for an environment target) to
	// the name of a target in the template.
	Targets map[string]string `json:"targets,omitempty"`
	// StartAfter names actions that must complete before this one starts; empty means at the start
	// of the experiment.
	StartAfter []string `json:"startAfter,omitempty"`
}

// StopCondition ends a running experiment when its alarm fires.
type StopCondition struct {
	// Source is "none", "azlens:alarm" or FIS's "aws:cloudwatch:alarm".
	Source string `json:"source"`
	// Value is the alarm's name (for azlens:alarm), as the AlarmSource knows it — e.g. a zone ID
	// for the per-zone health alarm — or an alarm ARN ending in that name (aws:cloudwatch:alarm).
	Value string `json:"value,omitempty"`
}

// EpochTime marshals as epoch seconds (a JSON number), as AWS's REST JSON protocols do.
type EpochTime time.Time

// MarshalJSON writes seconds since the epoch with millisecond precision.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return json.Marshal(float64(ms) / 1000)
}

// UnmarshalJSON reads epoch seconds.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("epoch time: %w", err)
	}
	if math.IsNaN(f) || math.Abs(f) > 1e11 {
		return fmt.Errorf("epoch time %v out of range", f)
	}
	*t = EpochTime(time.UnixMilli(int64(math.Round(f * 1000))))
	return nil
}

// Equal reports whether t and u are the same instant.
func (t EpochTime) Equal(u EpochTime) bool { return time.Time(t).Equal(time.Time(u)) }

func epoch(t time.Time) *EpochTime {
	e := EpochTime(t)
	return &e
}
