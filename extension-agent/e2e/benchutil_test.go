package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/procstat"
)

// Binaries that only the B7/B8 benchmarks and tests need, built on first use into the directory
// TestMain removes.
var (
	extraOnce    sync.Once
	extraErr     error
	nullsubPath  string // testdata/nullsub: an extension subscribed with a null listener (B8 reference)
	oddlinesPath string // testdata/oddlines: a function printing arbitrary bytes
)

func buildExtra(tb testing.TB) {
	tb.Helper()
	extraOnce.Do(func() {
		dir := filepath.Dir(filepath.Dir(agentPath))
		nullsubPath = filepath.Join(dir, "nullsub", "extensions", "nullsub")
		if extraErr = goBuild(nullsubPath, "./testdata/nullsub"); extraErr != nil {
			return
		}
		oddlinesPath = filepath.Join(dir, "oddlines", "bootstrap")
		extraErr = goBuild(oddlinesPath, "./testdata/oddlines")
	})
	if extraErr != nil {
		tb.Fatal(extraErr)
	}
}

// pidOf is the pid of the running process whose executable is path and whose environment holds
// marker (e.g. "AZLENS_SPOOL_DIR=/tmp/…", unique per sandbox), or 0.
func pidOf(path, marker string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if exe, err := os.Readlink(filepath.Join(p, "exe")); err != nil || exe != path {
			continue
		}
		env, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == marker {
				pid, _ := strconv.Atoi(filepath.Base(p))
				return pid
			}
		}
	}
	return 0
}

// vmRSSKB is VmRSS of pid in KiB, or 0.
func vmRSSKB(pid int) int {
	kb, _ := procstat.StatusKB(pid, "VmRSS")
	return int(kb)
}

// dirBytes is the size of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// slope is the least-squares slope of y over x, and its standard error.
func slope(x, y []float64) (b, se float64) {
	n := float64(len(x))
	if len(x) < 3 {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0
	}
	b = (n*sxy - sx*sy) / d
	a := (sy - b*sx) / n
	var rss float64
	for i := range x {
		r := y[i] - a - b*x[i]
		rss += r * r
	}
	return b, math.Sqrt(rss / (n - 2) / (sxx - sx*sx/n))
}

// invokeOnce invokes sb and waits until the invocation is complete; it returns the response
// latency (invoke → answer) and the post-runtime time (answer → Done).
func invokeOnce(sb *emulator.Sandbox, payload []byte) (resp, post time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := sb.Invoke(ctx, &emulator.InvokeRequest{Payload: payload})
	if err != nil {
		return 0, 0, err
	}
	answered := time.Now()
	select {
	case <-res.Done:
	case <-ctx.Done():
		return 0, 0, errors.New("invocation " + res.RequestID + " never completed")
	}
	if res.Status != "success" {
		return 0, 0, errors.New("invocation " + res.RequestID + ": " + res.Status + " " + res.ErrorType)
	}
	return answered.Sub(start), time.Since(answered), nil
}

// countingCollector is a collector for long runs: unlike collectortest.Sink it keeps nothing, it
// only counts requests and the platform.logsDropped events in them (decompressing gzip bodies).
type countingCollector struct {
	srv                   *httptest.Server
	requests, logsDropped atomic.Int64
}

func newCountingCollector(tb testing.TB) *countingCollector {
	c := &countingCollector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.requests.Add(1)
		c.logsDropped.Add(int64(bytes.Count(data, []byte(`"type":"platform.logsDropped"`))))
		_, _ = io.WriteString(w, `{}`)
	}))
	tb.Cleanup(c.srv.Close)
	return c
}

func (c *countingCollector) URL() string { return c.srv.URL }

// agentBeside starts two sandboxes made by newSandbox — one running the agent, sending to sinkURL,
// and one running the no-op extension as the reference — stops them when the benchmark ends, and
// finds both processes: the agent by its (unique) AZLENS_SPOOL_DIR, the no-op by a BENCH_TAG.
func agentBeside(b *testing.B, newSandbox func(*testing.B, string, map[string]string) *emulator.Sandbox, sinkURL, label string) (agent, noop *emulator.Sandbox, agentPID, noopPID int) {
	b.Helper()
	env := agentEnv(b, sinkURL)
	agent = newSandbox(b, agentPath, env)
	tag := fmt.Sprintf("%s-noop-%d", label, time.Now().UnixNano())
	noop = newSandbox(b, noopPath, map[string]string{"BENCH_TAG": tag})
	for _, sb := range []*emulator.Sandbox{agent, noop} {
		if err := sb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sb.Shutdown(context.Background(), emulator.ShutdownSpindown) })
	}
	agentPID = pidOf(agentPath, "AZLENS_SPOOL_DIR="+env["AZLENS_SPOOL_DIR"])
	noopPID = pidOf(noopPath, "BENCH_TAG="+tag)
	if agentPID == 0 || noopPID == 0 {
		b.Fatalf("processes not found: agent %d noop %d", agentPID, noopPID)
	}
	return agent, noop, agentPID, noopPID
}
