package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azlens/azlens/emulator"
)

// Region defaults.
const (
	DefaultName           = "us-east-1"
	DefaultEnvsPerZone    = 1
	DefaultAcquireTimeout = 2 * time.Second
)

// DefaultZones are the AZ IDs of a region when none are configured.
var DefaultZones = []string{"use1-az1", "use1-az2", "use1-az3"}

// ErrTooManyRequests is returned by Region.Invoke when no execution environment became free within
// Config.AcquireTimeout; the front door answers it with 429 TooManyRequestsException.
var ErrTooManyRequests = errors.New("no execution environment free: rate exceeded")

// ErrZoneUnavailable is returned when an invocation is pinned to a zone that is not part of the
// region.
var ErrZoneUnavailable = errors.New("zone not in region")

// Config configures one function deployed across several zones.
type Config struct {
	// Name is the region, e.g. "us-east-1". Empty means DefaultName.
	Name string
	// Zones are the AZ IDs. Empty means DefaultZones.
	Zones []string
	// EnvsPerZone is how many execution environments are pre-provisioned in every zone (static
	// stability: capacity exists before it is needed). Zero means DefaultEnvsPerZone.
	EnvsPerZone int
	// Function is deployed to every environment.
	Function emulator.Function
	// Sandbox is the template for every environment; Function, Region, AZ and ID are filled in.
	Sandbox emulator.SandboxConfig
	// AcquireTimeout bounds how long an invocation waits for a free environment before it is
	// throttled. Zero means DefaultAcquireTimeout.
	AcquireTimeout time.Duration
	// Weights returns the share of new invocations each zone should get now (zonal shift sets a
	// zone to 0). Nil means every zone weighs the same. Zones missing from the map weigh 0.
	Weights func(zones []string) map[string]float64
	// HooksFor returns the fault hooks of one environment, or nil.
	HooksFor func(zone string, index int) *emulator.Hooks
	// Observe, when set, is told the outcome of every invocation (outcome.go); it must not block.
	Observe func(Outcome)
	// Logger logs region lifecycle. Nil means discard.
	Logger *slog.Logger
}

// Region is one function in several availability zones behind a router: every zone has
// pre-provisioned environments, each runs one invocation at a time, and the router spreads new
// invocations over the zones by weight.
type Region struct {
	cfg    Config
	zones  []*zone
	byName map[string]*zone
	log    *slog.Logger
	router *router

	mu       sync.Mutex
	released chan struct{} // closed and replaced whenever an environment becomes free
	started  bool
	closed   bool

	stopOnce sync.Once
	stopErr  error
}

type zone struct {
	id   string
	envs []*emulator.Sandbox
	free []*emulator.Sandbox // guarded by Region.mu
	stat ZoneStats
}

// ZoneStats counts what one zone served. All fields are read with atomic loads via Stats.
type ZoneStats struct {
	Invocations    atomic.Int64 // answered by an environment of this zone
	FunctionErrors atomic.Int64 // of those, answered with X-Amz-Function-Error
	Failures       atomic.Int64 // invocations that failed without a function answer (sandbox errors)
	InFlight       atomic.Int64
}

// ZoneSnapshot is a copy of ZoneStats at one moment.
type ZoneSnapshot struct {
	Zone           string
	Environments   int
	Invocations    int64
	FunctionErrors int64
	Failures       int64
	InFlight       int64
}

// New validates cfg and creates (but does not start) every environment.
func New(cfg Config) (*Region, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if len(cfg.Zones) == 0 {
		cfg.Zones = DefaultZones
	}
	if cfg.EnvsPerZone == 0 {
		cfg.EnvsPerZone = DefaultEnvsPerZone
	}
	if cfg.EnvsPerZone < 0 {
		return nil, fmt.Errorf("envs per zone must be positive, got %d", cfg.EnvsPerZone)
	}
	if cfg.AcquireTimeout == 0 {
		cfg.AcquireTimeout = DefaultAcquireTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Region{
		cfg:      cfg,
		byName:   make(map[string]*zone, len(cfg.Zones)),
		log:      log,
		released: make(chan struct{}),
	}
	r.router = newRouter(cfg.Weights)
	for _, id := range cfg.Zones {
		if id == "" {
			return nil, errors.New("zones: empty zone id")
		}
		if _, dup := r.byName[id]; dup {
			return nil, fmt.Errorf("zones: %q listed twice", id)
		}
		z := &zone{id: id}
		for i := range cfg.EnvsPerZone {
			sc := cfg.Sandbox
			sc.Function = cfg.Function
			sc.Region = cfg.Name
			sc.AZ = id
			sc.ID = fmt.Sprintf("%s-env%d", id, i+1)
			if cfg.HooksFor != nil {
				sc.Hooks = cfg.HooksFor(id, i)
			}
			if sc.Logger == nil {
				sc.Logger = log
			}
			sb, err := emulator.NewSandbox(sc)
			if err != nil {
				return nil, fmt.Errorf("zone %s environment %d: %w", id, i+1, err)
			}
			z.envs = append(z.envs, sb)
		}
		r.zones = append(r.zones, z)
		r.byName[id] = z
	}
	return r, nil
}

// Name is the region's name.
func (r *Region) Name() string { return r.cfg.Name }

// FunctionName is the name of the function the region runs.
func (r *Region) FunctionName() string { return functionName(r.cfg.Function) }

// FunctionVersion is the version the region runs ("$LATEST" by default).
func (r *Region) FunctionVersion() string {
	if r.cfg.Function.Version == "" {
		return "$LATEST"
	}
	return r.cfg.Function.Version
}

// Zones lists the region's zone IDs in configuration order.
func (r *Region) Zones() []string {
	out := make([]string, len(r.zones))
	for i, z := range r.zones {
		out[i] = z.id
	}
	return out
}

// Start initialises every environment of every zone in parallel (pre-provisioned capacity). An
// environment whose init fails stays in service: Lambda retries init inside its next invocation.
func (r *Region) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return errors.New("region already started")
	}
	r.started = true
	r.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, 0)
	var errMu sync.Mutex
	for _, z := range r.zones {
		for _, sb := range z.envs {
			wg.Go(func() {
				if err := sb.Start(ctx); err != nil {
					errMu.Lock()
					errs = append(errs, fmt.Errorf("environment %s: %w", sb.ID(), err))
					errMu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	r.mu.Lock()
	for _, z := range r.zones {
		z.free = append(z.free[:0], z.envs...)
	}
	r.mu.Unlock()
	for _, err := range errs {
		// Not fatal: the environment re-runs init on its first invocation, as Lambda does.
		r.log.Warn("init failed; will retry on first invocation", "error", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("start region: %w", ctx.Err())
	}
	return nil
}

// InvokeOptions steer one invocation.
type InvokeOptions struct {
	// Zone pins the invocation to one zone (canaries), ignoring the router's weights. Empty means
	// the router chooses.
	Zone string
}

// Invocation is an answered invocation and where it ran.
type Invocation struct {
	*emulator.InvokeResult
	Zone        string
	Environment string
}

// Invoke routes req to a free environment and returns the function's answer. The environment is
// returned to the pool only when the invocation is complete (runtime and extensions back at /next),
// so the caller may see its answer before that.
func (r *Region) Invoke(ctx context.Context, req *emulator.InvokeRequest, opts InvokeOptions) (*Invocation, error) {
	if opts.Zone != "" {
		if _, ok := r.byName[opts.Zone]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrZoneUnavailable, opts.Zone)
		}
	}
	z, sb, err := r.acquire(ctx, opts.Zone)
	if err != nil {
		if errors.Is(err, ErrTooManyRequests) {
			r.observe(Outcome{Zone: opts.Zone, Status: OutcomeThrottled})
		}
		return nil, err
	}
	z.stat.InFlight.Add(1)
	res, err := sb.Invoke(ctx, req)
	if err != nil {
		z.stat.InFlight.Add(-1)
		z.stat.Failures.Add(1)
		r.release(z, sb)
		r.observe(Outcome{Zone: z.id, Environment: sb.ID(), Status: "failure"})
		return nil, fmt.Errorf("invoke in %s: %w", sb.ID(), err)
	}
	r.observe(Outcome{Zone: z.id, Environment: sb.ID(), Status: res.Status, ColdStart: res.ColdStart,
		RequestID: res.RequestID, TraceHeader: res.TraceHeader})
	z.stat.Invocations.Add(1)
	if res.FunctionError != "" {
		z.stat.FunctionErrors.Add(1)
	}
	go func() {
		<-res.Done
		z.stat.InFlight.Add(-1)
		r.release(z, sb)
	}()
	return &Invocation{InvokeResult: res, Zone: z.id, Environment: sb.ID()}, nil
}

// acquire takes a free environment, preferring the zone the router picks, waiting up to
// AcquireTimeout for one to be released.
func (r *Region) acquire(ctx context.Context, pinned string) (*zone, *emulator.Sandbox, error) {
	timer := time.NewTimer(r.cfg.AcquireTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, nil, errors.New("region is shut down")
		}
		if z, sb := r.takeLocked(pinned); sb != nil {
			r.mu.Unlock()
			return z, sb, nil
		}
		wait := r.released
		r.mu.Unlock()
		select {
		case <-wait:
		case <-timer.C:
			return nil, nil, ErrTooManyRequests
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func (r *Region) takeLocked(pinned string) (*zone, *emulator.Sandbox) {
	var candidates []*zone
	if pinned != "" {
		candidates = []*zone{r.byName[pinned]}
	} else {
		order := r.router.order(r.Zones(), func(id string) bool { return len(r.byName[id].free) > 0 })
		for _, id := range order {
			candidates = append(candidates, r.byName[id])
		}
	}
	for _, z := range candidates {
		if n := len(z.free); n > 0 {
			sb := z.free[n-1]
			z.free = z.free[:n-1]
			return z, sb
		}
	}
	return nil, nil
}

func (r *Region) release(z *zone, sb *emulator.Sandbox) {
	r.mu.Lock()
	z.free = append(z.free, sb)
	close(r.released)
	r.released = make(chan struct{})
	r.mu.Unlock()
}

// Stats returns a snapshot of every zone's counters, in zone order.
func (r *Region) Stats() []ZoneSnapshot {
	out := make([]ZoneSnapshot, 0, len(r.zones))
	for _, z := range r.zones {
		out = append(out, ZoneSnapshot{
			Zone:           z.id,
			Environments:   len(z.envs),
			Invocations:    z.stat.Invocations.Load(),
			FunctionErrors: z.stat.FunctionErrors.Load(),
			Failures:       z.stat.Failures.Load(),
			InFlight:       z.stat.InFlight.Load(),
		})
	}
	return out
}

// Environments lists every environment, zone by zone.
func (r *Region) Environments() []*emulator.Sandbox {
	var out []*emulator.Sandbox
	for _, z := range r.zones {
		out = append(out, z.envs...)
	}
	return out
}

// Shutdown stops taking invocations and shuts every environment down with reason spindown, in
// parallel, honouring each one's shutdown budget. Safe to call more than once and without Start.
func (r *Region) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		close(r.released) // wake waiters so they see closed
		r.released = make(chan struct{})
		r.mu.Unlock()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for _, sb := range r.Environments() {
			wg.Go(func() {
				if err := sb.Shutdown(ctx, emulator.ShutdownSpindown); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("environment %s: %w", sb.ID(), err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}

func functionName(f emulator.Function) string {
	if f.Name == "" {
		return "function"
	}
	return f.Name
}
