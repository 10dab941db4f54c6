// Package canarytest holds test helpers for code that runs canaries: a fake clock whose tickers
// tick and timers fire only when a test advances it.
package canarytest

import (
	"sync"
	"time"

	"github.com/azlens/azlens/emulator/canary"
)

// Clock is a canary.Clock that stands still until Advance moves it.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	tickers []*ticker
}

var _ canary.Clock = (*Clock)(nil)

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns a ticker that ticks in the Advance calls that pass its period; like
// time.Ticker its channel holds one tick and drops the ones a slow reader misses.
func (c *Clock) NewTicker(d time.Duration) canary.Ticker {
	if d <= 0 {
		panic("canarytest: non-positive ticker period")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{c: c, period: d, next: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

// Tickers returns how many tickers are running: a test waits for a runner's loops to start by
// watching it.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// AfterFunc schedules f to run inside the Advance call that reaches now + d.
func (c *Clock) AfterFunc(d time.Duration, f func()) canary.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Timers returns how many AfterFunc calls are pending.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d, in time order: due timers run synchronously and due
// tickers tick, with the clock reading the event's time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next time.Time
		var tm *timer
		var tk *ticker
		for _, t := range c.timers {
			if !t.when.After(target) && (next.IsZero() || t.when.Before(next)) {
				next, tm = t.when, t
			}
		}
		for _, t := range c.tickers {
			if !t.next.After(target) && (next.IsZero() || t.next.Before(next)) {
				next, tm, tk = t.next, nil, t
			}
		}
		if next.IsZero() {
			c.now = target
			c.mu.Unlock()
			return
		}
		if next.After(c.now) {
			c.now = next
		}
		if tk != nil {
			tk.next = tk.next.Add(tk.period)
			select {
			case tk.ch <- next:
			default: // dropped, as time.Ticker drops
			}
			c.mu.Unlock()
			continue
		}
		c.removeTimerLocked(tm)
		c.mu.Unlock()
		tm.f()
	}
}

func (c *Clock) removeTimerLocked(t *timer) bool {
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

type timer struct {
	c    *Clock
	when time.Time
	f    func()
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.removeTimerLocked(t)
}

type ticker struct {
	c      *Clock
	period time.Duration
	next   time.Time
	ch     chan time.Time
}

func (t *ticker) C() <-chan time.Time { return t.ch }

func (t *ticker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.tickers {
		if x == t {
			t.c.tickers = append(t.c.tickers[:i], t.c.tickers[i+1:]...)
			return
		}
	}
}
