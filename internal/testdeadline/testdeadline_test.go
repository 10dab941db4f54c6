package testdeadline

import (
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	dl, ok := t.Deadline()
	upper := time.Until(dl) - margin // taken first: the bound can only shrink after it
	got := Within(t, 1000*time.Hour)
	if !ok {
		if got != 1000*time.Hour {
			t.Fatalf("without a deadline Within = %s, want the limit", got)
		}
		return
	}
	if got > upper || got < time.Second {
		t.Fatalf("Within = %s, want at most %s (the -timeout deadline less the margin) and at least 1s", got, upper)
	}
	if got := Within(t, time.Millisecond); got != time.Millisecond {
		t.Fatalf("Within(1ms) = %s, want the shorter limit kept", got)
	}
}
