// Package mapping turns decoded Telemetry API events into OTel traces, logs
// and metrics following docs/otel-mapping.md. It owns the per-environment
// state: the correlation table of partial invocations, pending init and
// restore phases, and the cumulative metrics.
package mapping

import (
	"container/list"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/azlens/azlens/internal/telemetryevent"
)

// Settings bound the state the mapper keeps.
type Settings struct {
	// CorrelationTimeout is how long a partial invocation (or an init or
	// restore phase waiting for its first invocation) is held.
	CorrelationTimeout time.Duration
	// MaxPending bounds the correlation table; when it is full the oldest
	// invocation is emitted incomplete.
	MaxPending int
	// MaxEnvironments bounds the number of execution environments with state;
	// when full, the least recently seen one is forgotten.
	MaxEnvironments int
	// EnvironmentIdle forgets an environment (its cumulative metrics end)
	// after this long without a batch.
	EnvironmentIdle time.Duration
	// Checkpoints makes Apply return the environment's metric state after every agent batch with
	// a seq (Output.Checkpoint), for a receiver that stores it (checkpoint.go).
	Checkpoints bool
	// ScopeName and ScopeVersion name the instrumentation scope of all output.
	ScopeName, ScopeVersion string
}

// Output is what one call produced. Empty signals have zero items.
type Output struct {
	Traces  ptrace.Traces
	Logs    plog.Logs
	Metrics pmetric.Metrics
	// Incomplete counts invocations and phases emitted with
	// azlens.incomplete=true by this call.
	Incomplete int
	// EvictedFull counts those of Incomplete that were pushed out because
	// the correlation table was full.
	EvictedFull int
	// EnvironmentsForgotten counts environments dropped by this call.
	EnvironmentsForgotten int
	// Duplicate is true when the batch's agent seq had already been applied.
	Duplicate bool
	// Delivering is true when the batch is a retry of one whose earlier attempt is still being
	// delivered (see Delivered): nothing was applied or emitted, and the retry must come again.
	Delivering bool
	// SDKMetrics are the function's own metrics (also in Metrics), kept with a stashed batch.
	SDKMetrics pmetric.Metrics
	// OTLPUnjoined counts SDK handler spans emitted without their invocation (it never arrived
	// within the correlation timeout, or the wait list was full).
	OTLPUnjoined int
	// Checkpoint is the environment's metric state after this batch (with Settings.Checkpoints,
	// for an agent batch with a seq; else zero).
	Checkpoint Checkpoint
	// Checkpoints are, with Settings.Checkpoints, the metric state of every environment whose
	// metrics a Sweep or Flush emitted, by EnvKey: counts that no batch's checkpoint holds
	// (invocations emitted incomplete), which a successor must continue from too.
	Checkpoints map[string]Checkpoint

	// traceEnvs[i] is the environment of Traces.ResourceSpans().At(i).
	traceEnvs []*environment
	// pendingSDK are SDK traces appended to Traces by finish, after the platform's.
	pendingSDK []ptrace.Traces
	// spanHint is how many spans the batch being applied is likely to emit for its environment,
	// to size the span slice once (see spans).
	spanHint int
}

func newOutput() Output {
	return Output{Traces: ptrace.NewTraces(), Logs: plog.NewLogs(), Metrics: pmetric.NewMetrics()}
}

type invKey struct{ env, requestID string }

// invocation is one partial invocation in the correlation table.
type invocation struct {
	env         *environment
	requestID   string
	start       *telemetryevent.Event
	runtimeDone *telemetryevent.Event
	report      *telemetryevent.Event
	coldstart   bool
	ids         ids
	created     time.Time
	elem        *list.Element
	// borrowed says which of start, runtimeDone and report (borrowStart…) still point into the
	// batch being applied rather than to copies of their own: see Mapper.keepBorrowed.
	borrowed uint8
}

const (
	borrowStart uint8 = 1 << iota
	borrowRuntimeDone
	borrowReport
)

func (inv *invocation) complete() bool {
	return inv.start != nil && inv.runtimeDone != nil && inv.report != nil
}

// phase is an init or restore phase of an environment.
type phase struct {
	name        string // "init" or "restore"
	start       *telemetryevent.Event
	runtimeDone *telemetryevent.Event
	report      *telemetryevent.Event
	created     time.Time
	// link is the first invocation's ids once it is known.
	link *ids
	// coldstart is false for SnapStart init events replayed from snapshot creation.
	coldstart bool
}

func (p *phase) complete() bool { return p.report != nil }

type environment struct {
	key       string
	resource  pcommon.Map
	firstSeen time.Time
	lastSeen  time.Time
	// active is the invocation between its platform.start and its report,
	// to which text log lines without a requestId belong.
	activeID  string
	activeIDs ids
	// coldPending is set by an init or restore and taken by the next start.
	coldPending   bool
	pendingPhases []*phase
	metrics       envMetrics
	agent         *agentState
	seqs          seqWindow
	stash         map[int64]stashed
	// delivering holds the seqs of batches applied (or re-sent from the stash) whose delivery has
	// not ended yet (Delivered).
	delivering map[int64]struct{}
	dirty      bool
	// checkpoints is the version of the last checkpoint taken or restored (checkpoint.go).
	checkpoints uint64
	// sdk is the state joining the function's own OTLP data (otlp.go); nil until some arrives.
	sdk *otlpState
}

type stashed struct {
	traces  ptrace.Traces
	logs    plog.Logs
	metrics pmetric.Metrics // the SDK's own (the platform's cumulative ones are re-emitted)
}

// Mapper is safe for concurrent use; one lock guards all state and output
// is built under it, the caller hands it to consumers after.
type Mapper struct {
	set Settings

	mu      sync.Mutex
	envs    map[string]*environment
	pending map[invKey]*invocation
	order   *list.List // of *invocation, oldest first
	// borrowers are the invocations given events of the batch being applied (scratch of Apply).
	borrowers []*invocation
}

// New returns an empty mapper.
func New(set Settings) *Mapper {
	return &Mapper{
		set:     set,
		envs:    map[string]*environment{},
		pending: map[invKey]*invocation{},
		order:   list.New(),
	}
}

// Pending reports the number of partial invocations held.
func (m *Mapper) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// Apply maps one decoded batch whose events all come from the execution
// environment described by resource. digest identifies the request body: a
// batch with the agent seq AND digest of one already applied is a retry and
// is not applied again (a restarted agent reusing a seq sends a different
// body). now is the receiver's clock.
func (m *Mapper) Apply(resource pcommon.Map, b *telemetryevent.Batch, digest uint64, now time.Time) Output {
	out := newOutput()
	m.mu.Lock()
	defer m.mu.Unlock()

	env := m.environment(resource, now, &out)
	env.lastSeen = now
	resource.CopyTo(env.resource)

	if b.Agent != nil && b.Agent.HasSeq {
		if env.seqs.contains(b.Agent.Seq, digest) {
			if _, ok := env.delivering[b.Agent.Seq]; ok {
				// The agent gave up on an attempt this process is still exporting and retried.
				// Until that attempt ends there is nothing to answer: it may yet succeed, or fail
				// and stash its output for this retry to re-send. Answering now (with nothing to
				// re-send) would lose the batch if it then failed.
				out.Delivering = true
				return out
			}
			// A retry of a batch already applied: applying it again would
			// double-count the cumulative metrics.
			out.Duplicate = true
			env.startDelivery(b.Agent.Seq)
			if s, ok := env.stash[b.Agent.Seq]; ok {
				s.traces.CopyTo(out.Traces)
				s.logs.CopyTo(out.Logs)
				if s.metrics != (pmetric.Metrics{}) {
					s.metrics.ResourceMetrics().CopyTo(out.Metrics.ResourceMetrics())
				}
				delete(env.stash, b.Agent.Seq)
			}
			env.dirty = true
			m.emitMetrics(env, now, &out)
			if m.set.Checkpoints {
				// The first attempt's consumers failed, so it was never recorded: this is.
				out.Checkpoint = env.checkpoint(now)
			}
			out.finish()
			return out
		}
		env.seqs.add(b.Agent.Seq, digest)
		env.startDelivery(b.Agent.Seq)
	}
	if b.Agent != nil {
		env.updateAgent(b.Agent, now)
	}
	if b.Agent != nil && b.Agent.HasActive {
		// The agent says which invocation was active when it took the batch's first event: what
		// this receiver last saw may be another one (a batch replayed from the spool after newer
		// ones, a predecessor collector that took the platform.start), and lines would join it.
		m.setActive(env, b.Agent.Active)
	}

	var logs plog.LogRecordSlice
	if len(b.Events) > 0 {
		rl := out.Logs.ResourceLogs().AppendEmpty()
		env.resource.CopyTo(rl.Resource().Attributes())
		sl := rl.ScopeLogs().AppendEmpty()
		m.scope(sl.Scope())
		logs = sl.LogRecords()
		// Every event becomes one log record; sized once rather than grown by appends.
		logs.EnsureCapacity(len(b.Events))
	}
	for i := range b.Events {
		if b.Events[i].Type == telemetryevent.TypePlatformReport {
			// An invocation's span and its children: runtimeDone's phase spans (two, as Lambda
			// sends them) and extensionOverhead.
			out.spanHint += 4
		}
	}
	for i := range b.Events {
		m.apply(env, &b.Events[i], now, logs, &out)
	}
	m.keepBorrowed()
	env.dirty = true
	m.emitMetrics(env, now, &out)
	m.releaseHeld(env, now.Add(-m.set.CorrelationTimeout), false, &out)
	if m.set.Checkpoints && b.Agent != nil && b.Agent.HasSeq {
		out.Checkpoint = env.checkpoint(now)
	}
	out.finish()
	return out
}

// Stash keeps the traces and logs of a batch whose consumers failed with a
// retryable error, so the agent's retry (same seq) resends them instead of
// re-applying the batch. At most a few per environment are kept.
func (m *Mapper) Stash(resource pcommon.Map, seq int64, out Output) {
	const maxStash = 4
	m.mu.Lock()
	defer m.mu.Unlock()
	env := m.envs[envKey(resource)]
	if env == nil {
		return
	}
	if env.stash == nil {
		env.stash = map[int64]stashed{}
	}
	if len(env.stash) >= maxStash {
		for k := range env.stash {
			delete(env.stash, k)
			break
		}
	}
	env.stash[seq] = stashed{traces: out.Traces, logs: out.Logs, metrics: out.SDKMetrics}
}

func (env *environment) startDelivery(seq int64) {
	if env.delivering == nil {
		env.delivering = map[int64]struct{}{}
	}
	env.delivering[seq] = struct{}{}
}

// Delivered ends the delivery of the agent batch seq that Apply returned (its consumers
// answered, and a failed one's output is stashed): a retry of it is answered from then on.
// Every Apply of a batch with a seq that was neither Delivering nor refused must be followed by
// one Delivered.
func (m *Mapper) Delivered(resource pcommon.Map, seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if env := m.envs[envKey(resource)]; env != nil {
		delete(env.delivering, seq)
	}
}

func (m *Mapper) scope(s pcommon.InstrumentationScope) {
	s.SetName(m.set.ScopeName)
	s.SetVersion(m.set.ScopeVersion)
}

// EnvKey identifies the execution environment of a resource (faas.name and faas.instance): the
// key of its state, and of its seq window, here and in the receiver's persisted copy of it.
func EnvKey(resource pcommon.Map) string { return envKey(resource) }

func envKey(resource pcommon.Map) string {
	var name, inst string
	if v, ok := resource.Get(string(semconv.FaaSNameKey)); ok {
		name = v.AsString()
	}
	if v, ok := resource.Get(string(semconv.FaaSInstanceKey)); ok {
		inst = v.AsString()
	}
	return name + "\x00" + inst
}

func (m *Mapper) environment(resource pcommon.Map, now time.Time, out *Output) *environment {
	key := envKey(resource)
	if env := m.envs[key]; env != nil {
		return env
	}
	if m.set.MaxEnvironments > 0 && len(m.envs) >= m.set.MaxEnvironments {
		var oldest *environment
		for _, e := range m.envs {
			if oldest == nil || e.lastSeen.Before(oldest.lastSeen) {
				oldest = e
			}
		}
		m.forget(oldest, now, out)
	}
	env := &environment{key: key, resource: pcommon.NewMap(), firstSeen: now, lastSeen: now}
	env.metrics.init()
	m.envs[key] = env
	return env
}

// forget emits what an environment still holds and drops it.
func (m *Mapper) forget(env *environment, now time.Time, out *Output) {
	for e := m.order.Front(); e != nil; {
		next := e.Next()
		if inv := e.Value.(*invocation); inv.env == env {
			m.emitInvocation(inv, now, out)
		}
		e = next
	}
	for _, p := range env.pendingPhases {
		m.emitPhase(env, p, out)
	}
	env.pendingPhases = nil
	m.releaseHeld(env, time.Time{}, true, out)
	if env.dirty {
		m.emitMetrics(env, now, out)
	}
	delete(m.envs, env.key)
	out.EnvironmentsForgotten++
}

func (m *Mapper) apply(env *environment, e *telemetryevent.Event, now time.Time, logs plog.LogRecordSlice, out *Output) {
	switch e.Type {
	case telemetryevent.TypePlatformStart, telemetryevent.TypePlatformRuntimeDone, telemetryevent.TypePlatformReport:
		inv := m.invocation(env, e.RequestID, now, out)
		// The event is borrowed from the batch, not copied: most invocations complete within one
		// batch (an agent flushes after the report), and are emitted before the batch is released.
		// keepBorrowed copies the events of those still held at the end of the batch.
		borrowed := inv.borrowed
		switch e.Type {
		case telemetryevent.TypePlatformStart:
			if inv.start == nil {
				inv.start, inv.borrowed = e, inv.borrowed|borrowStart
				inv.coldstart = env.coldPending
				env.coldPending = false
			}
			inv.ids = invocationIDs(inv.requestID, inv.start, inv.runtimeDone, inv.report)
			env.activeID, env.activeIDs = inv.requestID, inv.ids
			m.linkPhases(env, inv.ids, out)
		case telemetryevent.TypePlatformRuntimeDone:
			if inv.runtimeDone == nil {
				inv.runtimeDone, inv.borrowed = e, inv.borrowed|borrowRuntimeDone
			}
		case telemetryevent.TypePlatformReport:
			if inv.report == nil {
				inv.report, inv.borrowed = e, inv.borrowed|borrowReport
			}
		}
		if borrowed == 0 && inv.borrowed != 0 {
			m.borrowers = append(m.borrowers, inv)
		}
		if inv.start == nil {
			inv.ids = invocationIDs(inv.requestID, inv.start, inv.runtimeDone, inv.report)
		}
		env.remember(inv.requestID, inv.ids)
		m.addPlatformLog(env, e, logs, inv.ids, true)
		if e.Type == telemetryevent.TypePlatformReport && env.activeID == inv.requestID {
			env.activeID = ""
		}
		if inv.complete() {
			m.emitInvocation(inv, now, out)
		}
	case telemetryevent.TypePlatformInitStart, telemetryevent.TypePlatformInitRuntimeDone, telemetryevent.TypePlatformInitReport:
		m.applyPhase(env, "init", e, now, out)
		m.addPlatformLog(env, e, logs, ids{}, false)
	case telemetryevent.TypePlatformRestoreStart, telemetryevent.TypePlatformRestoreRuntimeDone, telemetryevent.TypePlatformRestoreReport:
		m.applyPhase(env, "restore", e, now, out)
		m.addPlatformLog(env, e, logs, ids{}, false)
	case telemetryevent.TypePlatformLogsDropped:
		env.metrics.droppedRecords += e.DroppedRecords
		m.addPlatformLog(env, e, logs, ids{}, false)
	case telemetryevent.TypeFunction, telemetryevent.TypeExtension:
		m.addLog(env, e, logs)
	default:
		m.addPlatformLog(env, e, logs, ids{}, false)
	}
}

// setActive makes requestID the environment's active invocation ("" for none), with the ids of
// its start when this receiver has seen it, else the deterministic ones (as for a line carrying
// the request id of an invocation not known here).
func (m *Mapper) setActive(env *environment, requestID string) {
	switch {
	case requestID == "":
		env.activeID, env.activeIDs = "", ids{}
	case requestID == env.activeID:
	default:
		if inv := m.pending[invKey{env.key, requestID}]; inv != nil {
			env.activeID, env.activeIDs = inv.requestID, inv.ids
			return
		}
		if env.sdk != nil {
			if id, ok := env.sdk.recent[requestID]; ok {
				env.activeID, env.activeIDs = strings.Clone(requestID), id
				return
			}
		}
		env.activeID, env.activeIDs = strings.Clone(requestID), invocationIDs(requestID)
	}
}

// invocation finds or creates the table entry, evicting the oldest when full.
func (m *Mapper) invocation(env *environment, requestID string, now time.Time, out *Output) *invocation {
	k := invKey{env.key, requestID}
	if inv := m.pending[k]; inv != nil {
		return inv
	}
	if m.set.MaxPending > 0 && len(m.pending) >= m.set.MaxPending {
		oldest := m.order.Front().Value.(*invocation)
		m.emitInvocation(oldest, now, out)
		out.EvictedFull++
	}
	inv := &invocation{env: env, requestID: strings.Clone(requestID), created: now}
	inv.elem = m.order.PushBack(inv)
	// The key keeps the clone: requestID may be a view of the request body.
	m.pending[invKey{env.key, inv.requestID}] = inv
	return inv
}

func (m *Mapper) applyPhase(env *environment, name string, e *telemetryevent.Event, now time.Time, out *Output) {
	isStart := e.Type == telemetryevent.TypePlatformInitStart || e.Type == telemetryevent.TypePlatformRestoreStart
	var p *phase
	// Events of one phase arrive in order; a start always opens a new one.
	if !isStart {
		for i := len(env.pendingPhases) - 1; i >= 0; i-- {
			if q := env.pendingPhases[i]; q.name == name && !q.complete() {
				p = q
				break
			}
		}
	}
	if p == nil {
		p = &phase{name: name, created: now, coldstart: true}
		env.pendingPhases = append(env.pendingPhases, p)
	}
	r := retain(e)
	switch e.Type {
	case telemetryevent.TypePlatformInitStart, telemetryevent.TypePlatformRestoreStart:
		p.start = r
	case telemetryevent.TypePlatformInitRuntimeDone, telemetryevent.TypePlatformRestoreRuntimeDone:
		p.runtimeDone = r
	default:
		p.report = r
	}
	if name == "init" && p.initializationType() == "snap-start" {
		// SnapStart replays the init events of snapshot creation: that init
		// is not this environment's cold start.
		p.coldstart = false
	}
	if isStart && p.coldstart && p.initializationType() != "provisioned-concurrency" {
		env.coldPending = true
	}
	if p.complete() {
		if name == "init" && p.coldstart {
			if p.report.Metrics.Has&telemetryevent.HasDurationMs != 0 {
				env.metrics.initDuration.record(p.report.Metrics.DurationMs / 1000)
			}
		}
		// A phase that will never get an invocation is emitted right away:
		// replayed SnapStart init, or one whose invocation is already linked.
		if !p.coldstart || p.link != nil {
			m.emitPhase(env, p, out)
			env.removePhase(p)
		}
	}
}

func (p *phase) initializationType() string {
	for _, e := range []*telemetryevent.Event{p.start, p.runtimeDone, p.report} {
		if e != nil && e.InitializationType != "" {
			return e.InitializationType
		}
	}
	return ""
}

func (env *environment) removePhase(p *phase) {
	for i, q := range env.pendingPhases {
		if q == p {
			env.pendingPhases = append(env.pendingPhases[:i], env.pendingPhases[i+1:]...)
			return
		}
	}
}

// linkPhases makes pending init/restore phases children of the first
// invocation that starts after them.
func (m *Mapper) linkPhases(env *environment, inv ids, out *Output) {
	kept := env.pendingPhases[:0]
	for _, p := range env.pendingPhases {
		if p.link == nil && p.coldstart {
			l := inv
			p.link = &l
		}
		if p.link != nil && p.complete() {
			m.emitPhase(env, p, out)
			continue
		}
		kept = append(kept, p)
	}
	env.pendingPhases = kept
}

// Sweep emits invocations and phases held longer than the correlation
// timeout and forgets idle environments. The receiver calls it on a ticker.
func (m *Mapper) Sweep(now time.Time) Output {
	out := newOutput()
	m.mu.Lock()
	defer m.mu.Unlock()
	deadline := now.Add(-m.set.CorrelationTimeout)
	for e := m.order.Front(); e != nil; {
		inv := e.Value.(*invocation)
		if inv.created.After(deadline) {
			break
		}
		next := e.Next()
		m.emitInvocation(inv, now, &out)
		e = next
	}
	for _, env := range m.envs {
		kept := env.pendingPhases[:0]
		for _, p := range env.pendingPhases {
			if p.created.After(deadline) {
				kept = append(kept, p)
				continue
			}
			m.emitPhase(env, p, &out)
		}
		env.pendingPhases = kept
		m.releaseHeld(env, deadline, false, &out)
		if m.set.EnvironmentIdle > 0 && now.Sub(env.lastSeen) > m.set.EnvironmentIdle {
			m.forget(env, now, &out)
			continue
		}
		if env.dirty {
			m.emitMetrics(env, now, &out)
			m.sweptCheckpoint(env, now, &out)
		}
	}
	out.finish()
	return out
}

// sweptCheckpoint adds env's checkpoint to a Sweep's or Flush's output (Output.Checkpoints).
func (m *Mapper) sweptCheckpoint(env *environment, now time.Time, out *Output) {
	if !m.set.Checkpoints {
		return
	}
	if out.Checkpoints == nil {
		out.Checkpoints = map[string]Checkpoint{}
	}
	out.Checkpoints[env.key] = env.checkpoint(now)
}

// Flush emits everything held, incomplete, as at shutdown.
func (m *Mapper) Flush(now time.Time) Output {
	out := newOutput()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, env := range m.envs {
		m.forget(env, now, &out)
		m.sweptCheckpoint(env, now, &out)
	}
	out.finish()
	return out
}

// keepBorrowed gives the invocations still held at the end of a batch copies of the events they
// borrowed from it (the batch's events are reused once it is released); emitted ones need none.
func (m *Mapper) keepBorrowed() {
	for i, inv := range m.borrowers {
		if inv.borrowed&borrowStart != 0 {
			inv.start = retain(inv.start)
		}
		if inv.borrowed&borrowRuntimeDone != 0 {
			inv.runtimeDone = retain(inv.runtimeDone)
		}
		if inv.borrowed&borrowReport != 0 {
			inv.report = retain(inv.report)
		}
		inv.borrowed = 0
		m.borrowers[i] = nil
	}
	m.borrowers = m.borrowers[:0]
}

// retain copies the fields of an event that outlive its batch, so that a
// held invocation does not keep the whole request body alive.
func retain(e *telemetryevent.Event) *telemetryevent.Event {
	r := &telemetryevent.Event{
		Time:               e.Time,
		Type:               e.Type,
		TypeName:           e.TypeName,
		RequestID:          strings.Clone(e.RequestID),
		Status:             strings.Clone(e.Status),
		ErrorType:          strings.Clone(e.ErrorType),
		InitializationType: strings.Clone(e.InitializationType),
		Phase:              strings.Clone(e.Phase),
		Version:            strings.Clone(e.Version),
		RuntimeVersion:     strings.Clone(e.RuntimeVersion),
		FunctionName:       strings.Clone(e.FunctionName),
		Metrics:            e.Metrics,
	}
	if e.Tracing.Present {
		r.Tracing = telemetryevent.Tracing{Present: true, Header: e.Tracing.Header, SpanID: strings.Clone(e.Tracing.SpanID)}
	}
	if len(e.Spans) > 0 {
		r.Spans = make([]telemetryevent.Span, len(e.Spans))
		for i, s := range e.Spans {
			r.Spans[i] = telemetryevent.Span{Name: strings.Clone(s.Name), Start: s.Start, DurationMs: s.DurationMs}
		}
	}
	return r
}

// SeqWindow is how many of an environment's latest agent batches are remembered as applied.
const SeqWindow = 64

// seqWindow remembers the last agent batches (seq and body digest) applied
// for an environment.
type seqWindow struct {
	buf  [SeqWindow]seqDigest
	n    int
	next int
}

type seqDigest struct {
	seq    int64
	digest uint64
}

func (w *seqWindow) contains(s int64, digest uint64) bool {
	for i := 0; i < w.n; i++ {
		if w.buf[i] == (seqDigest{s, digest}) {
			return true
		}
	}
	return false
}

func (w *seqWindow) add(s int64, digest uint64) {
	w.buf[w.next] = seqDigest{s, digest}
	w.next = (w.next + 1) % len(w.buf)
	if w.n < len(w.buf) {
		w.n++
	}
}
