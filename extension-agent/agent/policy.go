package agent

import (
	"context"
	"sync"
	"time"

	"github.com/azlens/azlens/extension-agent/config"
)

// policy decides, at each invocation end, whether to hold the environment (wait for runtimeDone,
// then flush) or return to /event/next at once and let the background sender work while the
// environment is thawed.
//
// Holding guarantees nothing waits in a frozen environment but costs post-runtime (billed) time at
// every invocation: up to the subscription's timeoutMs (25 ms by default) until runtimeDone
// arrives, plus one request to the collector. A busy function is thawed most of the time anyway,
// so there the policy never holds; it only asks the sender to flush in the background once per
// flush interval, like the periodic strategies of commercial agents. The price is freshness when
// traffic stops: the last interval's data waits in the frozen environment until the next
// invocation or SHUTDOWN.
type policy struct {
	mode     string
	interval time.Duration
	// busyInterval is the background flush cadence of adaptive mode while busy: the subscription's
	// buffering delay bounds how fresh the data can be anyway, so flushing twice per timeoutMs
	// keeps a busy environment's data within ≈ 3 × timeoutMs of the collector, at most one
	// request per busyInterval and only when something new is buffered.
	busyInterval time.Duration

	arrivals  [4]time.Time // INVOKE arrival times, a ring: a short window keeps the ramp-up short
	n         int
	lastFlush time.Time
	skipWaits int // invocations left that must not wait, after runtimeDone failed to arrive
}

func newPolicy(mode string, interval, busyInterval time.Duration) *policy {
	return &policy{mode: mode, interval: interval, busyInterval: min(busyInterval, interval)}
}

func (p *policy) invoked(now time.Time) {
	p.arrivals[p.n%len(p.arrivals)] = now
	p.n++
}

// busy: the mean time between the last invocations (up to 3 gaps) is below the flush interval.
// One gap is enough to decide: the first invocations after init are where holding hurts most
// (back-to-back callers queue behind every hold), so the policy must not need 3 of them to learn.
func (p *policy) busy() bool {
	switch p.mode {
	case config.FlushEnd:
		return false
	case config.FlushPeriodic:
		return true
	}
	k := min(p.n, len(p.arrivals)) // arrivals known
	if k < 2 {
		return false
	}
	newest := p.arrivals[(p.n-1)%len(p.arrivals)]
	oldest := p.arrivals[(p.n-k)%len(p.arrivals)]
	return newest.Sub(oldest) < p.interval*time.Duration(k-1)
}

// learning: adaptive mode before the second invocation, when nothing is known of the rate.
func (p *policy) learning() bool { return p.mode == config.FlushAdaptive && p.n < 2 }

// holdAtEnd reports whether this invocation's end waits for runtimeDone and flushes.
//
// The first invocation of an adaptive environment does not hold: with back-to-back callers a
// hold there (≈ the subscription's timeoutMs) lands on every environment's first calls and
// dominates their p99. Its data is not lost: what reached the agent (init logs, the SDK's
// ForceFlush-ed OTLP) leaves in a background flush started at once, and what the Telemetry API
// still buffers (its runtimeDone, late logs) leaves with the next invocation — held from then on
// if the rate turns out low — or at SHUTDOWN.
func (p *policy) holdAtEnd() bool {
	if p.skipWaits > 0 {
		p.skipWaits--
		return false
	}
	if p.learning() {
		return false
	}
	return !p.busy()
}

// flushDue reports whether a background flush is due (not holding: busy, learning, or runtimeDone
// missing): once per interval, or per busyInterval while adaptive mode finds the function busy.
func (p *policy) flushDue(now time.Time) bool {
	d := p.interval
	if p.mode == config.FlushAdaptive && p.busyInterval > 0 && p.busy() {
		d = p.busyInterval
	}
	return now.Sub(p.lastFlush) >= d
}

func (p *policy) flushed(now time.Time) { p.lastFlush = now }

// missedRuntimeDone: runtimeDone did not arrive before the deadline (telemetry lost); holding
// again right away would cost every following invocation its whole timeout.
func (p *policy) missedRuntimeDone() { p.skipWaits = 16 }

// tracker records which platform events (type + requestId) have arrived, for the lifecycle to wait
// on. Invocations are sequential, so only a few keys matter; the map is cleared when it grows.
type tracker struct {
	mu   sync.Mutex
	seen map[string]time.Time // event time of each typ/requestID seen
	ch   chan struct{}
}

func newTracker() *tracker {
	return &tracker{seen: map[string]time.Time{}, ch: make(chan struct{})}
}

func (t *tracker) mark(typ, requestID string, at time.Time) {
	t.mu.Lock()
	if len(t.seen) >= 256 {
		clear(t.seen)
	}
	t.seen[typ+"/"+requestID] = at
	close(t.ch)
	t.ch = make(chan struct{})
	t.mu.Unlock()
}

// wait returns the event's time (zero if it had none) and true once typ/requestID has been seen,
// false when ctx ends first.
func (t *tracker) wait(ctx context.Context, typ, requestID string) (time.Time, bool) {
	key := typ + "/" + requestID
	for {
		t.mu.Lock()
		at, ok := t.seen[key]
		ch := t.ch
		t.mu.Unlock()
		if ok {
			return at, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, false
		}
	}
}
