package canary

import "time"

// Clock paces canaries and exports and bounds each request. Tests pass a fake one (package
// canarytest) so that ticks and timeouts happen when the test says, not after real waiting.
type Clock interface {
	Now() time.Time
	// NewTicker delivers the time on C every d, dropping ticks a slow reader misses, as
	// time.Ticker does.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine once d has elapsed, unless the timer is stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Ticker is a running NewTicker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is a pending AfterFunc call.
type Timer interface {
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker is time.NewTicker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
