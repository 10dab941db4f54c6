// Package clocktest holds a fake clock.Clock whose timers fire and tickers tick only when a test
// advances it.
package clocktest

import (
	"sync"
	"time"

	"github.com/azlens/azlens/internal/clock"
)

// Clock is a clock.Clock that stands still until Advance moves it.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	tickers []*ticker
}

var _ clock.Clock = (*Clock)(nil)

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run inside the Advance call that reaches now + d (a zero d runs in
// the next Advance, even Advance(0)).
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// NewTicker returns a ticker that ticks in the Advance calls that pass its period; like
// time.Ticker its channel holds one tick and drops the ones a slow reader misses.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("clocktest: non-positive ticker period")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{c: c, period: d, next: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

// Pending returns how many AfterFunc calls are waiting.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Tickers returns how many tickers are running: a test waits for a loop to start by watching it.
func (c *Clock) Tickers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tickers)
}

// Advance moves the clock forward by d, in time order: each due timer runs synchronously and each
// due ticker ticks, with the clock reading the event's time. A timer and a tick due at the same
// instant: the timer goes first; timers due at the same instant run in the order they were set.
// Timers set by those calls run too when they fall due by the target.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var tm *timer
		for _, t := range c.timers {
			if !t.when.After(target) && (tm == nil || t.when.Before(tm.when)) {
				tm = t
			}
		}
		var tk *ticker
		for _, t := range c.tickers {
			if !t.next.After(target) && (tk == nil || t.next.Before(tk.next)) && (tm == nil || t.next.Before(tm.when)) {
				tk = t
			}
		}
		switch {
		case tk != nil:
			at := tk.next
			if at.After(c.now) {
				c.now = at
			}
			tk.next = at.Add(tk.period)
			select {
			case tk.ch <- at:
			default: // dropped, as time.Ticker drops
			}
			c.mu.Unlock()
		case tm != nil:
			if tm.when.After(c.now) {
				c.now = tm.when
			}
			c.removeTimerLocked(tm)
			c.mu.Unlock()
			tm.f()
		default:
			c.now = target
			c.mu.Unlock()
			return
		}
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
