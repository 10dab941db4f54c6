package experiment

// Experiment statuses, as FIS spells them.
const (
	StatusPending    = "pending"
	StatusInitiating = "initiating"
	StatusRunning    = "running"
	StatusCompleted  = "completed"
	StatusStopping   = "stopping"
	StatusStopped    = "stopped"
	StatusFailed     = "failed"
)

// Action statuses, as FIS spells them (an action not reached before the experiment ends is
// cancelled; one running when it is stopped is stopped).
const (
	ActionPending   = "pending"
	ActionRunning   = "running"
	ActionCompleted = "completed"
	ActionCancelled = "cancelled"
	ActionStopped   = "stopped"
	ActionFailed    = "failed"
)

// ExperimentTemplate is a stored template.
type ExperimentTemplate struct {
	ID string `json:"id"`
	Template
	CreationTime   EpochTime `json:"creationTime"`
	LastUpdateTime EpochTime `json:"lastUpdateTime"`
}

// State is an experiment's or an action's status with the reason it is in it.
type State struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Experiment is one run of a template, as FIS's GetExperiment shows it.
type Experiment struct {
	ID                   string                      `json:"id"`
	ExperimentTemplateID string                      `json:"experimentTemplateId"`
	Description          string                      `json:"description,omitempty"`
	State                State                       `json:"state"`
	Targets              map[string]ExperimentTarget `json:"targets"`
	Actions              map[string]ExperimentAction `json:"actions"`
	StopConditions       []StopCondition             `json:"stopConditions"`
	CreationTime         EpochTime                   `json:"creationTime"`
	// StartTime is when StartExperiment was called; it runs from the next tick.
	StartTime *EpochTime        `json:"startTime,omitempty"`
	EndTime   *EpochTime        `json:"endTime,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// ExperimentTarget is a template target with what it resolved to when the experiment started.
type ExperimentTarget struct {
	Target
	// ResolvedZones are the zones the target acts on: all of each zone's environments for a zone
	// target, the zones searched for an environment target.
	ResolvedZones []string `json:"resolvedZones"`
	// ResolvedEnvironments are the environments ("<zone>#<index>") chosen by COUNT or PERCENT for an
	// environment target; empty for ALL, which covers every environment of the zones, present and
	// future.
	ResolvedEnvironments []string `json:"resolvedEnvironments,omitempty"`
}

// ExperimentAction is a template action with its progress.
type ExperimentAction struct {
	Action
	State     State      `json:"state"`
	StartTime *EpochTime `json:"startTime,omitempty"`
	EndTime   *EpochTime `json:"endTime,omitempty"`
	// Injections counts the faults this action injected: invocations delayed, failed or crashed
	// (a crash's lost telemetry is counted in Stats only), telemetry events dropped, batches
	// delayed, or stress workers started.
	Injections int64 `json:"injections"`
}

// Active reports whether the experiment has not ended yet.
func (e Experiment) Active() bool {
	switch e.State.Status {
	case StatusPending, StatusInitiating, StatusRunning, StatusStopping:
		return true
	}
	return false
}
