package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/azlens/azlens/emulator/internal/runtimeloop"
)

// rtState is where the runtime is in the Runtime API's state machine.
type rtState int

const (
	rtStarting   rtState = iota // launched; first /next not seen yet
	rtAtNext                    // blocked in /next
	rtInvoking                  // holds an invocation it has not answered
	rtAnswered                  // answered; not yet back at /next
	rtDetached                  // its /next connection went away while waiting
	rtInitFailed                // posted /init/error
)

// extState is where an extension is in the Extensions API's state machine.
type extState int

const (
	extRegistered extState = iota // registered; first /event/next not seen yet
	extWaiting                    // blocked in /event/next
	extProcessing                 // holds an event
	extDetached                   // its /event/next connection went away while waiting
	extExiting                    // posted /exit/error
)

type extension struct {
	name       string
	id         string
	external   bool
	onInvoke   bool
	onShutdown bool
	events     []string
	state      extState
	ready      bool        // called /event/next at least once
	queue      chan []byte // events not yet handed out
	inv        *invocation // the INVOKE it has not come back from
	exitError  string      // Lambda-Extension-Function-Error-Type of /exit/error
}

// failure is the first fatal thing that happened to an init cycle.
type failure struct {
	errorType string
	message   string
	reason    ShutdownReason
}

func (f *failure) Error() string { return f.errorType + ": " + f.message }

var (
	errInitTimeout = errors.New("init timed out")
	errStopping    = errors.New("execution environment is shutting down")
)

// cycle is one init cycle of an execution environment: from initStart to the reset or shutdown that
// ends it. A reset starts a new cycle with fresh processes, extensions and telemetry hub.
type cycle struct {
	s     *Sandbox
	hub   telemetryHub
	phase string
	ctx   context.Context // in-process members run under it
	stop  context.CancelFunc

	stopping chan struct{} // teardown started
	dead     chan struct{} // teardown finished: blocked API calls give up
	failedCh chan struct{}
	tdOnce   sync.Once

	// Guarded by Sandbox.mu.
	fail        *failure
	changed     chan struct{}
	rt          rtState
	initErrType string
	regClosed   bool
	initDone    bool
	exts        []*extension
	extByID     map[string]*extension
	cur         *invocation
	members     []*member
	runtime     *member
	frozen      bool
	hubClosed   bool
	coldPending bool
	initDur     time.Duration

	next chan *invocation
}

func (s *Sandbox) newCycle(phase string) *cycle {
	ctx, cancel := context.WithCancel(context.Background())
	c := &cycle{
		s:        s,
		phase:    phase,
		ctx:      ctx,
		stop:     cancel,
		stopping: make(chan struct{}),
		dead:     make(chan struct{}),
		failedCh: make(chan struct{}),
		changed:  make(chan struct{}),
		extByID:  make(map[string]*extension),
		next:     make(chan *invocation, 1),
	}
	var hooks Hooks
	if s.cfg.Hooks != nil {
		hooks = *s.cfg.Hooks
	}
	var check func(extension, protocol string, port int) error
	if s.ns == nil {
		check = s.claimPort // environments share the loopback: a port is one environment's
	}
	c.hub = s.newHub(hubConfig{
		Client: s.hubClient,
		Logger: s.log,
		CurrentRequestID: func() string {
			if p := s.curRequest.Load(); p != nil {
				return *p
			}
			return ""
		},
		DropEvent:        hooks.DropTelemetry,
		DelayBatch:       hooks.DelayTelemetry,
		CheckDestination: check,
	})
	return c
}

func (c *cycle) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// failLocked records the cycle's first failure. A failure while idle resets the environment now;
// otherwise whoever is waiting (init, the invocation) handles it.
func (c *cycle) failLocked(f failure) {
	if c.fail != nil {
		return
	}
	c.fail = &f
	close(c.failedCh)
	c.broadcastLocked()
	c.s.log.Info("execution environment failed", "errorType", f.errorType, "message", f.message)
	if c.initDone && c.cur == nil {
		c.s.noteReset(f.errorType)
		go c.teardown(context.Background(), f.reason)
	}
}

func (c *cycle) hasFailed() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.fail != nil || c.isStopping()
}

func (c *cycle) isStopping() bool {
	select {
	case <-c.stopping:
		return true
	default:
		return false
	}
}

func (c *cycle) extByName(name string) *extension {
	for _, e := range c.exts {
		if e.name == name {
			return e
		}
	}
	return nil
}

// wait blocks until cond holds (checked under Sandbox.mu), the cycle fails, timeout fires or ctx ends.
func (c *cycle) wait(ctx context.Context, timeout <-chan time.Time, cond func() bool) error {
	for {
		c.s.mu.Lock()
		if c.fail != nil {
			f := c.fail
			c.s.mu.Unlock()
			return f
		}
		if cond() {
			c.s.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			return errInitTimeout
		case <-ctx.Done():
			return ctx.Err()
		case <-c.stopping:
			return errStopping
		}
	}
}

// initCycle runs the init phase (docs/lambda-apis.md, "Lifecycle") in a new cycle. On failure the cycle is torn
// down and an *InitError returned together with the dead cycle, whose hub still takes events.
func (s *Sandbox) initCycle(ctx context.Context, phase string) (*cycle, error) {
	c := s.newCycle(phase)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.teardown(context.Background(), ShutdownSpindown)
		return nil, ErrSandboxShutdown
	}
	s.cyc = c
	s.mu.Unlock()

	start := time.Now()
	s.emit(c, start, "platform.initStart", initStartRecord{
		InitializationType: initializationType,
		Phase:              phase,
		FunctionName:       s.fn.Name,
		FunctionVersion:    s.fn.Version,
		InstanceID:         s.id,
		InstanceMaxMemory:  s.fn.MemoryMB,
	})
	timer := time.NewTimer(s.initLimit)
	err := c.runInit(ctx, timer.C)
	timer.Stop()
	end := time.Now()

	var f *failure
	switch {
	case err == nil:
	case errors.As(err, &f):
	case errors.Is(err, errInitTimeout):
		f = &failure{errSandboxTimeout, fmt.Sprintf("init timed out after %s", s.initLimit), ShutdownTimeout}
		c.warnInitHolders(start)
	case errors.Is(err, errStopping):
		f = &failure{errSandboxFailure, "execution environment shut down during init", ShutdownSpindown}
	default:
		f = &failure{errSandboxFailure, "init: " + err.Error(), ShutdownFailure}
	}
	status, errType := statusSuccess, ""
	if f != nil {
		status, errType = statusOf(f.errorType), f.errorType
	}
	s.emit(c, end, "platform.initRuntimeDone", initRuntimeDoneRecord{
		InitializationType: initializationType, Phase: phase, Status: status, ErrorType: errType,
	})
	s.mu.Lock()
	exts := append([]*extension(nil), c.exts...)
	s.mu.Unlock()
	// Name order: registration order races between extensions launched in parallel.
	sort.Slice(exts, func(i, j int) bool { return exts[i].name < exts[j].name })
	for _, e := range exts {
		s.emit(c, end, "platform.extension", extensionRecord{Name: e.name, State: "Ready", Events: e.events})
	}
	s.emit(c, end, "platform.initReport", initReportRecord{
		InitializationType: initializationType, Phase: phase, Status: status, ErrorType: errType,
		Metrics: initReportMetrics{DurationMs: millis(end.Sub(start))},
	})
	s.mu.Lock()
	c.initDur = end.Sub(start)
	if f == nil {
		c.initDone = true
		c.coldPending = true
	}
	s.mu.Unlock()
	if f != nil {
		if !errors.Is(err, errStopping) {
			s.noteReset(f.errorType)
		}
		if phase == "init" {
			c.teardown(context.Background(), f.reason)
			s.dropCycle(c)
		}
		return c, &InitError{ErrorType: f.errorType, Message: f.message}
	}
	s.log.Debug("init done", "phase", phase, "duration", c.initDur)
	return c, nil
}

// dropCycle forgets a torn-down cycle so the next Invoke starts a new one.
func (s *Sandbox) dropCycle(c *cycle) {
	s.mu.Lock()
	if s.cyc == c {
		s.cyc = nil
	}
	s.mu.Unlock()
}

func (c *cycle) runInit(ctx context.Context, timeout <-chan time.Time) error {
	s := c.s
	// External extensions start first, in parallel, in name order (as RIE lists the directory).
	type ext struct {
		name string
		e    Extension
	}
	var exts []ext
	for _, e := range s.fn.Extensions {
		switch e := e.(type) {
		case *ProcessExtension:
			exts = append(exts, ext{baseName(e.Path), e})
		case *InProcessExtension:
			exts = append(exts, ext{e.Name, e})
		}
	}
	sort.SliceStable(exts, func(i, j int) bool { return exts[i].name < exts[j].name })
	for _, x := range exts {
		var m *member
		switch e := x.e.(type) {
		case *ProcessExtension:
			var err error
			m, err = startProcess(s.ns, "extension", x.name, e.Path, e.Args, s.extensionEnv(), s.logWriter(c, "extension", x.name))
			if err != nil {
				return &failure{errExtensionInit, err.Error(), ShutdownFailure}
			}
		case *InProcessExtension:
			run, api := e.Run, s.addr
			m = startGoroutine(c.ctx, "extension", x.name, func(ctx context.Context) error { return run(ctx, api) })
		}
		c.addMember(m)
	}
	if err := c.wait(ctx, timeout, func() bool {
		for _, x := range exts {
			if c.extByName(x.name) == nil {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}

	var rt *member
	switch r := s.fn.Runtime.(type) {
	case *ProcessRuntime:
		var err error
		rt, err = startProcess(s.ns, "runtime", "", r.Path, r.Args, s.runtimeEnv(r.Path), s.logWriter(c, "function", ""))
		if err != nil {
			return &failure{errRuntimeEntrypoint, err.Error(), ShutdownFailure}
		}
	case *InProcessRuntime:
		h, api := lambda.NewHandler(r.Handler), s.addr
		rt = startGoroutine(c.ctx, "runtime", "", func(ctx context.Context) error { return runtimeloop.Run(ctx, api, h) })
	}
	s.mu.Lock()
	c.runtime = rt
	s.mu.Unlock()
	c.addMember(rt)

	if err := c.wait(ctx, timeout, func() bool { return c.regClosed }); err != nil {
		return err
	}
	if err := c.wait(ctx, timeout, func() bool {
		for _, e := range c.exts {
			if !e.ready {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	c.hub.CloseSubscriptions()
	return nil
}

func (c *cycle) addMember(m *member) {
	c.s.mu.Lock()
	if c.isStopping() {
		// Teardown already ran (Shutdown overtook init): nothing may outlive it.
		c.s.mu.Unlock()
		m.kill()
		waitExited(m)
		return
	}
	c.members = append(c.members, m)
	c.s.mu.Unlock()
	go func() {
		<-m.exited
		c.memberExited(m)
	}()
}

// memberExited turns an exit outside teardown into the cycle's failure.
func (c *cycle) memberExited(m *member) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.isStopping() {
		return
	}
	desc := m.exitDescription()
	if m.kind == "runtime" {
		et := errRuntimeExit
		if c.initErrType != "" {
			et = c.initErrType
		}
		c.failLocked(failure{et, "Runtime exited with error: " + desc, ShutdownFailure})
		return
	}
	et := errExtensionCrash
	if e := c.extByName(m.name); e != nil && e.exitError != "" {
		et = errExtensionExit
	}
	c.failLocked(failure{et, "extension " + m.name + " exited: " + desc, ShutdownFailure})
}

// logWriter routes one member's output to the hub and the terminal copy.
func (s *Sandbox) logWriter(c *cycle, kind, name string) *lineWriter {
	prefix := "[" + s.id + "] "
	if name != "" {
		prefix = "[" + s.id + " " + name + "] "
	}
	return &lineWriter{dst: c.hub.LogWriter(kind, s.fn.LogFormat), copyTo: s.cfg.LogOutput, prefix: prefix}
}

// dispatch hands inv to the runtime and the INVOKE-subscribed extensions and starts watching it.
// hold delays the hand-off of the event to the runtime after the invocation has started (an
// injected latency, as the FIS Lambda extension adds it between the Runtime API and the handler):
// the delay is part of the invocation's duration and counts against its timeout.
func (c *cycle) dispatch(inv *invocation, hold time.Duration) {
	s := c.s
	c.thaw()
	now := time.Now()
	inv.start = now
	inv.deadline = now.Add(s.timeout)
	s.curRequest.Store(&inv.id)
	s.mu.Lock()
	inv.cold = c.coldPending
	if inv.cold {
		inv.initDur = c.initDur
	}
	c.coldPending = false
	s.mu.Unlock()
	s.emit(c, now, "platform.start", startRecord{RequestID: inv.id, Version: s.fn.Version, Tracing: tracingFor(inv.trace, inv.spanID)})

	ev := invokeEvent{EventType: "INVOKE", DeadlineMs: inv.deadline.UnixMilli(), RequestID: inv.id, InvokedFunctionArn: s.arn}
	if inv.trace != "" {
		ev.Tracing = &tracingHeader{Type: "X-Amzn-Trace-Id", Value: inv.trace}
	}
	body, _ := json.Marshal(ev)
	s.mu.Lock()
	c.cur = inv
	for _, e := range c.exts {
		if !e.onInvoke || e.state == extExiting {
			continue
		}
		select {
		case e.queue <- body:
			e.inv = inv
			inv.extPending++
		default:
			s.log.Error("extension event queue full; INVOKE not delivered", "extension", e.name, "requestId", inv.id)
		}
	}
	s.mu.Unlock()
	if hold <= 0 {
		c.next <- inv
		go c.watch(inv)
		return
	}
	go c.watch(inv)
	go func() {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
			c.next <- inv
		case <-c.stopping:
		}
	}()
}

// completeLocked closes inv.complete once the runtime and every INVOKE extension are back.
func (c *cycle) completeLocked(inv *invocation) {
	if inv.back && inv.extPending <= 0 && !inv.completeSent {
		inv.completeSent = true
		close(inv.complete)
	}
}

// watch follows inv to its end: completion, timeout, crash or shutdown.
func (c *cycle) watch(inv *invocation) {
	s := c.s
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	var f *failure
	select {
	case <-inv.complete:
	case <-timer.C:
		secs := s.timeout.Seconds()
		f = &failure{errSandboxTimeout, fmt.Sprintf("%s %s Task timed out after %.2f seconds", timestamp(time.Now()), inv.id, secs), ShutdownTimeout}
		c.warnHolders(inv)
		s.noteReset(f.errorType)
	case <-c.failedCh:
		s.mu.Lock()
		f = c.fail
		s.mu.Unlock()
		s.noteReset(f.errorType)
	case <-c.stopping:
		f = &failure{errSandboxFailure, "execution environment shut down during the invocation", ShutdownFailure}
	}
	if f == nil {
		c.finish(inv)
		return
	}
	now := time.Now()
	s.mu.Lock()
	inv.answerLocked(errorPayload(f.errorType, f.message), true, f.errorType)
	emitDone := !inv.doneEmitted
	inv.doneEmitted = true
	from := inv.handedOff
	if from.IsZero() {
		from = inv.start
	}
	var rd runtimeDoneRecord
	if emitDone {
		rd = runtimeDoneRecord{
			RequestID: inv.id, Status: statusOf(f.errorType), ErrorType: f.errorType,
			Metrics: &runtimeDoneMetrics{DurationMs: millis(now.Sub(from)), ProducedBytes: 0},
			Tracing: tracingFor(inv.trace, inv.spanID),
		}
		s.emit(c, now, "platform.runtimeDone", rd)
	}
	s.mu.Unlock()
	s.emit(c, now, "platform.report", c.report(inv, statusOf(f.errorType), f.errorType, now.Sub(inv.start)))
	c.teardown(context.Background(), f.reason)
	s.dropCycle(c)
	s.curRequest.Store(nil)
	close(inv.done)
	<-s.sem
}

// finish completes a successful (or function-error) invocation: report, freeze, release.
func (c *cycle) finish(inv *invocation) {
	s := c.s
	now := time.Now()
	s.mu.Lock()
	status, errType := inv.status, inv.errorType
	c.cur = nil
	s.mu.Unlock()
	s.emit(c, now, "platform.report", c.report(inv, status, errType, now.Sub(inv.start)))
	s.curRequest.Store(nil)
	if s.cfg.Freeze {
		c.freeze()
	}
	close(inv.done)
	<-s.sem
}

func (c *cycle) report(inv *invocation, status, errType string, d time.Duration) reportRecord {
	r := reportRecord{
		RequestID: inv.id, Status: status, ErrorType: errType,
		Metrics: reportMetrics{
			DurationMs:       millis(d),
			BilledDurationMs: billedMillis(d),
			MemorySizeMB:     c.s.fn.MemoryMB,
			MaxMemoryUsedMB:  c.maxMemoryUsedMB(),
		},
		Tracing: tracingFor(inv.trace, inv.spanID),
	}
	if inv.cold {
		ms := millis(inv.initDur)
		r.Metrics.InitDurationMs = &ms
	}
	return r
}

// maxMemoryUsedMB sums the peak RSS of the runtime and extension processes; in-process members
// count the Go runtime's memory once.
func (c *cycle) maxMemoryUsedMB() int {
	c.s.mu.Lock()
	members := append([]*member(nil), c.members...)
	c.s.mu.Unlock()
	var kb int64
	inProcess := false
	for _, m := range members {
		if m.isProcess() {
			if !m.hasExited() {
				kb += peakRSSKB(m.pid())
			}
		} else {
			inProcess = true
		}
	}
	mb := int((kb + 1023) / 1024)
	if inProcess {
		mb += inProcessMemoryMB()
	}
	return mb
}

// failBeforeRuntime answers an invocation that never reached the runtime (init failed inside the
// invocation, or a fault hook refused it), with the usual start/runtimeDone/report events.
func (s *Sandbox) failBeforeRuntime(c *cycle, inv *invocation, f *failure, initFailed bool) *InvokeResult {
	now := time.Now()
	inv.start = now
	inv.cold = initFailed
	if initFailed {
		inv.initDur = c.initDur
	}
	s.emit(c, now, "platform.start", startRecord{RequestID: inv.id, Version: s.fn.Version, Tracing: tracingFor(inv.trace, inv.spanID)})
	s.mu.Lock()
	inv.answerLocked(errorPayload(f.errorType, f.message), true, f.errorType)
	inv.doneEmitted = true
	s.mu.Unlock()
	st := statusOf(f.errorType)
	s.emit(c, now, "platform.runtimeDone", runtimeDoneRecord{
		RequestID: inv.id, Status: st, ErrorType: f.errorType,
		Metrics: &runtimeDoneMetrics{}, Tracing: tracingFor(inv.trace, inv.spanID),
	})
	s.emit(c, now, "platform.report", c.report(inv, st, f.errorType, 0))
	s.mu.Lock()
	res := inv.result()
	s.mu.Unlock()
	if initFailed {
		c.teardown(context.Background(), f.reason)
		s.dropCycle(c)
	}
	close(inv.done)
	<-s.sem
	return res
}

func (c *cycle) processMembers() []*member {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var out []*member
	for _, m := range c.members {
		if m.isProcess() {
			out = append(out, m)
		}
	}
	return out
}

// freeze stops every process of the environment between invocations, as Lambda does.
func (c *cycle) freeze() {
	c.s.mu.Lock()
	if c.frozen || c.isStopping() {
		c.s.mu.Unlock()
		return
	}
	c.frozen = true
	c.s.mu.Unlock()
	members := c.processMembers()
	for _, m := range members {
		m.signalGroup(syscall.SIGSTOP)
	}
	// SIGSTOP takes effect asynchronously; wait (briefly) so "Done" means frozen.
	for _, m := range members {
		m.waitStopped(time.Second)
	}
}

func (c *cycle) thaw() {
	c.s.mu.Lock()
	if !c.frozen {
		c.s.mu.Unlock()
		return
	}
	c.frozen = false
	c.s.mu.Unlock()
	for _, m := range c.processMembers() {
		m.signalGroup(syscall.SIGCONT)
	}
}

// teardown ends the cycle: the runtime first (SIGTERM, then SIGKILL after 300 ms; at once without a
// budget), then SHUTDOWN to the extensions that asked for it, then SIGKILL for whatever is left at
// the budget's deadline. Concurrent callers wait for the first one.
func (c *cycle) teardown(ctx context.Context, reason ShutdownReason) {
	c.tdOnce.Do(func() {
		close(c.stopping)
		c.shutdown(ctx, reason)
		close(c.dead)
		c.stop()
		hctx, cancel := context.WithTimeout(context.Background(), hubCloseGrace)
		if err := c.hub.Close(hctx); err != nil {
			c.s.log.Debug("close telemetry hub", "error", err)
		}
		cancel()
		c.s.mu.Lock()
		c.s.telDone.add(c.hub.Stats())
		c.hubClosed = true
		c.s.mu.Unlock()
		// The cycle's extensions are gone: the loopback ports they received on are free for
		// other environments again.
		releasePorts(c.s.id)
	})
}

func (c *cycle) shutdown(ctx context.Context, reason ShutdownReason) {
	s := c.s
	s.mu.Lock()
	members := append([]*member(nil), c.members...)
	rt := c.runtime
	external, internal := false, false
	for _, m := range members {
		if m.kind == "extension" {
			external = true
		}
	}
	for _, e := range c.exts {
		if !e.external {
			internal = true
		}
	}
	s.mu.Unlock()
	budget := time.Duration(0)
	switch {
	case external:
		budget = budgetExternal
	case internal:
		budget = budgetInternal
	}
	deadline := time.Now().Add(budget)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c.thaw()

	if rt != nil && !rt.hasExited() {
		if budget == 0 {
			rt.kill()
		} else {
			rt.terminate()
			grace, gcancel := context.WithTimeout(dctx, runtimeGrace)
			select {
			case <-rt.exited:
			case <-grace.Done():
			}
			gcancel()
			rt.kill()
		}
		waitExited(rt)
	}
	if budget > 0 {
		if err := c.hub.Flush(dctx); err != nil {
			s.log.Debug("flush telemetry before SHUTDOWN", "error", err)
		}
	}
	// From here extensions exit one by one; what they no longer take is an expected loss.
	c.hub.BeginShutdown()

	body, _ := json.Marshal(shutdownEvent{EventType: "SHUTDOWN", DeadlineMs: deadline.UnixMilli(), ShutdownReason: string(reason)})
	var waitFor []*member
	s.mu.Lock()
	for _, e := range c.exts {
		if !e.onShutdown {
			continue
		}
		select {
		case e.queue <- body:
		default:
		}
		for _, m := range members {
			if m.kind == "extension" && m.name == e.name {
				waitFor = append(waitFor, m)
			}
		}
	}
	s.mu.Unlock()
	for _, m := range waitFor {
		select {
		case <-m.exited:
		case <-dctx.Done():
		}
	}
	for _, m := range members {
		if !m.hasExited() {
			m.kill()
		}
	}
	for _, m := range members {
		waitExited(m)
	}
}

// waitExited waits for a killed member; a goroutine that ignores cancellation is left behind after a
// while rather than hanging the sandbox.
func waitExited(m *member) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-m.exited:
	case <-t.C:
	}
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
