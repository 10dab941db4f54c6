// Package clock is the source of time for the emulator's services (experiments, zonal shift
// leases, canaries): the current time, one-shot timers and tickers. Services take a Clock so tests
// can pass the fake one in package clocktest, under which minutes of schedule run in microseconds
// and every event happens at an instant the test chooses.
package clock

import "time"

// Clock is the source of time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, unless the timer is stopped.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker delivers the time on C every d, dropping ticks a slow reader misses, as
	// time.Ticker does.
	NewTicker(d time.Duration) Ticker
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did so.
	Stop() bool
}

// Ticker is a running NewTicker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// NewTicker is time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
