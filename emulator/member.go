package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/azlens/azlens/internal/childproc"
)

// member is one thing that runs inside an execution environment: the runtime or an extension,
// either a real process (in its own process group, so signals reach its whole tree) or a goroutine.
type member struct {
	kind string // "runtime" or "extension"
	name string // extension name; "" for the runtime

	cmd    *exec.Cmd   // process mode
	out    *outputPipe // process mode
	cancel context.CancelFunc

	exited  chan struct{} // closed once the member has stopped and its output is drained
	mu      sync.Mutex
	waitErr error
	signal  syscall.Signal // the signal that ended the process, if any
}

func (m *member) isProcess() bool { return m.cmd != nil }

func (m *member) pid() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// signalGroup sends sig to the member's process group; in-process members ignore it.
func (m *member) signalGroup(sig syscall.Signal) {
	// An exited member's pid may be reused: never signal it.
	if pid := m.pid(); pid > 0 && !m.hasExited() {
		_ = syscall.Kill(-pid, sig)
	}
}

// kill ends the member at once: SIGKILL to its process group (which also ends stopped processes),
// cancellation for a goroutine.
func (m *member) kill() {
	if m.isProcess() {
		m.signalGroup(syscall.SIGKILL)
		return
	}
	m.cancel()
}

// terminate asks the member to stop: SIGTERM for a process, cancellation for a goroutine.
func (m *member) terminate() {
	if m.isProcess() {
		m.signalGroup(syscall.SIGTERM)
		return
	}
	m.cancel()
}

func (m *member) hasExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// exitDescription says how the member ended, for logs and error messages.
func (m *member) exitDescription() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.signal != 0 {
		return "signal: " + m.signal.String()
	}
	if m.waitErr != nil {
		return m.waitErr.Error()
	}
	return "exit status 0"
}

// startProcess launches path in a new process group with exactly env, its stdout and stderr
// captured line by line into out, which is closed when the process has ended.
// With ns set, the process is forked inside the environment's namespaces.
func startProcess(ns *envNamespace, kind, name, path string, args, env []string, out *lineWriter) (*member, error) {
	pipe, err := newOutputPipe(out)
	if err != nil {
		return nil, fmt.Errorf("start %s %s: %w", kind, path, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(path)
	cmd.Stdout = pipe.w
	cmd.Stderr = pipe.w
	m := &member{kind: kind, name: name, cmd: cmd, out: pipe, exited: make(chan struct{})}
	// Own process group, killed with azlens, and known to its janitor; forked from the
	// environment's namespace thread when it has one, so it starts inside those namespaces.
	start := func() error { return childproc.Start(cmd) }
	if ns != nil {
		start = func() error { return ns.start(cmd) }
	}
	if err := start(); err != nil {
		pipe.abandon()
		return nil, fmt.Errorf("start %s %s: %w", kind, path, err)
	}
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		m.waitErr = err
		if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			m.signal = st.Signal()
		}
		m.mu.Unlock()
		// Reap whatever the process left in its group so nothing outlives the environment.
		childproc.KillGroup(cmd.Process.Pid)
		pipe.finish()
		close(m.exited)
	}()
	return m, nil
}

// outputPipe carries a process's output to a lineWriter. sync waits until everything the process
// wrote before the call has been handed on, by sending a marker line down the same pipe: log lines
// then reach telemetry before platform.runtimeDone, stamped with the right request id.
type outputPipe struct {
	r, w   *os.File
	lw     *lineWriter
	marker []byte

	writeMu sync.Mutex // orders marker writes with waiters
	closed  bool
	qMu     sync.Mutex
	waiters []chan struct{}
	done    chan struct{} // the copier has stopped
}

func newOutputPipe(lw *lineWriter) (*outputPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p := &outputPipe{r: r, w: w, lw: lw, marker: []byte("\x00azlens-sync-" + randomHex(8) + "\x00\n"), done: make(chan struct{})}
	lw.marker, lw.onMarker = p.marker, p.markerSeen
	go func() {
		defer close(p.done)
		_, _ = io.Copy(lw, r)
	}()
	return p, nil
}

func (p *outputPipe) markerSeen() {
	p.qMu.Lock()
	defer p.qMu.Unlock()
	if len(p.waiters) > 0 {
		close(p.waiters[0])
		p.waiters = p.waiters[1:]
	}
}

// sync returns once the output written so far is handed on, or after limit.
func (p *outputPipe) sync(limit time.Duration) {
	ch := make(chan struct{})
	p.writeMu.Lock()
	if p.closed {
		p.writeMu.Unlock()
		return
	}
	p.qMu.Lock()
	p.waiters = append(p.waiters, ch)
	p.qMu.Unlock()
	_, err := p.w.Write(p.marker)
	p.writeMu.Unlock()
	if err != nil {
		return
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
	case <-p.done:
	case <-t.C:
	}
}

// finish is called once the process has exited: the copier drains what is left (a grandchild that
// escaped the process group may hold the pipe; it gets a second, then the pipe is closed under it).
func (p *outputPipe) finish() {
	p.writeMu.Lock()
	p.closed = true
	_ = p.w.Close()
	p.writeMu.Unlock()
	t := time.NewTimer(time.Second)
	select {
	case <-p.done:
	case <-t.C:
		_ = p.r.Close()
		<-p.done
	}
	t.Stop()
	_ = p.r.Close()
	_ = p.lw.Close()
}

// abandon releases a pipe whose process never started.
func (p *outputPipe) abandon() {
	p.finish()
}

// startGoroutine runs fn as an in-process member; cancelling ctx is its SIGKILL.
func startGoroutine(parent context.Context, kind, name string, fn func(ctx context.Context) error) *member {
	ctx, cancel := context.WithCancel(parent)
	m := &member{kind: kind, name: name, cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(m.exited)
		defer cancel()
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return fn(ctx)
		}()
		if err != nil && !errors.Is(err, context.Canceled) {
			m.mu.Lock()
			m.waitErr = err
			m.mu.Unlock()
		}
	}()
	return m
}

// peakRSSKB is the process's peak resident set size (VmHWM) in KiB, 0 when unknown.
func peakRSSKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	line := b[i+len("VmHWM:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
var heapMu sync.Mutex

// inProcessMemoryMB approximates an in-process sandbox's memory by the Go runtime's total mapped
// memory: the handler shares the host process, so nothing finer exists.
func inProcessMemoryMB() int {
	heapMu.Lock()
	metrics.Read(heapSample)
	v := heapSample[0].Value
	heapMu.Unlock()
	if v.Kind() != metrics.KindUint64 {
		return 1
	}
	return int((v.Uint64() + (1<<20 - 1)) >> 20)
}

// lineWriter splits output into lines and hands each to the telemetry hub and, prefixed, to a
// terminal copy. Partial last lines are flushed on Close.
type lineWriter struct {
	mu     sync.Mutex
	dst    io.WriteCloser
	copyTo io.Writer
	prefix string
	buf    []byte
	// marker ends a line that is not output but a sync point (see outputPipe); onMarker is told.
	marker   []byte
	onMarker func()
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i+1]
		w.buf = w.buf[i+1:]
		if w.marker != nil && bytes.HasSuffix(line, w.marker) {
			// Output the process left unterminated before the sync point becomes its own line.
			if rest := line[:len(line)-len(w.marker)]; len(rest) > 0 {
				w.emit(append(rest[:len(rest):len(rest)], '\n'))
			}
			w.onMarker()
			continue
		}
		w.emit(line)
	}
	if len(w.buf) > maxLogLine {
		w.emit(append(w.buf, '\n'))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// maxLogLine bounds a line kept in memory while waiting for its newline.
const maxLogLine = 256 << 10

func (w *lineWriter) emit(line []byte) {
	_, _ = w.dst.Write(line)
	if w.copyTo != nil {
		out := make([]byte, 0, len(w.prefix)+len(line))
		out = append(append(out, w.prefix...), line...)
		_, _ = w.copyTo.Write(out)
	}
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
	return w.dst.Close()
}

// waitStopped polls until the process reports the stopped state, at most for limit.
func (m *member) waitStopped(limit time.Duration) {
	pid := m.pid()
	if pid == 0 {
		return
	}
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	end := time.Now().Add(limit)
	for pause := 20 * time.Microsecond; time.Now().Before(end); pause *= 2 {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't' || b[i+2] == 'Z') {
			return
		}
		time.Sleep(min(pause, time.Millisecond))
	}
}
