package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/childproc/proctest"
	"github.com/azlens/azlens/internal/testbin"
)

// upProcess is `azlens up` run as a user runs it, with its own TMPDIR so the test sees every
// temporary file it makes.
type upProcess struct {
	cmd    *exec.Cmd
	tmp    string
	stderr *strings.Builder
	stdout io.ReadCloser
	lines  chan string // stdout after the start, line by line; closed at end of output
	procs  []proctest.Proc
}

// startUp runs `azlens up` on a small region (with flags added) and returns once the load runs, with the processes it
// has started by then: collector, janitor, and a runtime and an agent per environment.
func startUp(t *testing.T, flags ...string) *upProcess {
	t.Helper()
	u := &upProcess{tmp: t.TempDir(), lines: make(chan string, 1024)}
	u.cmd = exec.Command(bins.azlens, append([]string{"up", "--listen", "127.0.0.1:0", "--timing", "fast",
		"--azs", "use1-az1,use1-az2", "--envs-per-az", "1", "--rate", "5", "--interval", "500ms"}, flags...)...)
	u.cmd.Env = append(os.Environ(), "TMPDIR="+u.tmp)
	var err error
	if u.stdout, err = u.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	u.stderr = stderr
	u.cmd.Stderr = stderr
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(u.stdout)
	var head []string
	for sc.Scan() {
		head = append(head, sc.Text())
		if strings.HasPrefix(sc.Text(), "Invoke API on") {
			break
		}
	}
	if len(head) == 0 || !strings.HasPrefix(head[len(head)-1], "Invoke API on") {
		_ = u.cmd.Process.Kill()
		_ = u.cmd.Wait()
		t.Fatalf("azlens up did not start:\n%s\n%s", strings.Join(head, "\n"), stderr.String())
	}
	go func() {
		defer close(u.lines)
		for sc.Scan() {
			select {
			case u.lines <- sc.Text():
			default: // a test that does not read the view does not hold azlens up
			}
		}
	}()
	if u.procs, err = proctest.Descendants(u.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, p := range u.procs {
		names[p.Name]++
	}
	// comm is the executable's name cut to 15 bytes; the janitor is azlens itself, as is the
	// holder of each environment's namespaces where they are user namespaces (not as root).
	if names["azlens-collecto"] != 1 || names["hello"] != 2 || names["azlens-agent"] != 2 || names["azlens"] < 1 {
		t.Fatalf("azlens up runs %v, want the collector, the janitor, and hello and azlens-agent in each of 2 environments", u.procs)
	}
	return u
}

// assertNothingLeft waits for every process azlens up had started to end, and checks its TMPDIR is
// empty.
func (u *upProcess) assertNothingLeft(t *testing.T, w *proctest.Watcher) {
	t.Helper()
	if survivors := w.Wait(60 * time.Second); len(survivors) > 0 {
		for _, p := range survivors {
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		t.Errorf("still running a minute after azlens up ended: %v", survivors)
	}
	entries, _ := os.ReadDir(u.tmp)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		t.Errorf("left in TMPDIR: %s", strings.Join(left, ", "))
	}
}

// TestUpKilledLeavesNothing: `kill -9` of azlens up (or the OOM killer) runs no cleanup code, yet
// every child dies and the scratch folder goes.
func TestUpKilledLeavesNothing(t *testing.T) {
	startUp(t).end(t, syscall.SIGKILL)
}

// end sends sig and checks that nothing the process started survives it; after anything but
// SIGKILL it also reads the rest of its output and returns it with the exit error.
func (u *upProcess) end(t *testing.T, sig syscall.Signal) (string, error) {
	t.Helper()
	w := proctest.Watch(u.procs)
	defer w.Close()
	_ = u.cmd.Process.Signal(sig)
	var out []string
	if sig != syscall.SIGKILL {
		for l := range u.lines {
			out = append(out, l)
		}
	}
	err := u.cmd.Wait()
	u.assertNothingLeft(t, w)
	return strings.Join(out, "\n"), err
}

// TestUpHangUpShutsDownCleanly: closing the terminal sends SIGHUP; azlens up shuts down as on
// Ctrl-C (summary, exit 0) and leaves nothing behind.
func TestUpHangUpShutsDownCleanly(t *testing.T) {
	u := startUp(t)
	all, err := u.end(t, syscall.SIGHUP)
	if err != nil {
		t.Errorf("azlens up after SIGHUP: %v, want exit 0", err)
	}
	// The timeline so far, then the summary, as on Ctrl-C.
	if !strings.Contains(all, "timeline") || !strings.Contains(all, "no fault injected") {
		t.Errorf("no timeline and summary after SIGHUP:\n%s\nstderr: %s", all, u.stderr)
	}
}

// TestUpInterruptWithBrokenPipe is `make up | tee log` in tmux and Ctrl-C: the same signal ends tee,
// so azlens up's next write meets a broken pipe (SIGPIPE). It still shuts down cleanly.
func TestUpInterruptWithBrokenPipe(t *testing.T) {
	u := startUp(t)
	w := proctest.Watch(u.procs)
	defer w.Close()
	u.stdout.Close()
	_ = u.cmd.Process.Signal(syscall.SIGINT)
	if err := u.cmd.Wait(); err != nil {
		t.Errorf("azlens up after SIGINT with its output gone: %v, want exit 0", err)
	}
	u.assertNothingLeft(t, w)
}

// startEmulateWithLayer runs `azlens emulate` as a user runs it — the agent from its layer zip, unpacked into
// the scratch folder, and network isolation where the host allows it (as root: every environment
// in namespaces of its own) — with its own TMPDIR, and returns once every environment is up, with
// the processes it has started by then: the janitor, and a runtime and an agent per environment.
func startEmulateWithLayer(t *testing.T) *upProcess {
	t.Helper()
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.zip")
	mklayer := filepath.Join(dir, "mklayer")
	if err := testbin.Build("-o", mklayer, "github.com/azlens/azlens/extension-agent/internal/mklayer"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mklayer, "-o", layer, filepath.Join(bins.dir, "azlens-agent")).CombinedOutput(); err != nil {
		t.Fatalf("mklayer: %v\n%s", err, out)
	}
	u := &upProcess{tmp: t.TempDir(), lines: make(chan string, 1024)}
	u.cmd = exec.Command(bins.azlens, "emulate", "--function", filepath.Join(bins.dir, "hello"), "--layer", layer,
		"--listen", "127.0.0.1:0", "--azs", "use1-az1,use1-az2", "--envs-per-az", "1")
	u.cmd.Env = append(os.Environ(), "TMPDIR="+u.tmp)
	var err error
	if u.stdout, err = u.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	u.stderr = &strings.Builder{}
	u.cmd.Stderr = u.stderr
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(u.stdout)
	var head []string
	envs := 0
	for envs < 2 && sc.Scan() {
		head = append(head, sc.Text())
		if strings.HasPrefix(sc.Text(), "  environment ") {
			envs++
		}
	}
	if envs < 2 {
		_ = u.cmd.Process.Kill()
		_ = u.cmd.Wait()
		t.Fatalf("azlens emulate did not start:\n%s\n%s", strings.Join(head, "\n"), u.stderr)
	}
	go func() {
		defer close(u.lines)
		for sc.Scan() {
			u.lines <- sc.Text()
		}
	}()
	if u.procs, err = proctest.Descendants(u.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, p := range u.procs {
		names[p.Name]++
	}
	if names["hello"] != 2 || names["azlens-agent"] != 2 || names["azlens"] != 1 {
		t.Fatalf("azlens emulate runs %v, want the janitor, and hello and azlens-agent in each of 2 environments", u.procs)
	}
	return u
}

// TestEmulateKilledLeavesNothing: `kill -9` of azlens emulate leaves no runtime, no extension and
// no unpacked layer or environment /tmp behind.
func TestEmulateKilledLeavesNothing(t *testing.T) {
	startEmulateWithLayer(t).end(t, syscall.SIGKILL)
}

// TestEmulateHangUpShutsDownCleanly: a closed terminal (SIGHUP) shuts azlens emulate down as
// Ctrl-C does — SHUTDOWN to every environment, a summary line each, exit 0 — and leaves nothing.
func TestEmulateHangUpShutsDownCleanly(t *testing.T) {
	u := startEmulateWithLayer(t)
	all, err := u.end(t, syscall.SIGHUP)
	if err != nil {
		t.Errorf("azlens emulate after SIGHUP: %v, want exit 0\nstderr: %s", err, u.stderr)
	}
	if !strings.Contains(all, "shutting down") || strings.Count(all, " invocations, ") != 2 {
		t.Errorf("no shutdown and per-environment summary after SIGHUP:\n%s\nstderr: %s", all, u.stderr)
	}
}
