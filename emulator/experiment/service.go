package experiment

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azlens/azlens/internal/clock"
)

// Defaults of Config's zero values.
const (
	defaultTickInterval      = time.Second
	defaultInvocationTimeout = 3 * time.Second // Lambda's default function timeout
	defaultMaxEnded          = 1000
	maxTags                  = 50
)

// AlarmSource tells whether a named alarm is firing; azlens:alarm stop conditions name its alarms.
// Firing is called with the service's lock held, on every tick of every running experiment that
// has such a stop condition, so it must be quick and must not call back into the Service.
type AlarmSource interface {
	Firing(name string) bool
}

// Config configures a Service.
type Config struct {
	// Clock drives action durations and ticks. Nil means the wall clock; tests pass the fake in
	// package internal/clock/clocktest so an experiment of minutes runs in microseconds.
	Clock clock.Clock
	// Alarms answers azlens:alarm stop conditions. Nil means templates may not use them.
	Alarms AlarmSource
	// Zones are the region's zone IDs; targets may name only these. Empty means any zone ID.
	Zones []string
	// Seed makes fault injection and target selection repeatable. Zero means a random seed.
	Seed uint64
	// TickInterval is how often stop conditions are checked while an experiment runs. Zero means 1s.
	TickInterval time.Duration
	// InvocationTimeout is how long a black-holed invocation (azlens:zone:crash, mode blackhole)
	// is held before it fails with Sandbox.Timeout; set it to the function's timeout. Zero means 3s.
	InvocationTimeout time.Duration
	// MaxEnded is how many ended experiments are kept for listing. Zero means 1000.
	MaxEnded int
	// Logger logs experiments and actions starting and ending. Nil means discard.
	Logger *slog.Logger
}

// Service stores experiment templates, runs experiments, and answers the sandboxes' fault hooks.
// It is safe for concurrent use.
type Service struct {
	clock         clock.Clock
	alarms        AlarmSource
	zones         []string
	seed          uint64
	tick          time.Duration
	invokeTimeout time.Duration
	maxEnded      int
	log           *slog.Logger

	// faults is what the hooks read on every invocation and telemetry event: rebuilt under mu
	// whenever an action starts or ends, read without any lock.
	faults atomic.Pointer[faultSet]
	stats  counters
	stress sync.WaitGroup

	mu          sync.Mutex
	rng         *mrand.Rand // target selection
	templates   map[string]*storedTemplate
	tmplOrder   []string
	runs        []*run // in start order; ended ones pruned oldest first beyond maxEnded
	byID        map[string]*run
	tokens      map[string]string // clientToken → experiment id; pruned with the experiments
	envs        map[envKey]bool   // every environment the region asked hooks for
	timer       clock.Timer
	closed      bool
	stressCtx   context.Context
	stressClose context.CancelFunc
}

type storedTemplate struct {
	tmpl ExperimentTemplate
	plan *plan
}

type run struct {
	view     Experiment // the public state; cloned on read
	plan     *plan
	actions  map[string]*runAction
	resolved map[string]*resolvedTarget
}

type runAction struct {
	pa         *plannedAction
	endAt      time.Time
	injections atomic.Int64
	stopStress context.CancelFunc
}

type resolvedTarget struct {
	zones map[string]bool
	envs  map[envKey]bool // nil: every environment of the zones
}

type envKey struct {
	zone  string
	index int
}

func (k envKey) String() string { return fmt.Sprintf("%s#%d", k.zone, k.index) }

// New returns a service with no templates.
func New(cfg Config) *Service {
	s := &Service{
		clock:         cfg.Clock,
		alarms:        cfg.Alarms,
		zones:         slices.Clone(cfg.Zones),
		seed:          cfg.Seed,
		tick:          cfg.TickInterval,
		invokeTimeout: cfg.InvocationTimeout,
		maxEnded:      cfg.MaxEnded,
		log:           cfg.Logger,
		templates:     map[string]*storedTemplate{},
		byID:          map[string]*run{},
		tokens:        map[string]string{},
		envs:          map[envKey]bool{},
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		s.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	if s.tick <= 0 {
		s.tick = defaultTickInterval
	}
	if s.invokeTimeout <= 0 {
		s.invokeTimeout = defaultInvocationTimeout
	}
	if s.maxEnded <= 0 {
		s.maxEnded = defaultMaxEnded
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.rng = mrand.New(mrand.NewPCG(s.seed, s.seed>>1^0x9e3779b97f4a7c15))
	s.stressCtx, s.stressClose = context.WithCancel(context.Background())
	s.faults.Store(&faultSet{})
	return s
}

// Close stops every active experiment (reason "service closed"), and waits for CPU stress workers
// to exit. Hooks keep answering, with no faults. Idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		now := s.clock.Now()
		for _, r := range s.runs {
			if r.view.Active() {
				s.stopLocked(r, now, "Experiment stopped: the service closed.")
				s.endLocked(r, now, StatusStopped, r.view.State.Reason)
			}
		}
		s.rebuildFaultsLocked()
	}
	s.mu.Unlock()
	s.stressClose()
	s.stress.Wait()
}

// CreateTemplate validates t and stores it under a new id.
func (s *Service) CreateTemplate(t Template) (ExperimentTemplate, error) {
	if err := checkTags("tags", t.Tags); err != nil {
		return ExperimentTemplate{}, err
	}
	p, err := compile(t, s.zones, s.alarms != nil)
	if err != nil {
		return ExperimentTemplate{}, err
	}
	now := s.clock.Now()
	st := &storedTemplate{plan: p, tmpl: ExperimentTemplate{
		ID: "EXT" + rand.Text()[:14], Template: cloneTemplate(t),
		CreationTime: EpochTime(now), LastUpdateTime: EpochTime(now),
	}}
	if st.tmpl.StopConditions == nil {
		st.tmpl.StopConditions = []StopCondition{{Source: SourceNone}}
	}
	if st.tmpl.Targets == nil {
		st.tmpl.Targets = map[string]Target{} // {} on the wire, as FIS, rather than null
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates[st.tmpl.ID] = st
	s.tmplOrder = append(s.tmplOrder, st.tmpl.ID)
	return cloneStored(st.tmpl), nil
}

// TemplateUpdate is FIS's UpdateExperimentTemplate: the fields given replace the template's.
type TemplateUpdate struct {
	Description    *string           `json:"description,omitempty"`
	Targets        map[string]Target `json:"targets,omitempty"`
	Actions        map[string]Action `json:"actions,omitempty"`
	StopConditions []StopCondition   `json:"stopConditions,omitempty"`
}

// UpdateTemplate replaces the given fields of the template with id. Experiments already started
// from it run on as they were planned, as in FIS.
func (s *Service) UpdateTemplate(id string, u TemplateUpdate) (ExperimentTemplate, error) {
	s.mu.Lock()
	st, ok := s.templates[id]
	if !ok {
		s.mu.Unlock()
		return ExperimentTemplate{}, notFound("experiment template", id)
	}
	t := cloneTemplate(st.tmpl.Template)
	s.mu.Unlock()
	if u.Description != nil {
		t.Description = *u.Description
	}
	if u.Targets != nil {
		t.Targets = u.Targets
	}
	if u.Actions != nil {
		t.Actions = u.Actions
	}
	if u.StopConditions != nil {
		t.StopConditions = u.StopConditions
	}
	p, err := compile(t, s.zones, s.alarms != nil)
	if err != nil {
		return ExperimentTemplate{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok = s.templates[id]; !ok { // deleted meanwhile
		return ExperimentTemplate{}, notFound("experiment template", id)
	}
	st.plan = p
	st.tmpl.Template = cloneTemplate(t)
	st.tmpl.LastUpdateTime = EpochTime(s.clock.Now())
	return cloneStored(st.tmpl), nil
}

// Templates returns every stored template, oldest first.
func (s *Service) Templates() []ExperimentTemplate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ExperimentTemplate, 0, len(s.tmplOrder))
	for _, id := range s.tmplOrder {
		out = append(out, cloneStored(s.templates[id].tmpl))
	}
	return out
}

// GetTemplate returns the template with id.
func (s *Service) GetTemplate(id string) (ExperimentTemplate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.templates[id]
	if !ok {
		return ExperimentTemplate{}, notFound("experiment template", id)
	}
	return cloneStored(st.tmpl), nil
}

// DeleteTemplate removes the template with id; experiments started from it go on, as in FIS.
func (s *Service) DeleteTemplate(id string) (ExperimentTemplate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.templates[id]
	if !ok {
		return ExperimentTemplate{}, notFound("experiment template", id)
	}
	delete(s.templates, id)
	s.tmplOrder = slices.DeleteFunc(s.tmplOrder, func(x string) bool { return x == id })
	return cloneStored(st.tmpl), nil
}

// StartRequest starts an experiment, as FIS's StartExperiment.
type StartRequest struct {
	ExperimentTemplateID string            `json:"experimentTemplateId"`
	Tags                 map[string]string `json:"tags,omitempty"`
	// ClientToken makes the start idempotent, as in FIS: a retry with the same token and template
	// returns the experiment the first call started; the same token with another template is a
	// ConflictException.
	ClientToken string `json:"clientToken,omitempty"`
}

// StartExperiment resolves the template's targets (choosing environments for COUNT and PERCENT
// now, once) and returns the experiment in status initiating; it runs from the next clock tick,
// at once with the wall clock. When a target cannot be resolved the experiment is failed.
func (s *Service) StartExperiment(req StartRequest) (Experiment, error) {
	if req.ExperimentTemplateID == "" {
		return Experiment{}, invalid("experimentTemplateId", "is required")
	}
	if err := checkTags("tags", req.Tags); err != nil {
		return Experiment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Experiment{}, &Error{Type: ConflictException, Message: "the experiment service is closed"}
	}
	if id, ok := s.tokens[req.ClientToken]; ok && req.ClientToken != "" {
		if r, ok := s.byID[id]; ok {
			if r.view.ExperimentTemplateID != req.ExperimentTemplateID {
				return Experiment{}, &Error{Type: ConflictException, Message: fmt.Sprintf(
					"clientToken %q already started experiment %s from template %s", req.ClientToken, id, r.view.ExperimentTemplateID)}
			}
			return cloneExperiment(r), nil
		}
	}
	st, ok := s.templates[req.ExperimentTemplateID]
	if !ok {
		return Experiment{}, notFound("experiment template", req.ExperimentTemplateID)
	}
	now := s.clock.Now()
	t := cloneTemplate(st.tmpl.Template)
	r := &run{plan: st.plan, actions: map[string]*runAction{}, resolved: map[string]*resolvedTarget{}}
	r.view = Experiment{
		ID: "EXP" + rand.Text()[:14], ExperimentTemplateID: st.tmpl.ID, Description: t.Description,
		State:          State{Status: StatusPending},
		Targets:        map[string]ExperimentTarget{},
		Actions:        map[string]ExperimentAction{},
		StopConditions: st.tmpl.StopConditions,
		CreationTime:   EpochTime(now),
		StartTime:      epoch(now),
		Tags:           req.Tags,
	}
	for _, pa := range st.plan.actions {
		r.actions[pa.name] = &runAction{pa: pa}
		r.view.Actions[pa.name] = ExperimentAction{Action: t.Actions[pa.name], State: State{Status: ActionPending}}
	}
	s.runs = append(s.runs, r)
	s.byID[r.view.ID] = r
	if req.ClientToken != "" {
		s.tokens[req.ClientToken] = r.view.ID
	}

	r.view.State = State{Status: StatusInitiating, Reason: "Experiment is initiating."}
	failure := ""
	for _, name := range sortedKeys(st.plan.targets) {
		pt := st.plan.targets[name]
		rt, et := s.resolveLocked(pt)
		et.Target = t.Targets[name]
		r.resolved[name] = rt
		r.view.Targets[name] = et
		if pt.resourceType == ResourceEnvironment && pt.selection.kind != selectAll && len(rt.envs) == 0 && failure == "" {
			failure = fmt.Sprintf("Target %s resolved to no environments: none exist yet in zones %v.", name, pt.zones)
		}
	}
	if failure != "" {
		s.endLocked(r, now, StatusFailed, failure)
	} else {
		s.log.Info("experiment initiating", "experiment", r.view.ID, "template", st.tmpl.ID)
		s.scheduleLocked(now, true)
	}
	s.pruneLocked()
	return cloneExperiment(r), nil
}

// resolveLocked chooses what a target acts on.
func (s *Service) resolveLocked(pt *plannedTarget) (*resolvedTarget, ExperimentTarget) {
	rt := &resolvedTarget{zones: map[string]bool{}}
	var et ExperimentTarget
	if pt.resourceType == ResourceZone {
		zones := slices.Clone(pt.zones)
		s.rng.Shuffle(len(zones), func(i, j int) { zones[i], zones[j] = zones[j], zones[i] })
		zones = zones[:pt.selection.of(len(zones))]
		slices.Sort(zones)
		for _, z := range zones {
			rt.zones[z] = true
		}
		et.ResolvedZones = zones
		return rt, et
	}
	for _, z := range pt.zones {
		rt.zones[z] = true
	}
	et.ResolvedZones = slices.Sorted(slices.Values(pt.zones))
	if pt.selection.kind == selectAll {
		return rt, et
	}
	var candidates []envKey
	for k := range s.envs {
		if rt.zones[k.zone] {
			candidates = append(candidates, k)
		}
	}
	slices.SortFunc(candidates, compareEnv) // map order must not leak into a seeded choice
	s.rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	candidates = candidates[:pt.selection.of(len(candidates))]
	slices.SortFunc(candidates, compareEnv)
	rt.envs = map[envKey]bool{}
	for _, k := range candidates {
		rt.envs[k] = true
		et.ResolvedEnvironments = append(et.ResolvedEnvironments, k.String())
	}
	return rt, et
}

func compareEnv(a, b envKey) int {
	if a.zone != b.zone {
		if a.zone < b.zone {
			return -1
		}
		return 1
	}
	return a.index - b.index
}

// Experiments returns every experiment kept, oldest first.
func (s *Service) Experiments() []Experiment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Experiment, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, cloneExperiment(r))
	}
	return out
}

// GetExperiment returns the experiment with id.
func (s *Service) GetExperiment(id string) (Experiment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Experiment{}, notFound("experiment", id)
	}
	return cloneExperiment(r), nil
}

// StopExperiment stops a pending, initiating or running experiment: its faults end at once, it
// is stopping until the next tick (at once with the wall clock), then stopped. Stopping an
// experiment that has ended is a ValidationException naming the id: FIS's StopExperiment models
// no conflict, so that is the error its clients can tell apart.
func (s *Service) StopExperiment(id string) (Experiment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Experiment{}, notFound("experiment", id)
	}
	switch r.view.State.Status {
	case StatusStopping:
		return cloneExperiment(r), nil
	case StatusCompleted, StatusStopped, StatusFailed:
		return Experiment{}, invalid("id", "experiment %q has already ended (%s)", id, r.view.State.Status)
	}
	now := s.clock.Now()
	s.stopLocked(r, now, "Experiment stopped by user.")
	s.rebuildFaultsLocked()
	if !s.closed {
		s.scheduleLocked(now, true)
	}
	return cloneExperiment(r), nil
}

// onTimer is the clock's callback: the one place experiments advance.
func (s *Service) onTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.timer = nil
	now := s.clock.Now()
	s.evaluateLocked(now)
	s.scheduleLocked(now, false)
}

// evaluateLocked moves every active experiment along at now.
func (s *Service) evaluateLocked(now time.Time) {
	changed := false
	for _, r := range s.runs {
		switch r.view.State.Status {
		case StatusInitiating:
			if name, firing := s.firingLocked(r); firing {
				s.stopLocked(r, now, "")
				s.endLocked(r, now, StatusFailed, fmt.Sprintf("Stop condition %s was firing when the experiment started.", name))
				continue
			}
			r.view.State = State{Status: StatusRunning, Reason: "Experiment is running."}
			s.log.Info("experiment running", "experiment", r.view.ID)
			if s.advanceLocked(r, now) {
				changed = true
			}
		case StatusRunning:
			if name, firing := s.firingLocked(r); firing {
				s.stopLocked(r, now, fmt.Sprintf("Stop condition %s fired.", name))
				changed = true
				continue
			}
			if s.advanceLocked(r, now) {
				changed = true
			}
		case StatusStopping:
			s.endLocked(r, now, StatusStopped, r.view.State.Reason)
		}
	}
	if changed {
		s.rebuildFaultsLocked()
	}
	s.pruneLocked()
}

// firingLocked returns the first of r's alarm stop conditions that fires.
func (s *Service) firingLocked(r *run) (string, bool) {
	for _, sc := range r.plan.stops {
		if s.alarms.Firing(sc.Value) {
			return sc.Source + " " + sc.Value, true
		}
	}
	return "", false
}

// advanceLocked ends actions whose duration is over, starts those whose startAfter actions have
// completed (in the same instant, so a chain has no gaps), and completes the experiment when every
// action has. It reports whether any action started or ended.
func (s *Service) advanceLocked(r *run, now time.Time) bool {
	changed := false
	for progress := true; progress; {
		progress = false
		for _, pa := range r.plan.actions {
			ra := r.actions[pa.name]
			view := r.view.Actions[pa.name]
			switch view.State.Status {
			case ActionRunning:
				if pa.duration > 0 && !now.Before(ra.endAt) {
					s.endActionLocked(r, ra, now, ActionCompleted, "Action completed.")
					progress = true
				}
			case ActionPending:
				if !r.completed(pa.startAfter) {
					continue
				}
				view.State = State{Status: ActionRunning, Reason: "Action is running."}
				view.StartTime = epoch(now)
				r.view.Actions[pa.name] = view
				ra.endAt = now.Add(pa.duration)
				if pa.spec.kind == kindStress {
					s.startStressLocked(ra)
				}
				s.log.Info("experiment action started", "experiment", r.view.ID, "action", pa.name, "actionId", view.ActionID)
				progress = true
			}
			if progress {
				changed = true
			}
		}
	}
	if r.completed(sortedKeys(r.view.Actions)) {
		s.endLocked(r, now, StatusCompleted, "Experiment completed.")
	}
	return changed
}

// completed reports whether the named actions completed.
func (r *run) completed(names []string) bool {
	for _, n := range names {
		if r.view.Actions[n].State.Status != ActionCompleted {
			return false
		}
	}
	return true
}

func (s *Service) endActionLocked(r *run, ra *runAction, now time.Time, status, reason string) {
	view := r.view.Actions[ra.pa.name]
	view.State = State{Status: status, Reason: reason}
	if status != ActionCancelled {
		view.EndTime = epoch(now)
	}
	r.view.Actions[ra.pa.name] = view
	if ra.stopStress != nil {
		ra.stopStress()
		ra.stopStress = nil
	}
	if status != ActionCancelled {
		s.log.Info("experiment action ended", "experiment", r.view.ID, "action", ra.pa.name, "status", status)
	}
}

// stopLocked ends r's actions now and puts it in stopping with reason (kept when empty).
func (s *Service) stopLocked(r *run, now time.Time, reason string) {
	for _, pa := range r.plan.actions {
		switch r.view.Actions[pa.name].State.Status {
		case ActionRunning:
			s.endActionLocked(r, r.actions[pa.name], now, ActionStopped, "Action stopped: the experiment is stopping.")
		case ActionPending:
			s.endActionLocked(r, r.actions[pa.name], now, ActionCancelled, "Action cancelled: the experiment ended before it started.")
		}
	}
	if reason == "" {
		reason = r.view.State.Reason
	}
	r.view.State = State{Status: StatusStopping, Reason: reason}
	s.log.Info("experiment stopping", "experiment", r.view.ID, "reason", reason)
}

func (s *Service) endLocked(r *run, now time.Time, status, reason string) {
	if status != StatusCompleted {
		s.stopLocked(r, now, reason)
	}
	r.view.State = State{Status: status, Reason: reason}
	r.view.EndTime = epoch(now)
	s.log.Info("experiment ended", "experiment", r.view.ID, "status", status, "reason", reason)
}

// scheduleLocked arms the clock for the next evaluation: at once when asked or when an
// experiment is between states, else at the next tick or action end, whichever is first; not at
// all when nothing is active.
func (s *Service) scheduleLocked(now time.Time, immediately bool) {
	var next time.Time
	for _, r := range s.runs {
		switch r.view.State.Status {
		case StatusInitiating, StatusStopping:
			immediately = true
		case StatusRunning:
			if next.IsZero() || now.Add(s.tick).Before(next) {
				next = now.Add(s.tick)
			}
			for _, pa := range r.plan.actions {
				ra := r.actions[pa.name]
				if pa.duration > 0 && r.view.Actions[pa.name].State.Status == ActionRunning && ra.endAt.Before(next) {
					next = ra.endAt
				}
			}
		}
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	switch {
	case immediately:
		s.timer = s.clock.AfterFunc(0, s.onTimer)
	case !next.IsZero():
		s.timer = s.clock.AfterFunc(max(next.Sub(now), 0), s.onTimer)
	}
}

// pruneLocked forgets the oldest ended experiments beyond maxEnded.
func (s *Service) pruneLocked() {
	ended := 0
	for _, r := range s.runs {
		if !r.view.Active() {
			ended++
		}
	}
	for i := 0; ended > s.maxEnded && i < len(s.runs); {
		if r := s.runs[i]; !r.view.Active() {
			delete(s.byID, r.view.ID)
			maps.DeleteFunc(s.tokens, func(_, id string) bool { return id == r.view.ID })
			s.runs = slices.Delete(s.runs, i, i+1)
			ended--
			continue
		}
		i++
	}
}

func checkTags(field string, tags map[string]string) error {
	if len(tags) > maxTags {
		return invalid(field, "must have at most %d tags", maxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 {
			return invalid(field, "tag key %q must be 1 to 128 characters", k)
		}
		if len(v) > 256 {
			return invalid(field+"."+k, "must be at most 256 characters")
		}
	}
	return nil
}

func cloneTemplate(t Template) Template {
	c := Template{Description: t.Description, Tags: cloneMap(t.Tags), StopConditions: slices.Clone(t.StopConditions)}
	if t.Targets != nil {
		c.Targets = make(map[string]Target, len(t.Targets))
		for k, v := range t.Targets {
			c.Targets[k] = cloneTarget(v)
		}
	}
	if t.Actions != nil {
		c.Actions = make(map[string]Action, len(t.Actions))
		for k, v := range t.Actions {
			c.Actions[k] = cloneAction(v)
		}
	}
	return c
}

func cloneTarget(t Target) Target {
	t.Zones = slices.Clone(t.Zones)
	t.ResourceArns = slices.Clone(t.ResourceArns)
	t.ResourceTags = cloneMap(t.ResourceTags)
	t.Parameters = cloneMap(t.Parameters)
	if t.Filters != nil {
		fs := make([]TargetFilter, len(t.Filters))
		for i, f := range t.Filters {
			fs[i] = TargetFilter{Path: f.Path, Values: slices.Clone(f.Values)}
		}
		t.Filters = fs
	}
	return t
}

func cloneAction(a Action) Action {
	a.Parameters = cloneMap(a.Parameters)
	a.Targets = cloneMap(a.Targets)
	a.StartAfter = slices.Clone(a.StartAfter)
	return a
}

func cloneStored(t ExperimentTemplate) ExperimentTemplate {
	t.Template = cloneTemplate(t.Template)
	return t
}

func cloneExperiment(r *run) Experiment {
	e := r.view
	e.Tags = cloneMap(e.Tags)
	e.StopConditions = slices.Clone(e.StopConditions)
	e.Targets = make(map[string]ExperimentTarget, len(r.view.Targets))
	for k, v := range r.view.Targets {
		v.Target = cloneTarget(v.Target)
		v.ResolvedZones = slices.Clone(v.ResolvedZones)
		v.ResolvedEnvironments = slices.Clone(v.ResolvedEnvironments)
		e.Targets[k] = v
	}
	e.Actions = make(map[string]ExperimentAction, len(r.view.Actions))
	for k, v := range r.view.Actions {
		v.Action = cloneAction(v.Action)
		v.Injections = r.actions[k].injections.Load()
		e.Actions[k] = v
	}
	return e
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
