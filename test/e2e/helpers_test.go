package e2e

import (
	"context"
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

	"github.com/azlens/azlens/internal/childproc"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// pollEvery is the period of every condition poll; each poll has its own deadline.
const pollEvery = 50 * time.Millisecond

// waitFor polls cond until it reports true or the deadline passes, then fails the test with the
// last state cond described. The test never sleeps a fixed time.
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
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// httpStatus GETs url and returns its status code and body (0 when it did not answer).
func httpStatus(url string) (int, string) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// child is a child process (collector, Prometheus) whose output goes to a file in the test's
// temporary directory; t.Cleanup stops it (SIGTERM, then SIGKILL of its process group) and prints
// the file's tail when the test failed.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid after done is closed
}

func startChild(t *testing.T, name, bin string, args ...string) *child {
	t.Helper()
	c := &child{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = f, f
	// Its own process group, and SIGKILL when the test binary dies: a test that panics on
	// -timeout runs no cleanup, and a Prometheus left behind fails CI's no-daemon check.
	if err := childproc.Start(c.cmd); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		childproc.KillGroup(c.cmd.Process.Pid)
		f.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("%s output (tail of %s):\n%s", c.name, c.log, tail(c.log, 40))
		}
	})
	return c
}

// exited reports whether the process has ended, and how.
func (c *child) exited() (bool, string) {
	select {
	case <-c.done:
		return true, fmt.Sprintf("%s exited: %v", c.name, c.err)
	default:
		return false, ""
	}
}

// stop asks the process to stop (SIGTERM) and kills its process group if it has not within 10 s.
// A process that does not stop cleanly on SIGTERM fails the test.
func (c *child) stop(t *testing.T) {
	if ok, _ := c.exited(); ok {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", c.name, c.err)
		}
	case <-limit.C:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		t.Errorf("%s did not stop within 10s of SIGTERM; killed", c.name)
	}
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

// promSample is one element of an instant vector from Prometheus's HTTP API.
type promSample struct {
	Metric map[string]string
	Value  float64
}

// promQuery runs an instant query against the real Prometheus server, through client_golang's
// API client, as a dashboard or alerting tool would.
func promQuery(base, query string) ([]promSample, error) {
	c, err := promapi.NewClient(promapi.Config{Address: base, Client: httpClient})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpClient.Timeout)
	defer cancel()
	v, _, _, err := promv1.NewAPI(c).Query(ctx, query, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("query %q: type %s, want vector", query, v.Type())
	}
	out := make([]promSample, 0, len(vec))
	for _, s := range vec {
		m := make(map[string]string, len(s.Metric))
		for k, v := range s.Metric {
			m[string(k)] = string(v)
		}
		out = append(out, promSample{Metric: m, Value: float64(s.Value)})
	}
	return out, nil
}

// lockedFile serialises the writes of the many output copiers of the emulator.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (w *lockedFile) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Write(p)
}
