// Package experimenttest holds test helpers for code that drives the fault-experiment service: an
// alarm source a test flips. (The fake clock is clocktest.Clock, in internal/clock/clocktest.)
package experimenttest

import (
	"sync"

	"github.com/azlens/azlens/emulator/experiment"
)

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
