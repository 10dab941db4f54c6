package agent

import (
	"runtime"
	"testing"
	"time"
)

// TestTrimReturnsFreeHeapAtMostOncePerInterval: a held invocation end returns the free heap to the
// OS (HeapReleased grows after garbage was made), and a second end within trimEvery does not pay
// for another GC.
func TestTrimReturnsFreeHeapAtMostOncePerInterval(t *testing.T) {
	a := &agent{}
	garbage := make([][]byte, 0, 64)
	for range 64 {
		garbage = append(garbage, make([]byte, 64<<10))
	}
	garbage = nil
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	now := time.Now()
	<-a.trim(now)
	runtime.ReadMemStats(&after)
	if after.NumForcedGC != before.NumForcedGC+1 {
		t.Fatalf("forced GCs %d → %d: the trim did not run", before.NumForcedGC, after.NumForcedGC)
	}
	if after.HeapIdle-after.HeapReleased > before.HeapIdle-before.HeapReleased && after.HeapIdle-after.HeapReleased > 1<<20 {
		t.Fatalf("free heap kept resident after the trim: idle %d, released %d", after.HeapIdle, after.HeapReleased)
	}
	<-a.trim(now.Add(trimEvery / 2))
	var again runtime.MemStats
	runtime.ReadMemStats(&again)
	if again.NumForcedGC != after.NumForcedGC {
		t.Fatal("a second trim within trimEvery ran another GC")
	}
	<-a.trim(now.Add(trimEvery))
	runtime.ReadMemStats(&again)
	if again.NumForcedGC != after.NumForcedGC+1 {
		t.Fatal("no trim once trimEvery had passed")
	}
	_ = garbage
}
