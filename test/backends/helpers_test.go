package backends

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pollEvery is the period of every condition poll; each poll has its own failure deadline.
const pollEvery = 100 * time.Millisecond

// waitFor polls cond until it reports true or limit passes, then fails the test with the last
// state cond described. Nothing here sleeps a fixed time.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: not reached after %s; last state: %s", what, limit, state)
		}
	}
}

// httpClient keeps no idle connection, so nothing of it outlives the test (goleak).
var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get GETs url and returns its status and body (status 0 and the error when it did not answer).
func get(url string) (int, []byte) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b
}

// child is a backend or collector process whose output goes to a file in the test's temporary
// directory. It can be stopped and started again (a backend restart); t.Cleanup stops it and
// prints the log's tail when the test failed.
type child struct {
	t    *testing.T
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startChild(t *testing.T, name, bin string, env []string, args ...string) *child {
	t.Helper()
	c := &child{t: t, name: name, bin: bin, args: args, env: env, log: filepath.Join(t.TempDir(), name+".log")}
	c.start()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("%s output (tail of %s):\n%s", c.name, c.log, tail(c.log, 40))
		}
	})
	return c
}

// start runs the process (again), appending to its log.
func (c *child) start() {
	c.t.Helper()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("start %s: %v", c.name, err)
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done, c.err = cmd, done, nil
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(done)
	}()
}

// exited reports whether the process has ended, and how.
func (c *child) exited() (bool, string) {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, fmt.Sprintf("%s exited: %v", c.name, c.err)
	default:
		return false, ""
	}
}

// stop sends SIGTERM and waits for a clean exit; a process still running after 30 s is killed
// and fails the test, as does a non-zero exit.
func (c *child) stop() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if ok, _ := c.exited(); ok {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	select {
	case <-done:
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			c.t.Errorf("%s: exit after SIGTERM: %v", c.name, err)
		}
	case <-limit.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		c.t.Errorf("%s did not stop within 30s of SIGTERM; killed", c.name)
	}
}

// waitHTTP waits until GET url answers 200, failing early when the process exits.
func (c *child) waitHTTP(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 2*time.Minute, c.name+" ready", func() (bool, string) {
		if done, how := c.exited(); done {
			t.Fatalf("%s\n%s", how, tail(c.log, 40))
		}
		code, body := get(url)
		return code == http.StatusOK, fmt.Sprintf("GET %s → %d %.200s", url, code, body)
	})
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
