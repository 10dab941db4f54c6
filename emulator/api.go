package emulator

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// This file is the emulator's public contract: the region and its front door (emulator/region),
// the CLI and the tests of the agent and the collector build on these names. Change them only
// together with their callers.

// Function is the code and configuration of one Lambda function, the same in every sandbox.
type Function struct {
	// Name is AWS_LAMBDA_FUNCTION_NAME. Empty means "function".
	Name string
	// Version is AWS_LAMBDA_FUNCTION_VERSION and X-Amz-Executed-Version. Empty means "$LATEST".
	Version string
	// Handler is _HANDLER. Empty means "bootstrap".
	Handler string
	// MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE and report.metrics.memorySizeMB. Zero means 128.
	MemoryMB int
	// Timeout is the invocation deadline given to the runtime and extensions. Zero means 3s.
	Timeout time.Duration
	// Env holds customer environment variables, seen by the runtime and by extensions. Keys may not
	// start with "_" nor override reserved names.
	Env map[string]string
	// LogFormat is AWS_LAMBDA_LOG_FORMAT: "Text" (zero) or "JSON".
	LogFormat string
	// AccountID is returned by /extension/register when the accountId feature is asked. Empty means
	// "123456789012".
	AccountID string

	// Runtime runs the function: a *ProcessRuntime (a real bootstrap executable) or an
	// *InProcessRuntime (a Go handler in this process that still speaks the Runtime API over loopback).
	Runtime Runtime
	// Extensions are the external (process) or in-process extensions started in every sandbox, in
	// this order; at most 10 together with those found in Layers.
	Extensions []Extension
	// Layers are paths of layer .zip archives, unpacked in this order into the environment's /opt
	// (a later layer's file replaces an earlier one's), as Lambda does. Every file in
	// /opt/extensions runs as an external extension named after the file. With a mount namespace
	// (NetworkIsolated) the environment sees them at /opt; otherwise at a directory of its own,
	// and PATH and LD_LIBRARY_PATH name that directory instead of /opt.
	Layers []string
}

// Runtime is *ProcessRuntime or *InProcessRuntime.
type Runtime interface{ isRuntime() }

// ProcessRuntime runs a real runtime executable (e.g. an aws-lambda-go "bootstrap").
type ProcessRuntime struct {
	// Path of the executable.
	Path string
	// Args are extra command-line arguments.
	Args []string
}

// InProcessRuntime runs Handler (any handler accepted by aws-lambda-go's lambda.NewHandler) in a
// goroutine whose loop speaks the Runtime API over loopback, so the APIs are exercised exactly as in
// process mode but without a process per sandbox.
type InProcessRuntime struct {
	Handler any
}

func (*ProcessRuntime) isRuntime()   {}
func (*InProcessRuntime) isRuntime() {}

// Extension is *ProcessExtension or *InProcessExtension.
type Extension interface{ isExtension() }

// ProcessExtension is a real external extension executable; its name is the file's base name.
type ProcessExtension struct {
	Path string
	Args []string
}

// InProcessExtension runs Run in a goroutine. It must register under Name and speak the
// Extensions/Telemetry APIs at api (host:port) like an external extension would; Run returns when
// it has exited (after SHUTDOWN, or on ctx cancellation when the sandbox kills it).
type InProcessExtension struct {
	Name string
	Run  func(ctx context.Context, api string) error
}

func (*ProcessExtension) isExtension()   {}
func (*InProcessExtension) isExtension() {}

// SandboxConfig configures one execution environment.
type SandboxConfig struct {
	Function Function
	// Region is AWS_REGION. Empty means "us-east-1".
	Region string
	// AZ is the availability zone ID served by the metadata endpoint, e.g. "use1-az1". Empty means
	// "use1-az1".
	AZ string
	// ID identifies the execution environment (initStart.instanceId, log stream suffix). Empty means
	// a random one.
	ID string
	// Listen is the address of the sandbox's API server (AWS_LAMBDA_RUNTIME_API). Empty means
	// "127.0.0.1:0" on the shared loopback, "127.0.0.1:9001" (Lambda's) in a namespace of its own.
	Listen string
	// Network chooses whether the environment has a network of its own (see Network). Zero is
	// NetworkShared.
	Network Network
	// HostPorts are TCP ports of the host's loopback that the processes of an isolated environment
	// reach at 127.0.0.1:PORT inside it (each connection is forwarded), e.g. a collector's OTLP
	// port. An extension can no longer bind these ports itself. Ignored on the shared loopback.
	HostPorts []int
	// TmpDir is the environment's /tmp, given to every process as TMPDIR and kept across resets.
	// Empty means a new directory made by Start and removed by Shutdown.
	TmpDir string
	// InitTimeout bounds the init phase. Zero means 10s.
	InitTimeout time.Duration
	// Freeze stops (SIGSTOP) the runtime and extension processes between invocations and resumes
	// them (SIGCONT) for the next one, as Lambda does. Process mode only.
	Freeze bool
	// TraceSampleRate is the fraction of invocations without an incoming X-Amzn-Trace-Id that get a
	// sampled trace header (Sampled=1); the others get Sampled=0. Zero means none sampled.
	TraceSampleRate float64
	// LogOutput, when set, receives a copy of every line the runtime and extensions print,
	// prefixed with the sandbox ID, for people watching a terminal.
	LogOutput io.Writer
	// Logger logs the sandbox's own lifecycle. Nil means discard.
	Logger *slog.Logger
	// Hooks let fault experiments act inside the sandbox. Nil means none.
	Hooks *Hooks
}

// Network is how an execution environment's processes are networked.
type Network int

const (
	// NetworkShared runs every environment on the host's loopback, each API server on its own
	// port. Fixed ports collide between environments: a subscription to a port another
	// environment already receives on is refused (and logged at WARN), never cross-delivered.
	NetworkShared Network = iota
	// NetworkIsolated gives each environment network and mount namespaces of its own (Linux,
	// CAP_SYS_ADMIN): loopback up, the APIs at 127.0.0.1:9001 inside, sandbox.localdomain and
	// sandbox resolving to 127.0.0.1, layers mounted read-only on /opt, fixed ports free in every
	// environment. Processes only, no in-process members. Start fails where the host refuses.
	NetworkIsolated
	// NetworkAuto is NetworkIsolated where the host allows it and every member is a process,
	// NetworkShared otherwise (said once per process at WARN).
	NetworkAuto
)

// Hooks are the points where fault injection acts; every field may be nil.
type Hooks struct {
	// BeforeInvoke runs before an invocation is handed to the runtime. A non-zero delay alone is
	// waited inside the invocation (after platform.start, within its duration and timeout); with a
	// non-nil error it is waited before, and the invocation fails with that error type without
	// running the function (e.g. "Sandbox.Failure", or "Sandbox.Timeout" after a black hole).
	BeforeInvoke func(ctx context.Context, req *InvokeRequest) (delay time.Duration, err error)
	// DropTelemetry reports whether one Telemetry API event is lost before delivery.
	DropTelemetry func(eventType string) bool
	// DelayTelemetry returns how long to hold one Telemetry API batch before delivering it.
	DelayTelemetry func() time.Duration
}

// InvokeRequest is one invocation as the Invoke API receives it.
type InvokeRequest struct {
	// RequestID is the invocation's id. Empty means a random UUID.
	RequestID string
	Payload   []byte
	// TraceHeader is the caller's X-Amzn-Trace-Id; empty means the sandbox makes one (sampled per
	// SandboxConfig.TraceSampleRate).
	TraceHeader     string
	ClientContext   string // Lambda-Runtime-Client-Context (JSON), passed through
	CognitoIdentity string // Lambda-Runtime-Cognito-Identity (JSON), passed through
}

// InvokeResult is what the caller of the Invoke API gets back. It is returned as soon as the runtime
// has answered; the sandbox stays busy until Done is closed (runtime and every INVOKE-subscribed
// extension back at /next).
type InvokeResult struct {
	RequestID string
	// Payload is the function's response, or the error JSON when FunctionError is set.
	Payload []byte
	// FunctionError is "" on success, else "Unhandled" (X-Amz-Function-Error).
	FunctionError string
	// Status is the telemetry status: "success", "error", "timeout" or "failure".
	Status string
	// ErrorType is set when Status is not success, e.g. "Function.Unknown", "Sandbox.Timeout",
	// "Runtime.ExitError".
	ErrorType string
	// ColdStart is true when this invocation ran init first.
	ColdStart bool
	// TraceHeader is the X-Amzn-Trace-Id the invocation ran with.
	TraceHeader string
	// Duration is from hand-off to the runtime until its response (or error).
	Duration time.Duration
	// Done is closed when the invocation is complete and the sandbox can take the next one.
	Done <-chan struct{}
}

// ShutdownReason is the SHUTDOWN event's shutdownReason.
type ShutdownReason string

// Shutdown reasons, lower-case as on the wire.
const (
	ShutdownSpindown ShutdownReason = "spindown"
	ShutdownTimeout  ShutdownReason = "timeout"
	ShutdownFailure  ShutdownReason = "failure"
)

// Sandbox (one execution environment) — implemented in sandbox.go:
//
//	func NewSandbox(cfg SandboxConfig) (*Sandbox, error)        // validates; starts nothing
//	func (s *Sandbox) Start(ctx context.Context) error           // binds the API server, runs init
//	func (s *Sandbox) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResult, error)
//	                                                             // re-inits first after a reset; one at a time
//	func (s *Sandbox) Shutdown(ctx context.Context, reason ShutdownReason) error
//	                                                             // SHUTDOWN, budgets, SIGTERM→SIGKILL; idempotent
//	func (s *Sandbox) APIAddr() string                           // host:port of AWS_LAMBDA_RUNTIME_API
//	func (s *Sandbox) ID() string
//	func (s *Sandbox) AZ() string
//	func (s *Sandbox) TelemetryStats() TelemetryStats            // hub delivery and drop counters
//
// Start returns an *InitError when init fails; the sandbox stays usable and re-runs init inside
// the next invocation, as Lambda does. Other errors: ErrSandboxNotStarted, ErrSandboxShutdown,
// ErrRequestTooLarge.
