// Package experimenttest holds test helpers for code that drives the fault-experiment service: a
// fake clock that fires timers only when a test advances it, and an alarm source a test flips.
package experimenttest

import (
	"sync"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
)

// Clock is an experiment.Clock that stands still until Advance moves it.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ experiment.Clock = (*Clock)(nil)

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
func (c *Clock) AfterFunc(d time.Duration, f func()) experiment.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d, running each due timer in time order, synchronously, with
// the clock reading the timer's due time while it runs. Timers scheduled by those calls run too
// when they fall due before the target.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		i := -1
		for j, t := range c.timers {
			if !t.when.After(target) && (i < 0 || t.when.Before(c.timers[i].when)) {
				i = j
			}
		}
		if i < 0 {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers[i]
		c.timers = append(c.timers[:i], c.timers[i+1:]...)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Pending returns how many timers are waiting.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type timer struct {
	c    *Clock
	when time.Time
	f    func()
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Alarms is an experiment.AlarmSource whose alarms a test sets by name.
type Alarms struct {
	mu     sync.Mutex
	firing map[string]bool
}

var _ experiment.AlarmSource = (*Alarms)(nil)

// Set marks the alarm name as firing or not.
func (a *Alarms) Set(name string, firing bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.firing == nil {
		a.firing = map[string]bool{}
	}
	a.firing[name] = firing
}

// Firing reports whether Set last marked name as firing.
func (a *Alarms) Firing(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.firing[name]
}
