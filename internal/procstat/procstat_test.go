package procstat

import (
	"os"
	"testing"
	"time"
)

func TestThisProcess(t *testing.T) {
	// Burn a little CPU so the figure is above zero at USER_HZ resolution.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	cpu, err := CPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Errorf("CPU = %v, %v; want > 0", cpu, err)
	}
	rss, err := StatusKB(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("VmRSS = %d, %v", rss, err)
	}
	// /proc/PID/stat is the main thread's state, which may sleep while this goroutine runs on
	// another thread: running or sleeping, never stopped or a zombie.
	if s, err := State(os.Getpid()); err != nil || (s != 'R' && s != 'S') {
		t.Errorf("state = %q, %v; want R or S", s, err)
	}
	if _, err := CPU(-1); err == nil {
		t.Error("CPU of no process gave no error")
	}
}

func TestParse(t *testing.T) {
	// A command name with spaces and a parenthesis, as a process may name itself.
	stat := []byte("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 1000 1000000 300 18446744073709551615\n")
	if cpu, err := ParseCPU(stat); err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("ParseCPU = %v, %v; want 3.25s", cpu, err)
	}
	for _, bad := range []string{"", "42 name S 1", "42 (x) S 1 2 3", "42 (x) S 1 2 3 4 5 6 7 8 9 10 u s"} {
		if _, err := ParseCPU([]byte(bad)); err == nil {
			t.Errorf("ParseCPU(%q) gave no error", bad)
		}
	}
	status := []byte("Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n")
	if n, err := ParseStatusKB(status, "VmRSS"); err != nil || n != 1024 {
		t.Errorf("VmRSS = %d, %v", n, err)
	}
	if _, err := ParseStatusKB(status, "VmSwap"); err == nil {
		t.Error("a missing field gave no error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("1 (a) R 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1\n"), "VmRSS")
	f.Add([]byte("VmRSS:\t12 kB\n"), "VmRSS")
	f.Fuzz(func(t *testing.T, b []byte, field string) {
		cpu, err := ParseCPU(b)
		if err == nil && cpu < 0 && !(cpu < 0) {
			t.Fatal("unreachable")
		}
		_, _ = ParseStatusKB(b, field)
	})
}
