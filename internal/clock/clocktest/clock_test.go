package clocktest_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/internal/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClockFiresDueTimersInOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clocktest.NewClock(t0)
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

func TestTickerTicksInTimeOrderAndDrops(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clocktest.NewClock(t0)
	tk := c.NewTicker(2 * time.Second)
	var order []string
	c.AfterFunc(2*time.Second, func() { order = append(order, "timer") })
	c.AfterFunc(3*time.Second, func() {
		order = append(order, "timer")
		select {
		case at := <-tk.C():
			order = append(order, "tick@"+at.Sub(t0).String())
		default:
		}
	})
	c.Advance(7 * time.Second) // ticks at 2s (read at 3s), 4s and 6s (dropped: one buffered)
	if want := "[timer timer tick@2s]"; fmt.Sprint(order) != want {
		t.Fatalf("order %v, want %s", order, want)
	}
	if at := <-tk.C(); at != t0.Add(4*time.Second) {
		t.Errorf("buffered tick at +%v, want +4s", at.Sub(t0))
	}
	select {
	case at := <-tk.C():
		t.Errorf("tick at +%v, want the 6s one dropped", at.Sub(t0))
	default:
	}
	if c.Tickers() != 1 {
		t.Fatalf("tickers = %d, want 1", c.Tickers())
	}
	tk.Stop()
	if c.Tickers() != 0 {
		t.Errorf("tickers after Stop = %d, want 0", c.Tickers())
	}
	// A timer due at the zero time still fires: zero is not a sentinel.
	z := clocktest.NewClock(time.Time{})
	fired := false
	z.AfterFunc(0, func() { fired = true })
	z.Advance(0)
	if !fired {
		t.Error("timer due at the zero time did not fire")
	}
}
