package zonalshifttest_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator/zonalshift/zonalshifttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClockFiresDueTimersInOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := zonalshifttest.NewClock(t0)
	var fired []time.Duration
	record := func() { fired = append(fired, c.Now().Sub(t0)) }
	c.AfterFunc(3*time.Second, record)
	c.AfterFunc(time.Second, record)
	stopped := c.AfterFunc(2*time.Second, record)
	c.AfterFunc(10*time.Second, record)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	c.Advance(5 * time.Second)
	if len(fired) != 2 || fired[0] != time.Second || fired[1] != 3*time.Second {
		t.Fatalf("fired at %v, want [1s 3s]", fired)
	}
	if got := c.Now().Sub(t0); got != 5*time.Second {
		t.Errorf("now = +%v, want +5s", got)
	}
	if c.Pending() != 1 {
		t.Errorf("pending = %d, want 1", c.Pending())
	}
	// A timer set from inside a callback, due within the same Advance, fires in it.
	c.AfterFunc(time.Second, func() { c.AfterFunc(time.Second, record) })
	c.Advance(2 * time.Second)
	if len(fired) != 3 || fired[2] != 7*time.Second {
		t.Fatalf("fired at %v, want a third at 7s", fired)
	}
}
