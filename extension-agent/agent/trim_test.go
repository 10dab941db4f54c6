package agent

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestTrimReturnsFreeHeapAtMostOncePerInterval: a held invocation end returns the free heap to the
// OS (HeapReleased grows after garbage was made), and a second end within trimEvery does not pay
// for more GCs.
func TestTrimReturnsFreeHeapAtMostOncePerInterval(t *testing.T) {
	// No GC but the trim's own: one triggered by this garbage, or by another goroutine's
	// allocations on a loaded machine, would free (and the background scavenger release) heap
	// outside the trim, or refill it right after, and the figures below would not be the trim's.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
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
	// Two forced GCs: the one that empties sync.Pools' victim caches, then FreeOSMemory's (trim).
	const trimGCs = 2
	if after.NumForcedGC != before.NumForcedGC+trimGCs {
		t.Fatalf("forced GCs %d → %d: the trim did not run", before.NumForcedGC, after.NumForcedGC)
	}
	if after.HeapIdle-after.HeapReleased > before.HeapIdle-before.HeapReleased && after.HeapIdle-after.HeapReleased > 1<<20 {
		t.Fatalf("free heap kept resident after the trim: idle %d, released %d", after.HeapIdle, after.HeapReleased)
	}
	// The 4 MiB of garbage was in use until the trim's GC: most of it must now be released.
	if got := after.HeapReleased - min(after.HeapReleased, before.HeapReleased); got < 3<<20 {
		t.Fatalf("the trim released %d bytes of the 4 MiB of garbage", got)
	}
	<-a.trim(now.Add(trimEvery / 2))
	var again runtime.MemStats
	runtime.ReadMemStats(&again)
	if again.NumForcedGC != after.NumForcedGC {
		t.Fatal("a second trim within trimEvery ran another GC")
	}
	<-a.trim(now.Add(trimEvery))
	runtime.ReadMemStats(&again)
	if again.NumForcedGC != after.NumForcedGC+trimGCs {
		t.Fatal("no trim once trimEvery had passed")
	}
	_ = garbage
}
