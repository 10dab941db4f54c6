package childproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/azlens/azlens/internal/childproc/proctest"
)

// The test binary doubles as the processes under test: the janitor, a "parent" standing in for
// azlens, and a "tree" child that spawns a grandchild in its own process group.
const helperEnv = "CHILDPROC_TEST_HELPER"

func TestMain(m *testing.M) {
	RunIfJanitor()
	switch os.Getenv(helperEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "parent":
		os.Exit(helperParent(os.Getenv("CHILDPROC_TEST_CLEAN") == "1"))
	case "tree":
		// A grandchild in this process's group that Pdeathsig does not cover: only the group kill
		// (KillGroup, or the janitor) ends it.
		gc := exec.Command(os.Args[0])
		gc.Env = append(os.Environ(), helperEnv+"=block")
		gc.Stdin = os.Stdin
		if err := gc.Start(); err != nil {
			os.Exit(1)
		}
		fmt.Println("tree ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "block":
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
}

// helperParent makes a scratch folder, starts a janitor watching it and a child tree, says so, and
// then either cleans up and exits (clean) or waits to be killed.
func helperParent(clean bool) int {
	dir, err := os.MkdirTemp(os.Getenv("CHILDPROC_TEST_TMP"), "scratch-")
	if err != nil {
		return 1
	}
	j, err := Watch(dir)
	if err != nil {
		return 1
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), helperEnv+"=tree")
	stdout, _ := child.StdoutPipe()
	child.Stdin = os.Stdin
	if err := Start(child); err != nil {
		return 1
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "tree ready\n" {
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "log"), []byte("x"), 0o644); err != nil {
		return 1
	}
	fmt.Println("parent ready")
	if !clean {
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	KillGroup(child.Process.Pid)
	os.RemoveAll(dir)
	if err := j.Close(); err != nil {
		return 1
	}
	return 0
}

// startParent runs the stand-in for azlens and returns once its janitor, child and grandchild run.
func startParent(t *testing.T, clean bool) (*exec.Cmd, string) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=parent", "CHILDPROC_TEST_TMP="+tmp)
	if clean {
		cmd.Env = append(cmd.Env, "CHILDPROC_TEST_CLEAN=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "parent ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("parent helper said %q", line)
	}
	return cmd, tmp
}

func assertNothingLeft(t *testing.T, w *proctest.Watcher, tmp string) {
	t.Helper()
	if survivors := w.Wait(30 * time.Second); len(survivors) > 0 {
		for _, p := range survivors {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		t.Errorf("still running: %v", survivors)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("left behind in the temporary folder: %s", strings.Join(names, ", "))
	}
}

// TestKilledParentLeavesNoProcessAndNoFolder kills the parent with SIGKILL, as the OOM killer or
// `kill -9` would: no deferred cleanup runs, yet the child dies of its parent-death signal, the
// grandchild with its process group (janitor), and the scratch folder is removed (janitor).
func TestKilledParentLeavesNoProcessAndNoFolder(t *testing.T) {
	parent, tmp := startParent(t, false)
	procs, err := proctest.Descendants(parent.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	w := proctest.Watch(procs)
	defer w.Close()
	if w.Len() != 3 {
		t.Fatalf("parent's descendants %v, want janitor, child and grandchild", procs)
	}
	_ = parent.Process.Signal(syscall.SIGKILL)
	_ = parent.Wait()
	assertNothingLeft(t, w, tmp)
}

// TestCleanExitWaitsForTheJanitor: after a clean exit nothing is left either, and the janitor has
// already exited when the parent does.
func TestCleanExitWaitsForTheJanitor(t *testing.T) {
	parent, tmp := startParent(t, true)
	procs, err := proctest.Descendants(parent.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	w := proctest.Watch(procs)
	defer w.Close()
	if err := parent.Wait(); err != nil {
		t.Fatalf("parent: %v", err)
	}
	assertNothingLeft(t, w, tmp)
}

// TestCleanIgnoresGarbage: the janitor's input comes from azlens only, but a malformed line must
// neither crash it nor kill process group 0 or -1 (everything).
func TestCleanIgnoresGarbage(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "scratch")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	clean(strings.NewReader("+ 0\n+ -1\n+ x\n- \nbogus\n\ndir " + victim + "\n"))
	if _, err := os.Stat(victim); !os.IsNotExist(err) {
		t.Errorf("scratch folder still there: %v", err)
	}
}

// TestStartOutlivesALockedThreadThatEnds: the parent-death signal watches the thread that forked
// the child. A goroutine that locks its thread and returns ends that thread (the emulator's
// namespace threads do, at every environment's end). A child started with Start from such a
// goroutine lives on; one started there with cmd.Start is killed, which is what the spawner
// prevents (azlens up's collector died this way when the first environment's namespace probe
// ended on the thread that had forked it).
func TestStartOutlivesALockedThreadThatEnds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start      func(*exec.Cmd) error
		wantKilled bool
	}{
		{"Start", Start, false},
		{"cmd.Start", func(c *exec.Cmd) error { Prepare(c); return c.Start() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			child := exec.Command(os.Args[0])
			child.Env = append(os.Environ(), helperEnv+"=block")
			stdin, err := child.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var thread int
			for thread == 0 {
				started := make(chan error, 1)
				go func() {
					runtime.LockOSThread()
					if unix.Gettid() == os.Getpid() {
						// Go never ends the main thread, so the test needs another one.
						runtime.UnlockOSThread()
						close(started)
						return
					}
					thread = unix.Gettid()
					started <- tc.start(child) // still locked: this thread ends with the goroutine
				}()
				if err := <-started; err != nil {
					t.Fatal(err)
				}
			}
			defer KillGroup(child.Process.Pid)
			waitGone(t, fmt.Sprintf("/proc/self/task/%d", thread))
			stdin.Close()
			err = child.Wait()
			killed := err != nil && strings.Contains(err.Error(), "killed")
			if killed != tc.wantKilled {
				t.Errorf("child started with %s after its starting thread ended: %v, want killed %v", tc.name, err, tc.wantKilled)
			}
		})
	}
}

// waitGone waits until path no longer exists (a thread's /proc entry goes once it has exited).
func waitGone(t *testing.T, path string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(time.Minute)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("%s still there after a minute", path)
		}
	}
}
