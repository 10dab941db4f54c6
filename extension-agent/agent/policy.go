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

	arrivals  [4]time.Time // INVOKE arrival times, a ring: a short window keeps the ramp-up short
	n         int
	lastFlush time.Time
	skipWaits int // invocations left that must not wait, after runtimeDone failed to arrive
}

func newPolicy(mode string, interval time.Duration) *policy {
	return &policy{mode: mode, interval: interval}
}

func (p *policy) invoked(now time.Time) {
	p.arrivals[p.n%len(p.arrivals)] = now
	p.n++
}

// busy: the mean time between the last invocations is below the flush interval.
func (p *policy) busy() bool {
	switch p.mode {
	case config.FlushEnd:
		return false
	case config.FlushPeriodic:
		return true
	}
	if p.n < len(p.arrivals) {
		return false
	}
	newest := p.arrivals[(p.n-1)%len(p.arrivals)]
	oldest := p.arrivals[p.n%len(p.arrivals)]
	return newest.Sub(oldest) < p.interval*time.Duration(len(p.arrivals)-1)
}

// holdAtEnd reports whether this invocation's end waits for runtimeDone and flushes.
func (p *policy) holdAtEnd() bool {
	if p.skipWaits > 0 {
		p.skipWaits--
		return false
	}
	return !p.busy()
}

// flushDue reports whether a background flush is due (not holding: busy, or runtimeDone missing).
func (p *policy) flushDue(now time.Time) bool { return now.Sub(p.lastFlush) >= p.interval }

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
