// Package agent is the azlens-agent's lifecycle: register with the Extensions API, read the AZ ID,
// start the Telemetry API listener, subscribe, then loop on /event/next — holding an invocation's
// end until its data is sent when the flush policy says so, and sending everything at SHUTDOWN.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/azlens/azlens/extension-agent/config"
	"github.com/azlens/azlens/extension-agent/forward"
	"github.com/azlens/azlens/extension-agent/lambdaext"
	"github.com/azlens/azlens/extension-agent/listener"
	"github.com/azlens/azlens/extension-agent/otlpin"
)

// Version is the agent's version, reported in the User-Agent and the agent object.
var Version = "0.1.0"

// Error types reported to /init/error and /exit/error.
const (
	ErrTypeConfig    = "AzlensAgent.InvalidConfig"
	ErrTypeListener  = "AzlensAgent.ListenerFailed"
	ErrTypeSubscribe = "AzlensAgent.SubscribeFailed"
	ErrTypeEvents    = "AzlensAgent.EventLoopFailed"
)

const (
	// deadlineMargin is kept free before any Lambda deadline so the agent is back at /event/next
	// (or has exited) in time.
	deadlineMargin = 50 * time.Millisecond
	// metadataTimeout bounds reading the AZ ID at init.
	metadataTimeout = time.Second
	// memoryOverhead is the heap allowed beyond twice the event buffer: a batch in flight, its
	// encoding, listener bodies being read, the Go runtime.
	memoryOverhead = 12 << 20
	// trimEvery bounds how often a held invocation end returns the free heap to the OS (trim).
	trimEvery = time.Second
)

// Options configure Run.
type Options struct {
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// Name is the extension's name on the Extensions API: the executable's file name.
	Name string
	// Log receives the agent's own log lines (stderr on Lambda, which Lambda turns into extension
	// logs — so the agent logs once per kind of trouble, never per event).
	Log *slog.Logger
	// Level, when set, is the level of Log's handler: Run sets it from the validated
	// AZLENS_LOG_LEVEL, so the variable is read and checked in one place (config.Load).
	Level *slog.LevelVar
}

// Run runs the agent until SHUTDOWN (nil) or a fatal error. Cancelling ctx (SIGTERM outside
// Lambda) flushes like a SHUTDOWN with a one-second budget.
func Run(ctx context.Context, opt Options) error {
	getenv := opt.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api := getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		return errors.New("AWS_LAMBDA_RUNTIME_API is not set: not running as a Lambda extension")
	}
	client := lambdaext.New(api, opt.Name)
	defer client.CloseIdle()
	reg, err := client.Register(ctx)
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err == nil {
		_, err = tlsConfig(cfg)
	}
	if err != nil {
		return initError(ctx, client, ErrTypeConfig, fmt.Errorf("invalid configuration: %w", err))
	}
	if opt.Level != nil {
		opt.Level.Set(logLevel(cfg.LogLevel))
	}
	if getenv("GOMEMLIMIT") == "" {
		// The buffer's bound is only worth something if the heap follows it: without a limit the
		// GC lets garbage (encoded and compressed retries, spilled batches) pile up to twice the
		// live heap and more during a long outage. Lambda bills this memory to the function.
		debug.SetMemoryLimit(int64(cfg.MemoryLimitBytes)*2 + memoryOverhead)
	}
	if cfg.CollectorEndpoint == "" {
		log.Warn("AZLENS_COLLECTOR_ENDPOINT is not set; forwarding disabled")
		return idle(ctx, client)
	}
	a := &agent{cfg: cfg, client: client, log: log, getenv: getenv,
		tracker: newTracker(), policy: newPolicy(cfg.FlushMode, cfg.FlushInterval, 2*cfg.TelemetryTimeout)}
	a.env = newEnvironment(getenv, reg.FunctionName, reg.FunctionVersion, reg.AccountID)
	a.readAZ(ctx)
	if err := a.start(ctx); err != nil {
		return err
	}
	return a.loop(ctx)
}

func initError(ctx context.Context, c *lambdaext.Client, typ string, err error) error {
	if rerr := c.InitError(ctx, typ, err); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// idle keeps a registered but unconfigured agent out of the way until SHUTDOWN.
func idle(ctx context.Context, c *lambdaext.Client) error {
	for {
		ev, err := c.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.EventType == lambdaext.Shutdown {
			return nil
		}
	}
}

func tlsConfig(cfg config.Config) (*tls.Config, error) {
	if cfg.CAFile == "" && !cfg.InsecureSkipVerify {
		return nil, nil
	}
	t := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("AZLENS_COLLECTOR_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("AZLENS_COLLECTOR_CA_FILE: no PEM certificate in %s", cfg.CAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

type agent struct {
	cfg     config.Config
	client  *lambdaext.Client
	log     *slog.Logger
	getenv  func(string) string
	tracker *tracker
	policy  *policy
	fwd     *forward.Forwarder
	srv     *listener.Server
	otlp    *otlpin.Server

	mu       sync.Mutex
	env      environment
	restored bool

	lastRequest string
	lastTrim    time.Time
}

func (a *agent) readAZ(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	az, err := lambdaext.AvailabilityZoneID(ctx, a.getenv("AWS_LAMBDA_METADATA_API"), a.getenv("AWS_LAMBDA_METADATA_TOKEN"))
	if err != nil {
		// Telemetry without a zone is still worth sending; failing the function is not.
		a.log.Warn("sending without cloud.availability_zone", "error", err)
		return
	}
	a.mu.Lock()
	a.env.az = az
	a.mu.Unlock()
}

func (a *agent) start(ctx context.Context) error {
	cfg := a.cfg
	tc, _ := tlsConfig(cfg) // validated in Run
	var spool *forward.Spool
	if cfg.SpoolLimitBytes > 0 {
		s, err := forward.OpenSpool(cfg.SpoolDir, cfg.SpoolLimitBytes)
		if err != nil {
			a.log.Warn("spool disabled; overflow will be dropped (and counted)", "error", err)
		} else {
			spool = s
		}
	}
	a.mu.Lock()
	res := a.env.resource()
	a.mu.Unlock()
	a.fwd = forward.New(forward.Options{
		Endpoint:       cfg.CollectorEndpoint,
		Token:          cfg.CollectorToken,
		Gzip:           cfg.Gzip,
		Timeout:        cfg.CollectorTimeout,
		TLS:            tc,
		Version:        Version,
		MemoryLimit:    cfg.MemoryLimitBytes,
		BatchMaxEvents: cfg.BatchMaxEvents,
		BatchMaxBytes:  cfg.BatchMaxBytes,
		BatchMaxAge:    cfg.BatchMaxAge,
		RetryInitial:   cfg.RetryInitial,
		RetryMax:       cfg.RetryMax,
		Spool:          spool,
		Log:            a.log,
		// The first platform event (initStart, or any that follows it) settles who this
		// environment is; nothing leaves before it (notice).
		HoldUntilSettled: cfg.SubscribesPlatform(),
	}, res)
	a.fwd.Start()

	h := listener.NewHandler(a.fwd, a.notice, a.log)
	srv, err := listener.Listen(listener.BindHost(a.getenv), cfg.ListenerPort, h, a.log)
	if err != nil {
		a.fwd.Close()
		return initError(ctx, a.client, ErrTypeListener, fmt.Errorf("start telemetry listener: %w", err))
	}
	a.srv = srv
	if cfg.OTLPEndpoint != "" {
		oh := otlpin.NewHandler(a.fwd, a.fwd, cfg.OTLPMaxBytes, a.log)
		if a.otlp, err = otlpin.Listen(cfg.OTLPEndpoint, oh); err != nil {
			// Another OTLP receiver (the OTel layer's collector) may hold the port: the platform's
			// telemetry is still worth forwarding, and failing the init would fail the function.
			a.log.Warn("OTLP endpoint disabled: the function's OpenTelemetry data will not reach azlens", "error", err)
		}
	}
	err = a.client.Subscribe(ctx, lambdaext.Subscription{
		Types:     cfg.TelemetryTypes,
		MaxItems:  cfg.TelemetryMaxItems,
		MaxBytes:  cfg.TelemetryMaxBytes,
		TimeoutMs: int(cfg.TelemetryTimeout / time.Millisecond),
		URI:       "http://sandbox.localdomain:" + strconv.Itoa(srv.Port()) + listener.Path,
	})
	if err != nil {
		a.stopListener()
		a.fwd.Close()
		return initError(ctx, a.client, ErrTypeSubscribe, err)
	}
	otlpAddr := "off"
	if a.otlp != nil {
		otlpAddr = a.otlp.Addr()
	}
	a.log.Info("forwarding telemetry", "endpoint", cfg.CollectorEndpoint, "listener", srv.Addr(),
		"otlp", otlpAddr, "flush_mode", cfg.FlushMode)
	return nil
}

// notice reacts to platform events seen by the listener.
func (a *agent) notice(n listener.Notice) {
	switch n.Type {
	case "platform.runtimeDone", "platform.report":
		a.tracker.mark(n.Type, n.RequestID, n.Time)
	case "platform.initStart", "platform.restoreStart":
		a.mu.Lock()
		if n.Type == "platform.restoreStart" {
			a.restored = true // SnapStart may restore into another zone: re-read the AZ ID
		}
		if n.InstanceID != "" && n.InstanceID != a.env.instance {
			a.env.instance = n.InstanceID
			a.fwd.SetResource(a.env.resource())
		}
		a.mu.Unlock()
	}
	// Platform events arrive in order and initStart comes first: from any of them on, the
	// resource is final.
	a.fwd.Settle()
}

func (a *agent) loop(ctx context.Context) error {
	for {
		ev, err := a.client.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return a.shutdown(time.Now().Add(time.Second))
			}
			err = fmt.Errorf("wait for next event: %w", err)
			_ = a.shutdown(time.Now().Add(time.Second))
			if rerr := a.client.ExitError(context.Background(), ErrTypeEvents, err); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		if ev.EventType == lambdaext.Shutdown {
			return a.shutdown(ev.Deadline())
		}
		a.invoke(ctx, ev)
	}
}

// invoke handles one INVOKE. It runs beside the function and never delays its response: the
// response leaves when the runtime posts it, whatever the extensions do. Holding here only
// delays this extension's return to /event/next, i.e. the end of the (billed) invocation.
//
// On Lambda the report of invocation N is generated only after every extension is back at
// /event/next, so holding cannot wait for it: the hold ends at N's runtimeDone (all function logs
// precede it), N's report travels with invocation N+1 or SHUTDOWN.
func (a *agent) invoke(ctx context.Context, ev *lambdaext.Event) {
	now := time.Now()
	a.lastRequest = ev.RequestID
	a.policy.invoked(now)
	a.mu.Lock()
	restored := a.restored
	a.restored = false
	a.mu.Unlock()
	if restored {
		a.readAZ(ctx)
		a.mu.Lock()
		a.fwd.SetResource(a.env.resource())
		a.mu.Unlock()
	}
	if a.cfg.FlushMode == config.FlushAdaptive {
		// While busy the environment is thawed between invocations: let the sender itself send
		// what waits longer than the busy cadence, not only at the next invocation's start.
		if a.policy.busy() {
			a.fwd.SetMaxAge(a.policy.busyInterval)
		} else {
			a.fwd.SetMaxAge(0)
		}
	}
	if !a.cfg.SubscribesPlatform() || !a.policy.holdAtEnd() {
		if a.policy.flushDue(now) {
			a.fwd.Kick()
			a.policy.flushed(now)
		}
		return
	}
	deadline := ev.Deadline().Add(-deadlineMargin)
	trimmed := a.trim(now)
	defer func() { <-trimmed }()
	wctx, cancel := context.WithDeadline(ctx, deadline)
	finished, ok := a.tracker.wait(wctx, "platform.runtimeDone", ev.RequestID)
	cancel()
	if !ok {
		if ctx.Err() == nil {
			a.policy.missedRuntimeDone()
			a.log.Warn("runtimeDone did not arrive before the deadline; not holding the next invocations")
		}
		return
	}
	// The cap bounds the whole post-runtime hold, counted from when the runtime finished (the
	// runtimeDone event's time), not from when its event reached us through the Telemetry API's
	// buffering: with a slow or absent collector the invocation ends within the cap.
	if finished.IsZero() || finished.After(time.Now()) {
		finished = time.Now()
	}
	fctx, cancel := context.WithDeadline(ctx, finished.Add(a.cfg.FlushTimeout))
	if d, _ := fctx.Deadline(); d.After(deadline) {
		cancel()
		fctx, cancel = context.WithDeadline(ctx, deadline)
	}
	err := a.fwd.Flush(fctx)
	cancel()
	a.policy.flushed(time.Now())
	if err != nil && !errors.Is(err, forward.ErrCollectorDown) && !errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn("flush at invocation end", "error", err)
	}
}

// trim returns the heap's free memory to the OS (debug.FreeOSMemory: a GC, then the scavenger on
// every free page) in the background, at most once per trimEvery; the returned channel closes when
// it is done. It runs while a held invocation waits for runtimeDone — time the agent spends
// waiting on the Telemetry API's buffering anyway (≈ timeoutMs) — and the invocation's end waits
// for it, so it is over before the environment may freeze: a function invoked less than once per
// flush interval (the held ones) sits frozen with the agent's live heap resident, not with the
// garbage of its last invocations up to the GC's 4 MiB minimum heap goal. Busy functions are never
// held and never trimmed: there the GC's headroom buys throughput.
func (a *agent) trim(now time.Time) <-chan struct{} {
	done := make(chan struct{})
	if now.Sub(a.lastTrim) < trimEvery {
		close(done)
		return done
	}
	a.lastTrim = now
	go func() {
		defer close(done)
		// A GC first: FreeOSMemory's own GC only moves sync.Pools' contents to their victim
		// caches, and the pooled gzip writer (≈ 0.7 MiB of compressor state) would stay resident.
		// After two, the next flush allocates a new one, which a held function can afford.
		runtime.GC()
		debug.FreeOSMemory()
	}()
	return done
}

// shutdown waits (briefly) for the last invocation's report, closes the listener so nothing
// arrives after the last flush, then sends or spools everything before deadline.
func (a *agent) shutdown(deadline time.Time) error {
	deadline = deadline.Add(-deadlineMargin)
	if a.lastRequest != "" && a.cfg.SubscribesPlatform() {
		// The report is emitted once every extension is back at /event/next and reaches us after
		// at most the subscription's timeoutMs; keep at least half the budget for sending.
		wait := min(time.Until(deadline)/2, a.cfg.TelemetryTimeout+500*time.Millisecond)
		wctx, cancel := context.WithTimeout(context.Background(), wait)
		if _, ok := a.tracker.wait(wctx, "platform.report", a.lastRequest); !ok {
			a.log.Warn("last report did not arrive before shutdown", "requestId", a.lastRequest)
		}
		cancel()
	}
	a.stopListener()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := a.fwd.Shutdown(ctx)
	// The count of record: every event received is forwarded, spooled or dropped by now. The
	// collector has these counters too when final_reported is true; when it is false (collector
	// down, budget spent) this line is the only place the last drops are visible.
	s := a.fwd.Stats()
	a.log.Info("shut down", "received", s.EventsReceived, "forwarded", s.EventsForwarded,
		"spooled", s.EventsSpooled, "replayed", s.EventsReplayed, "dropped", s.EventsDropped,
		"batches_sent", s.BatchesSent, "batches_failed", s.BatchesFailed,
		"otlp_received", s.OTLPReceived, "otlp_rejected", s.OTLPRejected,
		"final_reported", a.fwd.FinalReported())
	if err != nil && !errors.Is(err, forward.ErrCollectorDown) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("flush at shutdown: %w", err)
	}
	return nil
}

// stopListener closes the Telemetry API listener and the OTLP endpoint, waiting (briefly) for
// requests in flight so what they carry is in the forwarder before its last flush.
func (a *agent) stopListener() {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if a.otlp != nil {
		_ = a.otlp.Shutdown(ctx)
	}
	if a.srv != nil {
		_ = a.srv.Shutdown(ctx)
	}
}

// logLevel maps config.Config.LogLevel (debug, info, warn or error, validated by config.Load)
// to its slog level.
func logLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
