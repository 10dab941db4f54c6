package emulator

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azlens/azlens/emulator/internal/telemetry"
)

// Defaults for zero SandboxConfig / Function fields.
const (
	defaultFunctionName = "function"
	defaultVersion      = "$LATEST"
	defaultHandler      = "bootstrap"
	defaultMemoryMB     = 128
	defaultTimeout      = 3 * time.Second
	defaultAccountID    = "123456789012"
	defaultRegion       = "us-east-1"
	defaultAZ           = "use1-az1"
	defaultListen       = "127.0.0.1:0"
	defaultInitTimeout  = 10 * time.Second
	maxExtensions       = 10
	// maxPayload is Lambda's 6 MiB limit on a synchronous request and response.
	maxPayload = 6 << 20
)

// Shutdown budgets (docs/lambda-apis.md, "Lifecycle") and the runtime's grace between SIGTERM and SIGKILL.
const (
	budgetExternal = 2000 * time.Millisecond
	budgetInternal = 500 * time.Millisecond
	runtimeGrace   = 300 * time.Millisecond
	// hubCloseGrace bounds the last delivery attempt of a finished init cycle's telemetry.
	hubCloseGrace = 200 * time.Millisecond
)

// Errors Invoke returns when it cannot hand the invocation to the function at all.
var (
	ErrSandboxNotStarted = errors.New("sandbox not started")
	ErrSandboxShutdown   = errors.New("sandbox is shut down")
	ErrRequestTooLarge   = errors.New("payload: request exceeds 6 MiB")
)

// InitError reports an init phase that failed: the function's init error, a crash or the init
// timeout. The sandbox stays usable; its next Invoke re-runs init (phase "invoke") as Lambda does.
type InitError struct {
	// ErrorType is the telemetry error type, e.g. "Runtime.ExitError" or "Sandbox.Timeout".
	ErrorType string
	Message   string
}

func (e *InitError) Error() string { return "init failed: " + e.ErrorType + ": " + e.Message }

// Sandbox is one execution environment: an API server on its own address, a runtime and
// extensions, and the Lambda lifecycle between them.
type Sandbox struct {
	cfg       SandboxConfig
	fn        Function // with defaults applied
	region    string
	az        string
	id        string
	token     string // AWS_LAMBDA_METADATA_TOKEN
	arn       string
	logStream string
	log       *slog.Logger
	timeout   time.Duration
	initLimit time.Duration
	external  map[string]bool // names of configured external extensions
	hubClient *http.Client

	sem     chan struct{} // held by Start's init and by each invocation until Done
	closing chan struct{} // closed when Shutdown begins

	mu      sync.Mutex
	started bool
	closed  bool
	cyc     *cycle

	curRequest atomic.Pointer[string]
	telDone    TelemetryStats // counters of the hubs of finished init cycles

	srv         *http.Server
	ln          net.Listener
	addr        string
	tmpDir      string // the environment's /tmp (TMPDIR of every process)
	otlpAddr    string // the environment's OTLP endpoint on the shared loopback (otlpport.go)
	releaseOTLP func() // lets its port go (releaseEnvironment)
	ownTmp      bool   // tmpDir was made by Start and is removed by Shutdown
	reqMu       sync.RWMutex
	reqDone     bool
	requests    sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error

	// The environment's isolation (isolation.go).
	ns        *envNamespace // nil on the shared loopback
	optView   string        // where processes see the layers: "/opt", or optDir without a mount namespace
	optDir    string        // the layers unpacked; removed by Shutdown
	nsDir     string        // the namespace's /etc/hosts; removed by Shutdown
	fwdMu     sync.Mutex
	fwdLns    []net.Listener
	fwdConns  map[net.Conn]struct{}
	fwdClosed bool
	fwdWG     sync.WaitGroup

	// Lifecycle accounting for Summary and the warnings given once.
	statsMu     sync.Mutex
	invocations int
	resets      map[string]int
	warned      map[string]bool

	// tap, when set (tests), sees every platform event as it is emitted.
	tap func(t time.Time, eventType string, record any)
	// newHub makes the telemetry hub of an init cycle.
	newHub func(hubConfig) telemetryHub
}

// NewSandbox validates cfg and applies defaults; it starts nothing.
func NewSandbox(cfg SandboxConfig) (*Sandbox, error) {
	f := cfg.Function
	if f.Name == "" {
		f.Name = defaultFunctionName
	}
	if f.Version == "" {
		f.Version = defaultVersion
	}
	if f.Handler == "" {
		f.Handler = defaultHandler
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = defaultMemoryMB
	}
	if f.MemoryMB < 0 {
		return nil, fmt.Errorf("function.memory_mb: %d is negative", f.MemoryMB)
	}
	if f.Timeout == 0 {
		f.Timeout = defaultTimeout
	}
	if f.Timeout < 0 {
		return nil, fmt.Errorf("function.timeout: %s is negative", f.Timeout)
	}
	switch f.LogFormat {
	case "":
		f.LogFormat = "Text"
	case "Text", "JSON":
	default:
		return nil, fmt.Errorf("function.log_format: %q is not Text or JSON", f.LogFormat)
	}
	if f.AccountID == "" {
		f.AccountID = defaultAccountID
	}
	if err := validateCustomerEnv(f.Env); err != nil {
		return nil, err
	}
	switch r := f.Runtime.(type) {
	case *ProcessRuntime:
		if r == nil || r.Path == "" {
			return nil, errors.New("function.runtime: process runtime needs a path")
		}
	case *InProcessRuntime:
		if r == nil || r.Handler == nil {
			return nil, errors.New("function.runtime: in-process runtime needs a handler")
		}
	default:
		return nil, errors.New("function.runtime: missing (a *ProcessRuntime or *InProcessRuntime)")
	}
	if len(f.Extensions) > maxExtensions {
		return nil, fmt.Errorf("function.extensions: %d exceeds the limit of %d", len(f.Extensions), maxExtensions)
	}
	external := make(map[string]bool, len(f.Extensions))
	for i, e := range f.Extensions {
		var name string
		switch e := e.(type) {
		case *ProcessExtension:
			if e == nil || e.Path == "" {
				return nil, fmt.Errorf("function.extensions[%d]: process extension needs a path", i)
			}
			name = filepath.Base(e.Path)
		case *InProcessExtension:
			if e == nil || e.Name == "" || e.Run == nil {
				return nil, fmt.Errorf("function.extensions[%d]: in-process extension needs a name and Run", i)
			}
			name = e.Name
		default:
			return nil, fmt.Errorf("function.extensions[%d]: not a *ProcessExtension or *InProcessExtension", i)
		}
		if external[name] {
			return nil, fmt.Errorf("function.extensions[%d]: name %q used twice", i, name)
		}
		external[name] = true
	}
	if cfg.TraceSampleRate < 0 || cfg.TraceSampleRate > 1 {
		return nil, fmt.Errorf("trace_sample_rate: %v is not between 0 and 1", cfg.TraceSampleRate)
	}
	if cfg.Network == NetworkIsolated {
		if _, ok := f.Runtime.(*InProcessRuntime); ok {
			return nil, errors.New("network: an isolated environment runs processes only, not an in-process runtime")
		}
		for i, e := range f.Extensions {
			if _, ok := e.(*InProcessExtension); ok {
				return nil, fmt.Errorf("function.extensions[%d]: an isolated environment runs processes only", i)
			}
		}
	}
	if cfg.Network < NetworkShared || cfg.Network > NetworkAuto {
		return nil, fmt.Errorf("network: unknown mode %d", cfg.Network)
	}
	for i, z := range f.Layers {
		if _, err := os.Stat(z); err != nil {
			return nil, fmt.Errorf("function.layers[%d]: %w", i, err)
		}
	}
	if cfg.InitTimeout < 0 {
		return nil, fmt.Errorf("init_timeout: %s is negative", cfg.InitTimeout)
	}
	s := &Sandbox{
		cfg:       cfg,
		fn:        f,
		region:    orDefault(cfg.Region, defaultRegion),
		az:        orDefault(cfg.AZ, defaultAZ),
		id:        cfg.ID,
		token:     randomHex(16),
		timeout:   f.Timeout,
		initLimit: cfg.InitTimeout,
		external:  external,
		log:       cfg.Logger,
		sem:       make(chan struct{}, 1),
		closing:   make(chan struct{}),
		newHub:    newHub,
	}
	if s.id == "" {
		s.id = randomHex(16)
	}
	if s.initLimit == 0 {
		s.initLimit = defaultInitTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("sandbox", s.id)
	s.arn = "arn:aws:lambda:" + s.region + ":" + f.AccountID + ":function:" + f.Name
	s.logStream = time.Now().UTC().Format("2006/01/02") + "/[" + f.Version + "]" + strings.ReplaceAll(s.id, "-", "")
	s.fn.Extensions = append([]Extension(nil), f.Extensions...)
	s.hubClient = newHubClient(nil)
	return s, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return hex.EncodeToString(b)
}

// ID is the execution environment's id (initStart.instanceId).
func (s *Sandbox) ID() string { return s.id }

// AZ is the availability zone ID the metadata endpoint serves.
func (s *Sandbox) AZ() string { return s.az }

// APIAddr is the host:port of AWS_LAMBDA_RUNTIME_API; empty before Start.
func (s *Sandbox) APIAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start binds the API server and runs init. An *InitError means init failed and will be retried
// by the next Invoke; any other error means the sandbox cannot run.
func (s *Sandbox) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSandboxShutdown
	}
	if s.started {
		s.mu.Unlock()
		return errors.New("sandbox already started")
	}
	s.started = true
	// Each environment has a /tmp of its own, kept across resets (Lambda does not clear it) and
	// given to every process as TMPDIR: extensions spool there without seeing each other's files.
	s.tmpDir = s.cfg.TmpDir
	if s.tmpDir == "" {
		dir, err := os.MkdirTemp("", "azlens-"+s.id+"-tmp-")
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("environment /tmp: %w", err)
		}
		s.tmpDir, s.ownTmp = dir, true
	}
	if err := s.prepareEnvironment(); err != nil {
		s.mu.Unlock()
		s.releaseEnvironment()
		s.removeTmp()
		return err
	}
	var ln net.Listener
	var err error
	if s.ns != nil {
		listen := orDefault(s.cfg.Listen, apiAddrInNamespace)
		if ln, err = s.ns.listen(listen); err != nil {
			err = fmt.Errorf("listen %s in the environment's namespace: %w", listen, err)
		}
	} else if s.otlpAddr, s.releaseOTLP, err = reserveOTLPAddr(); err == nil {
		// On the shared loopback each environment needs an OTLP port of its own (otlpport.go);
		// in a namespace of its own the SDK's default localhost:4318 is the environment's.
		listen := orDefault(s.cfg.Listen, defaultListen)
		if ln, err = net.Listen("tcp", listen); err != nil {
			err = fmt.Errorf("listen %s: %w", listen, err)
		}
	}
	if err != nil {
		s.mu.Unlock()
		s.releaseEnvironment()
		s.removeTmp()
		return err
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Unlock()
	s.requests.Add(1)
	go func() {
		defer s.requests.Done()
		_ = s.srv.Serve(ln)
	}()
	s.log.Debug("sandbox api listening", "addr", s.addr)

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrSandboxShutdown
	}
	_, err = s.initCycle(ctx, "init")
	<-s.sem
	return err
}

// Invoke runs one invocation, re-running init first after a reset. It returns once the runtime has
// answered (or the invocation failed); res.Done closes when the sandbox can take the next one.
// Invocations are serialised: a second Invoke waits for the previous one's Done.
func (s *Sandbox) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResult, error) {
	if req == nil {
		return nil, errors.New("invoke: nil request")
	}
	if len(req.Payload) > maxPayload {
		return nil, ErrRequestTooLarge
	}
	s.mu.Lock()
	started, closed := s.started, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrSandboxShutdown
	}
	if !started {
		return nil, ErrSandboxNotStarted
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closing:
		return nil, ErrSandboxShutdown
	}
	inv := s.newInvocation(req)
	s.statsMu.Lock()
	s.invocations++
	s.statsMu.Unlock()
	s.mu.Lock()
	c := s.cyc
	closed = s.closed
	s.mu.Unlock()
	if closed {
		<-s.sem
		return nil, ErrSandboxShutdown
	}
	if c == nil || c.hasFailed() {
		if c != nil {
			c.teardown(context.Background(), ShutdownFailure)
		}
		var err error
		c, err = s.initCycle(ctx, "invoke")
		if err != nil {
			var ie *InitError
			if !errors.As(err, &ie) {
				<-s.sem
				return nil, err
			}
			return s.failBeforeRuntime(c, inv, &failure{ie.ErrorType, ie.Message, reasonFor(ie.ErrorType)}, true), nil
		}
	}
	var hold time.Duration
	if h := s.cfg.Hooks; h != nil && h.BeforeInvoke != nil {
		delay, err := h.BeforeInvoke(ctx, req)
		if err == nil {
			// A latency without a failure is spent inside the invocation, so the platform's
			// duration (and the function's timeout) include it, as with the FIS Lambda
			// extension's aws:lambda:invocation-add-delay; a client that gives up does not
			// cancel it, as Lambda does not.
			hold, delay = delay, 0
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				<-s.sem
				return nil, ctx.Err()
			}
		}
		if err != nil {
			return s.failBeforeRuntime(c, inv, &failure{err.Error(), "injected fault: " + err.Error(), ShutdownFailure}, false), nil
		}
	}
	c.dispatch(inv, hold)
	select {
	case <-inv.answered:
		// Under the lock: after a timeout answered it, the runtime may still be finishing its
		// response and stamping respEnd.
		s.mu.Lock()
		res := inv.result()
		s.mu.Unlock()
		return res, nil
	case <-ctx.Done():
		// The invocation goes on; Done still closes and frees the sandbox.
		return nil, ctx.Err()
	}
}

// Shutdown sends SHUTDOWN with reason and stops everything within the budget: 2000 ms with external
// extensions, 500 ms with internal ones only, none without extensions. It waits for an invocation
// in flight to complete unless ctx ends first. Idempotent; safe without Start.
func (s *Sandbox) Shutdown(ctx context.Context, reason ShutdownReason) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		started := s.started
		s.mu.Unlock()
		if !started {
			s.hubClient.CloseIdleConnections()
			return
		}
		held := false
		select {
		case s.sem <- struct{}{}:
			held = true
		case <-ctx.Done():
		}
		s.mu.Lock()
		c := s.cyc
		s.mu.Unlock()
		if c != nil {
			c.teardown(ctx, reason)
		}
		s.reqMu.Lock()
		s.reqDone = true
		s.reqMu.Unlock()
		var err error
		if s.srv != nil { // nil when Start failed before serving
			err = s.srv.Close()
		}
		s.requests.Wait()
		s.hubClient.CloseIdleConnections()
		s.releaseEnvironment()
		if held {
			<-s.sem
		}
		s.removeTmp()
		if err != nil {
			s.shutdownErr = fmt.Errorf("close api server: %w", err)
		}
	})
	return s.shutdownErr
}

func (s *Sandbox) removeTmp() {
	if s.ownTmp {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			s.log.Warn("remove environment /tmp", "dir", s.tmpDir, "error", err)
		}
	}
}

// emit hands one platform event to the cycle's hub (and the test tap).
func (s *Sandbox) emit(c *cycle, t time.Time, eventType string, record any) {
	if s.tap != nil {
		s.tap(t, eventType, record)
	}
	c.hub.Emit(t, eventType, record)
}

// tracing is the tracing object of platform events: present only for sampled traces, as RIE does.
func tracingFor(header, spanID string) *tracingRecord {
	if header == "" || !traceSampled(header) {
		return nil
	}
	return &tracingRecord{SpanID: spanID, Type: "X-Amzn-Trace-Id", Value: header}
}

// reasonFor is the SHUTDOWN reason of the reset that follows a failure of type errorType.
func reasonFor(errorType string) ShutdownReason {
	if errorType == errSandboxTimeout {
		return ShutdownTimeout
	}
	return ShutdownFailure
}

// TelemetryStats are a sandbox's Telemetry API delivery counters, summed over its init cycles.
// Every record lost on the way to a subscriber is counted here (and logged once by the hub).
type TelemetryStats struct {
	Emitted        uint64 // events accepted for delivery
	Delivered      uint64 // records acknowledged by a subscriber, per subscriber
	Batches        uint64 // batches delivered
	Retries        uint64 // failed delivery attempts that were retried
	DroppedRecords uint64 // records lost: full queue, rejected batch, or undeliverable at reset/shutdown
	DroppedBytes   uint64
	FaultDropped   uint64 // events removed by Hooks.DropTelemetry
}

func (t *TelemetryStats) add(h telemetry.Stats) {
	t.Emitted += h.Emitted
	t.Delivered += h.Delivered
	t.Batches += h.Batches
	t.Retries += h.Retries
	t.DroppedRecords += h.DroppedRecords
	t.DroppedBytes += h.DroppedBytes
	t.FaultDropped += h.FaultDropped
}

// TelemetryStats returns the Telemetry API counters so far.
func (s *Sandbox) TelemetryStats() TelemetryStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := s.telDone
	if c := s.cyc; c != nil && !c.hubClosed {
		total.add(c.hub.Stats())
	}
	return total
}
