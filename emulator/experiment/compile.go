package experiment

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits, as FIS's where FIS has one.
const (
	maxDescription  = 512
	maxActions      = 100
	maxTargets      = 100
	maxDuration     = 12 * time.Hour // FIS's longest action
	maxLatency      = 15 * time.Minute
	maxStressWorker = 64
	maxNameLen      = 64
	maxErrorType    = 128
)

// Defaults of optional action parameters.
const (
	// DefaultErrorType is the error type inject-error fails invocations with.
	DefaultErrorType = "Sandbox.Failure"
	// CrashRefuse fails invocations at once; CrashBlackhole holds them for the invocation timeout
	// first, as a zone that drops packets does.
	CrashRefuse    = "refuse"
	CrashBlackhole = "blackhole"
)

type actionKind int

const (
	kindWait actionKind = iota
	kindLatency
	kindError
	kindCrash
	kindDrop
	kindDelay
	kindStress
)

// actionSpec says what one action id accepts.
type actionSpec struct {
	kind   actionKind
	params []string // accepted parameter names, sorted
	// targeted: the action needs exactly one target (Zones or Environments).
	targeted bool
}

var actionSpecs = map[string]actionSpec{
	ActionAddLatency:     {kindLatency, []string{"duration", "latency", "percentage"}, true},
	ActionInjectError:    {kindError, []string{"duration", "errorType", "percentage"}, true},
	ActionZoneCrash:      {kindCrash, []string{"duration", "mode"}, true},
	ActionTelemetryDrop:  {kindDrop, []string{"duration", "percentage"}, true},
	ActionTelemetryDelay: {kindDelay, []string{"delay", "duration"}, true},
	ActionCPUStress:      {kindStress, []string{"duration", "load", "workers"}, false},
	ActionWait:           {kindWait, []string{"duration"}, false},
}

// ActionIDs returns the action ids the service knows, sorted.
func ActionIDs() []string {
	ids := make([]string, 0, len(actionSpecs))
	for id := range actionSpecs {
		ids = append(ids, id)
	}
	for id := range lambdaAliases {
		ids = append(ids, id)
	}
	for id := range fisParams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

type selectionKind int

const (
	selectAll selectionKind = iota
	selectCount
	selectPercent
)

type selection struct {
	kind    selectionKind
	count   int
	percent float64
}

// of returns how many of n candidates the selection takes: PERCENT rounds up, so any non-zero
// percentage of a non-empty set selects at least one.
func (s selection) of(n int) int {
	switch s.kind {
	case selectCount:
		return min(s.count, n)
	case selectPercent:
		return min(n, int(math.Ceil(s.percent*float64(n)/100-1e-9)))
	}
	return n
}

type plannedTarget struct {
	name         string
	resourceType string // ResourceZone or ResourceEnvironment
	declaredType string // as the template says: also ResourceLambdaFunction
	zones        []string
	selection    selection
}

type plannedAction struct {
	name       string
	spec       actionSpec
	duration   time.Duration // zero: until the experiment is stopped
	target     string        // target name; empty for untargeted actions
	startAfter []string

	fraction  float64 // of invocations or telemetry events affected, 0..1
	latency   time.Duration
	errorType string
	crashMode string
	delay     time.Duration
	workers   int
	load      float64 // busy fraction of each stress worker, 0..1
}

type plan struct {
	targets map[string]*plannedTarget
	actions []*plannedAction // sorted by name
	stops   []StopCondition
}

var selectionRE = regexp.MustCompile(`^(ALL|COUNT\((\d{1,6})\)|PERCENT\((\d{1,3}(?:\.\d{1,6})?)\))$`)

// compile validates t and returns its plan. zones, when non-empty, are the zones that exist;
// alarms says whether azlens:alarm stop conditions can be evaluated.
func compile(t Template, zones []string, alarms bool) (*plan, error) {
	if len(t.Description) > maxDescription {
		return nil, invalid("description", "must be at most %d characters", maxDescription)
	}
	p := &plan{targets: map[string]*plannedTarget{}}
	if len(t.Targets) > maxTargets {
		return nil, invalid("targets", "must have at most %d targets", maxTargets)
	}
	for _, name := range sortedKeys(t.Targets) {
		pt, err := compileTarget(name, t.Targets[name], zones)
		if err != nil {
			return nil, err
		}
		p.targets[name] = pt
	}
	if len(t.Actions) == 0 {
		return nil, invalid("actions", "at least one action is required")
	}
	if len(t.Actions) > maxActions {
		return nil, invalid("actions", "must have at most %d actions", maxActions)
	}
	for _, name := range sortedKeys(t.Actions) {
		pa, err := compileAction(name, t.Actions[name], t, p.targets)
		if err != nil {
			return nil, err
		}
		p.actions = append(p.actions, pa)
	}
	if err := checkStartAfter(p.actions); err != nil {
		return nil, err
	}
	for i, sc := range t.StopConditions {
		field := fmt.Sprintf("stopConditions[%d]", i)
		switch sc.Source {
		case SourceNone:
			if sc.Value != "" {
				return nil, invalid(field+".value", "must be empty for source %q", SourceNone)
			}
		case SourceAlarm, SourceCloudWatchAlarm:
			if sc.Value == "" {
				return nil, invalid(field+".value", "is required for source %q (an alarm name, e.g. a zone ID, or for %s its ARN)", sc.Source, SourceCloudWatchAlarm)
			}
			name, err := alarmName(field, sc)
			if err != nil {
				return nil, err
			}
			if !alarms {
				return nil, invalid(field+".source", "%q needs an alarm source, and this service has none", sc.Source)
			}
			p.stops = append(p.stops, StopCondition{Source: sc.Source, Value: name})
		case "":
			return nil, invalid(field+".source", "is required (%q, %q or %q)", SourceNone, SourceAlarm, SourceCloudWatchAlarm)
		default:
			return nil, invalid(field+".source", "unknown source %q (want %q, %q or %q)", sc.Source, SourceNone, SourceAlarm, SourceCloudWatchAlarm)
		}
	}
	return p, nil
}

func compileTarget(name string, t Target, known []string) (*plannedTarget, error) {
	field := "targets." + name
	if err := checkName(field, name); err != nil {
		return nil, err
	}
	if t.ResourceType != ResourceZone && t.ResourceType != ResourceEnvironment && t.ResourceType != ResourceLambdaFunction {
		if t.ResourceType == "" {
			return nil, invalid(field+".resourceType", "is required (%q, %q or %q)", ResourceZone, ResourceEnvironment, ResourceLambdaFunction)
		}
		return nil, invalid(field+".resourceType", "unknown resource type %q (want %q, %q or %q)", t.ResourceType, ResourceZone, ResourceEnvironment, ResourceLambdaFunction)
	}
	zones, err := targetZones(field, t, known)
	if err != nil {
		return nil, err
	}
	if len(zones) == 0 {
		return nil, invalid(field+".zones", "at least one zone is required (zones, filters on AvailabilityZoneId, or parameters.availabilityZoneIdentifier)")
	}
	seen := map[string]bool{}
	for i, z := range zones {
		zf := fmt.Sprintf("%s.zones[%d]", field, i)
		switch {
		case z == "" || strings.ContainsFunc(z, unicode.IsSpace) || len(z) > maxNameLen:
			return nil, invalid(zf, "%q is not a zone ID", z)
		case len(known) > 0 && !slices.Contains(known, z):
			return nil, invalid(zf, "unknown zone %q (zones: %s)", z, strings.Join(known, ", "))
		case seen[z]:
			return nil, invalid(zf, "zone %q is listed twice", z)
		}
		seen[z] = true
	}
	sel, err := parseSelection(field+".selectionMode", t.SelectionMode)
	if err != nil {
		return nil, err
	}
	if t.ResourceType == ResourceZone && sel.kind == selectCount && sel.count > len(zones) {
		return nil, invalid(field+".selectionMode", "COUNT(%d) is more than the %d zones listed", sel.count, len(zones))
	}
	// A function target acts as an environment target: the function's environments in the zones.
	rt := t.ResourceType
	if rt == ResourceLambdaFunction {
		rt = ResourceEnvironment
	}
	return &plannedTarget{name: name, resourceType: rt, declaredType: t.ResourceType, zones: zones, selection: sel}, nil
}

func parseSelection(field, s string) (selection, error) {
	m := selectionRE.FindStringSubmatch(s)
	if m == nil {
		if s == "" {
			return selection{}, invalid(field, "is required (ALL, COUNT(n) or PERCENT(p))")
		}
		return selection{}, invalid(field, "%q is not ALL, COUNT(n) or PERCENT(p)", s)
	}
	switch {
	case m[2] != "":
		n, _ := strconv.Atoi(m[2]) // the pattern allows digits only
		if n < 1 {
			return selection{}, invalid(field, "COUNT(n) needs n ≥ 1")
		}
		return selection{kind: selectCount, count: n}, nil
	case m[3] != "":
		p, _ := strconv.ParseFloat(m[3], 64)
		if p <= 0 || p > 100 {
			return selection{}, invalid(field, "PERCENT(p) needs 0 < p ≤ 100")
		}
		return selection{kind: selectPercent, percent: p}, nil
	}
	return selection{kind: selectAll}, nil
}

func compileAction(name string, a Action, t Template, targets map[string]*plannedTarget) (*plannedAction, error) {
	field := "actions." + name
	if err := checkName(field, name); err != nil {
		return nil, err
	}
	actionID, params, err := translateAction(field, a.ActionID, a.Parameters)
	if err != nil {
		return nil, err
	}
	spec, ok := actionSpecs[actionID]
	if !ok {
		if a.ActionID == "" {
			return nil, invalid(field+".actionId", "is required (one of %s)", strings.Join(ActionIDs(), ", "))
		}
		return nil, invalid(field+".actionId", "unknown action %q (one of %s)", a.ActionID, strings.Join(ActionIDs(), ", "))
	}
	if len(a.Description) > maxDescription {
		return nil, invalid(field+".description", "must be at most %d characters", maxDescription)
	}
	pa := &plannedAction{name: name, spec: spec, startAfter: slices.Clone(a.StartAfter), fraction: 1,
		errorType: DefaultErrorType, crashMode: CrashBlackhole, workers: 1, load: 1}
	for _, k := range sortedKeys(params) {
		if !slices.Contains(spec.params, k) {
			return nil, invalid(field+".parameters."+k, "unknown parameter for %s (known: %s)", a.ActionID, strings.Join(spec.params, ", "))
		}
	}
	if err := pa.parseParameters(field+".parameters", params); err != nil {
		return nil, err
	}

	// Targets: a fault acts on exactly one target of the matching kind.
	if !spec.targeted {
		if len(a.Targets) > 0 {
			why := "a wait acts on nothing"
			if spec.kind == kindStress {
				why = "it loads this process's CPUs, not a zone's"
			}
			return nil, invalid(field+".targets", "%s takes no targets: %s", a.ActionID, why)
		}
	} else {
		if len(a.Targets) != 1 {
			return nil, invalid(field+".targets", "%s needs exactly one target, as {\"Zones\": \"<target>\"}, {\"Environments\": \"<target>\"} or {\"Functions\": \"<target>\"}", a.ActionID)
		}
		for key, tname := range a.Targets {
			tf := field + ".targets." + key
			want := ""
			switch key {
			case "Zones":
				want = ResourceZone
			case "Environments":
				want = ResourceEnvironment
			case "Functions":
				want = ResourceLambdaFunction
			default:
				return nil, invalid(tf, "unknown target key (want \"Zones\", \"Environments\" or \"Functions\")")
			}
			pt, ok := targets[tname]
			if !ok {
				return nil, invalid(tf, "no target named %q in targets", tname)
			}
			if pt.declaredType != want {
				return nil, invalid(tf, "target %q has resourceType %q, but %q needs %q", tname, pt.declaredType, key, want)
			}
			pa.target = tname
		}
	}
	for i, after := range a.StartAfter {
		sf := fmt.Sprintf("%s.startAfter[%d]", field, i)
		if after == name {
			return nil, invalid(sf, "an action cannot start after itself")
		}
		if _, ok := t.Actions[after]; !ok {
			return nil, invalid(sf, "no action named %q in actions", after)
		}
	}
	return pa, nil
}

func (pa *plannedAction) parseParameters(field string, params map[string]string) error {
	var err error
	if v, ok := params["duration"]; ok {
		if pa.duration, err = ParseDuration(v); err != nil {
			return invalid(field+".duration", "%v", err)
		}
		if pa.duration > maxDuration {
			return invalid(field+".duration", "must be at most 12h (PT12H)")
		}
	}
	if v, ok := params["percentage"]; ok {
		p, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if perr != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return invalid(field+".percentage", "%q is not a number from 0 to 100", v)
		}
		pa.fraction = p / 100
	}
	switch pa.spec.kind {
	case kindLatency:
		v, ok := params["latency"]
		if !ok {
			return invalid(field+".latency", "is required (e.g. \"200ms\" or \"PT0.2S\")")
		}
		if pa.latency, err = ParseDuration(v); err != nil {
			return invalid(field+".latency", "%v", err)
		}
		if pa.latency > maxLatency {
			return invalid(field+".latency", "must be at most %s", maxLatency)
		}
	case kindError:
		if v, ok := params["errorType"]; ok {
			if v == "" || len(v) > maxErrorType || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
				return invalid(field+".errorType", "%q is not an error type (printable, no spaces, at most %d characters, e.g. %q)", v, maxErrorType, DefaultErrorType)
			}
			pa.errorType = v
		}
	case kindCrash:
		if v, ok := params["mode"]; ok {
			if v != CrashBlackhole && v != CrashRefuse {
				return invalid(field+".mode", "%q is not %q or %q", v, CrashBlackhole, CrashRefuse)
			}
			pa.crashMode = v
		}
	case kindDelay:
		v, ok := params["delay"]
		if !ok {
			return invalid(field+".delay", "is required (e.g. \"5s\" or \"PT5S\")")
		}
		if pa.delay, err = ParseDuration(v); err != nil {
			return invalid(field+".delay", "%v", err)
		}
		if pa.delay > maxLatency {
			return invalid(field+".delay", "must be at most %s", maxLatency)
		}
	case kindStress:
		if v, ok := params["workers"]; ok {
			n, nerr := strconv.Atoi(strings.TrimSpace(v))
			if nerr != nil || n < 1 || n > maxStressWorker {
				return invalid(field+".workers", "%q is not a whole number from 1 to %d", v, maxStressWorker)
			}
			pa.workers = n
		}
		if v, ok := params["load"]; ok {
			l, lerr := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if lerr != nil || math.IsNaN(l) || l <= 0 || l > 100 {
				return invalid(field+".load", "%q is not a percentage above 0, at most 100", v)
			}
			pa.load = l / 100
		}
	}
	return nil
}

// checkStartAfter rejects cycles, which would leave actions pending forever.
func checkStartAfter(actions []*plannedAction) error {
	byName := map[string]*plannedAction{}
	for _, a := range actions {
		byName[a.name] = a
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(a *plannedAction) error
	visit = func(a *plannedAction) error {
		switch state[a.name] {
		case visiting:
			return invalid("actions."+a.name+".startAfter", "actions start after each other in a cycle")
		case done:
			return nil
		}
		state[a.name] = visiting
		for _, n := range a.startAfter {
			if err := visit(byName[n]); err != nil {
				return err
			}
		}
		state[a.name] = done
		return nil
	}
	for _, a := range actions {
		if err := visit(a); err != nil {
			return err
		}
	}
	return nil
}

func checkName(field, name string) error {
	if name == "" || len(name) > maxNameLen || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return invalid(field, "name %q must be 1 to %d printable characters", name, maxNameLen)
	}
	return nil
}

var isoDurationRE = regexp.MustCompile(`^P(?:(\d{1,4})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,8}(?:\.\d{1,9})?)S)?)?$`)

// ParseDuration reads an ISO 8601 duration as FIS writes them ("PT2M", "PT1H30M", "PT0.5S",
// "P1D") or a Go duration ("2m", "1.5s"). It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasPrefix(s, "P") {
		m := isoDurationRE.FindStringSubmatch(s)
		if m == nil || s == "P" || s == "PT" || strings.HasSuffix(s, "T") {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration such as \"PT2M\"", s)
		}
		var d time.Duration
		for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
			if m[i+1] != "" {
				n, _ := strconv.Atoi(m[i+1]) // digits only, bounded by the pattern
				d += time.Duration(n) * unit
			}
		}
		if m[4] != "" {
			sec, _ := strconv.ParseFloat(m[4], 64)
			d += time.Duration(math.Round(sec * float64(time.Second)))
		}
		if d <= 0 {
			return 0, fmt.Errorf("%q must be longer than zero", s)
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"PT2M\" or \"2m\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be longer than zero", s)
	}
	return d, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
