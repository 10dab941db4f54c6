package experiment

import (
	"context"
	"hash/fnv"
	"math"
	"sync/atomic"
	"time"
)

// faultSet is every fault in force at one instant, as the hooks read it: an immutable value
// swapped atomically, so the invoke path takes no lock.
type faultSet struct {
	faults []*fault
}

// fault is one running action applied to its resolved target.
type fault struct {
	kind       actionKind
	zones      map[string]bool
	envs       map[envKey]bool // nil: every environment of zones
	fraction   float64
	latency    time.Duration
	delay      time.Duration
	errorType  string
	crashMode  string
	injections *atomic.Int64
}

func (f *fault) covers(k envKey) bool {
	return f.zones[k.zone] && (f.envs == nil || f.envs[k])
}

// counters count every fault injected, service-wide.
type counters struct {
	invocationsDelayed    atomic.Int64
	invocationsFailed     atomic.Int64
	invocationsCrashed    atomic.Int64
	telemetryDropped      atomic.Int64
	telemetryBatchDelayed atomic.Int64
	stressWorkers         atomic.Int64
}

// Stats counts the faults the service has injected since it was created.
type Stats struct {
	// InvocationsDelayed got added latency (azlens:invoke:add-latency).
	InvocationsDelayed int64
	// InvocationsFailed were failed with an injected error type (azlens:invoke:inject-error).
	InvocationsFailed int64
	// InvocationsCrashed were refused or black-holed (azlens:zone:crash).
	InvocationsCrashed int64
	// TelemetryDropped are Telemetry API events lost (azlens:telemetry:drop or a crash).
	TelemetryDropped int64
	// TelemetryBatchesDelayed are Telemetry API batches held back (azlens:telemetry:delay).
	TelemetryBatchesDelayed int64
	// StressWorkers is how many CPU stress goroutines run now.
	StressWorkers int64
}

// Stats returns the counts of injected faults.
func (s *Service) Stats() Stats {
	return Stats{
		InvocationsDelayed:      s.stats.invocationsDelayed.Load(),
		InvocationsFailed:       s.stats.invocationsFailed.Load(),
		InvocationsCrashed:      s.stats.invocationsCrashed.Load(),
		TelemetryDropped:        s.stats.telemetryDropped.Load(),
		TelemetryBatchesDelayed: s.stats.telemetryBatchDelayed.Load(),
		StressWorkers:           s.stats.stressWorkers.Load(),
	}
}

// rebuildFaultsLocked publishes the faults of every running action.
func (s *Service) rebuildFaultsLocked() {
	set := &faultSet{}
	for _, r := range s.runs {
		if r.view.State.Status != StatusRunning {
			continue
		}
		for _, pa := range r.plan.actions {
			if r.view.Actions[pa.name].State.Status != ActionRunning || pa.target == "" {
				continue
			}
			rt := r.resolved[pa.target]
			set.faults = append(set.faults, &fault{
				kind: pa.spec.kind, zones: rt.zones, envs: rt.envs,
				fraction: pa.fraction, latency: pa.latency, delay: pa.delay,
				errorType: pa.errorType, crashMode: pa.crashMode,
				injections: &r.actions[pa.name].injections,
			})
		}
	}
	s.faults.Store(set)
}

// injectedError fails an invocation; the sandbox reports its text as the error type.
type injectedError string

func (e injectedError) Error() string { return string(e) }

// Error types of crashed invocations.
const (
	errorTypeRefused    = "Sandbox.Failure"
	errorTypeBlackholed = "Sandbox.Timeout"
)

// envFaults answers the hooks of one execution environment.
type envFaults struct {
	s   *Service
	key envKey
	rng splitmix
}

func (s *Service) envFaults(zone string, index int) *envFaults {
	k := envKey{zone: zone, index: index}
	s.mu.Lock()
	s.envs[k] = true
	s.mu.Unlock()
	h := fnv.New64a()
	_, _ = h.Write([]byte(k.String()))
	f := &envFaults{s: s, key: k}
	f.rng.state.Store(s.seed ^ h.Sum64())
	return f
}

// beforeInvoke returns the delay and error to inject into one invocation: a crash wins over
// everything (refused at once, or held for the invocation timeout); otherwise each latency fault
// adds its latency to its share of invocations and the first error fault that draws fails it.
func (f *envFaults) beforeInvoke() (time.Duration, error) {
	set := f.s.faults.Load()
	var delay time.Duration
	var err error
	delayed := false
	for _, ft := range set.faults {
		if !ft.covers(f.key) {
			continue
		}
		switch ft.kind {
		case kindCrash:
			ft.injections.Add(1)
			f.s.stats.invocationsCrashed.Add(1)
			if ft.crashMode == CrashRefuse {
				return 0, injectedError(errorTypeRefused)
			}
			return f.s.invokeTimeout, injectedError(errorTypeBlackholed)
		case kindLatency:
			if f.rng.draw(ft.fraction) {
				ft.injections.Add(1)
				delay += ft.latency
				delayed = true
			}
		case kindError:
			if err == nil && f.rng.draw(ft.fraction) {
				ft.injections.Add(1)
				err = injectedError(ft.errorType)
			}
		}
	}
	if delayed {
		f.s.stats.invocationsDelayed.Add(1)
	}
	if err != nil {
		f.s.stats.invocationsFailed.Add(1)
	}
	return delay, err
}

// dropTelemetry reports whether one event is lost: always from a crashed environment, else with
// each drop fault's probability.
func (f *envFaults) dropTelemetry() bool {
	for _, ft := range f.s.faults.Load().faults {
		if !ft.covers(f.key) {
			continue
		}
		if ft.kind == kindCrash || (ft.kind == kindDrop && f.rng.draw(ft.fraction)) {
			if ft.kind == kindDrop {
				ft.injections.Add(1)
			}
			f.s.stats.telemetryDropped.Add(1)
			return true
		}
	}
	return false
}

// delayTelemetry returns the longest delay of the delay faults covering the environment.
func (f *envFaults) delayTelemetry() time.Duration {
	var d time.Duration
	var longest *fault
	for _, ft := range f.s.faults.Load().faults {
		if ft.kind == kindDelay && ft.covers(f.key) && ft.delay > d {
			d, longest = ft.delay, ft
		}
	}
	if longest != nil {
		longest.injections.Add(1)
		f.s.stats.telemetryBatchDelayed.Add(1)
	}
	return d
}

// splitmix is a lock-free SplitMix64 generator: concurrent hooks draw from it without contention,
// and a seeded service draws the same sequence in a single-threaded test.
type splitmix struct{ state atomic.Uint64 }

func (r *splitmix) next() uint64 {
	z := r.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// draw returns true with probability p.
func (r *splitmix) draw(p float64) bool {
	switch {
	case p >= 1:
		return true
	case p <= 0:
		return false
	}
	return float64(r.next()>>11)/(1<<53) < p
}

// startStressLocked starts an action's CPU stress workers; they run until the action ends or the
// service closes.
func (s *Service) startStressLocked(ra *runAction) {
	ctx, cancel := context.WithCancel(s.stressCtx)
	ra.stopStress = cancel
	for range ra.pa.workers {
		s.stress.Add(1)
		s.stats.stressWorkers.Add(1)
		ra.injections.Add(1)
		go func() {
			defer s.stress.Done()
			defer s.stats.stressWorkers.Add(-1)
			stressWorker(ctx, ra.pa.load)
		}()
	}
}

// stressPeriod is the slice of wall time in which a stress worker is busy for its load's share.
const stressPeriod = 100 * time.Millisecond

// stressWorker keeps one CPU busy for load (0..1] of every period, on the wall clock: CPU load is
// about real time whatever clock drives the experiment.
func stressWorker(ctx context.Context, load float64) {
	busy := time.Duration(math.Round(load * float64(stressPeriod)))
	idle := stressPeriod - busy
	var sink uint64
	for {
		start := time.Now()
		for time.Since(start) < busy {
			if ctx.Err() != nil {
				return
			}
			for i := range 10000 {
				sink += uint64(i) * 2654435761
			}
		}
		if idle <= 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		t := time.NewTimer(idle)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = sink
			return
		case <-t.C:
		}
	}
}
