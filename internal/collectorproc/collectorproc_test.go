package collectorproc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the "collector": with COLLECTORPROC_FAKE set it prints its
// configuration, starts a grandchild that sleeps (what Kill must not leave behind) and waits for
// SIGTERM, on which it exits 0.
func TestMain(m *testing.M) {
	if os.Getenv("COLLECTORPROC_FAKE") == "" {
		goleak.VerifyTestMain(m)
		return
	}
	if os.Getenv("COLLECTORPROC_FAKE") == "grandchild" {
		select {}
	}
	cfg, err := os.ReadFile(os.Args[2])
	if err != nil || os.Args[1] != "--config" {
		fmt.Fprintln(os.Stderr, "bad arguments", os.Args, err)
		os.Exit(2)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	gc := exec.Command(os.Args[0])
	gc.Env = append(os.Environ(), "COLLECTORPROC_FAKE=grandchild")
	if err := gc.Start(); err != nil {
		os.Exit(3)
	}
	fmt.Printf("config=%q grandchild=%d\n", cfg, gc.Process.Pid)
	<-term
	os.Exit(0)
}

type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // a token after each write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T) (*Process, *syncBuffer, int) {
	t.Helper()
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	p, err := Start(Options{Bin: os.Args[0], Config: "receivers: {}", Dir: t.TempDir(),
		Env: append(os.Environ(), "COLLECTORPROC_FAKE=1"), Output: out})
	if err != nil {
		t.Fatal(err)
	}
	limit := time.NewTimer(time.Minute)
	defer limit.Stop()
	for {
		var cfg string
		var gc int
		if n, _ := fmt.Sscanf(out.String(), "config=%q grandchild=%d", &cfg, &gc); n == 2 {
			if cfg != "receivers: {}" {
				t.Fatalf("the collector read config %q", cfg)
			}
			return p, out, gc
		}
		select {
		case <-out.wrote:
		case <-p.Done():
			t.Fatalf("exited early: %v: %s", p.Err(), out)
		case <-limit.C:
			t.Fatalf("no start line: %q", out)
		}
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// Stop: SIGTERM, a clean exit, and the process group (the grandchild) gone with it.
func TestStopEndsTheGroup(t *testing.T) {
	p, _, gc := start(t)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("Stop = %v, want a clean exit on SIGTERM", err)
	}
	if alive(gc) {
		waitGone(t, gc)
	}
}

// Kill: SIGKILL to the group, nothing left.
func TestKillEndsTheGroup(t *testing.T) {
	p, _, gc := start(t)
	p.Kill()
	if done, err := p.Exited(); !done || err == nil {
		t.Fatalf("after Kill: exited %v, err %v; want killed", done, err)
	}
	waitGone(t, gc)
	if b, err := os.ReadFile(p.ConfigPath()); err != nil || string(b) != "receivers: {}" {
		t.Fatalf("config file %s: %q %v", p.ConfigPath(), b, err)
	}
}

// waitGone waits for the grandchild to be reaped by init after its group was killed.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived its collector's group", pid)
		}
		<-tick.C
	}
}

// zombie: killed but not yet reaped (its parent, the fake collector, is gone; init reaps it).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}
