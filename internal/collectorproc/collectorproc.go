// Package collectorproc runs an azlens-collector as a child process: its configuration written
// to a file, its output copied where the caller says, its exit watched, and stopped with SIGTERM
// (the collector drains its pipelines) or SIGKILL to its whole process group. `azlens up`
// (internal/loop) and the end-to-end tests (internal/e2etest) start theirs with it; each waits for
// readiness its own way (the loop polls the Prometheus exporter, the tests read the log).
package collectorproc

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/azlens/azlens/internal/childproc"
)

// Options say what to run.
type Options struct {
	// Bin is the azlens-collector executable.
	Bin string
	// Config is the configuration (YAML), written to Dir/collector.yaml.
	Config string
	// Dir holds the configuration file; it must exist.
	Dir string
	// Env is the process environment; nil means this process's.
	Env []string
	// Output receives stdout and stderr (one pipe for both, so one writer goroutine); nil
	// discards them.
	Output io.Writer
}

// Process is a running (or ended) collector.
type Process struct {
	cmd        *exec.Cmd
	configPath string
	done       chan struct{}
	err        error // valid once done is closed
}

// Start writes the configuration and starts the collector in a process group of its own
// (internal/childproc: none outlives azlens, however it ends).
func Start(o Options) (*Process, error) {
	path := filepath.Join(o.Dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(o.Config), 0o600); err != nil {
		return nil, fmt.Errorf("write collector config: %w", err)
	}
	cmd := exec.Command(o.Bin, "--config", path)
	cmd.Env = o.Env
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := childproc.Start(cmd); err != nil {
		return nil, fmt.Errorf("start collector: %w", err)
	}
	p := &Process{cmd: cmd, configPath: path, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		// Whatever the collector left in its group goes with it.
		childproc.KillGroup(cmd.Process.Pid)
		close(p.done)
	}()
	return p, nil
}

// ConfigPath is the configuration file the collector runs with.
func (p *Process) ConfigPath() string { return p.configPath }

// PID is the collector's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done closes when the process has exited and its output has been copied.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process ended (nil: exit status 0); valid once Done is closed.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits for the exit; when ctx ends first, the process group gets
// SIGKILL. It returns how the process ended.
func (p *Process) Stop(ctx context.Context) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Kill()
	}
	return p.err
}

// Kill ends the collector at once, as a crash or an OOM kill does (SIGKILL to its process group,
// no draining), and returns when it has exited.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
