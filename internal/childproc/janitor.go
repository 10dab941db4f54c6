package childproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// janitorEnv marks the process started as a janitor; RunIfJanitor looks for it.
const janitorEnv = "AZLENS_JANITOR"

// Janitor is the process that cleans up after this one if it dies without cleaning up itself. It
// reads, on a pipe only this process holds open, the process groups to kill and the folders to
// remove; end of file on the pipe means this process has exited, cleanly or not.
type Janitor struct {
	mu     sync.Mutex
	w      *os.File
	cmd    *exec.Cmd
	closed bool
}

// Watch starts a janitor that, once this process has exited, kills every process group started with
// Start and not yet killed, and removes dirs. The janitor is this same executable, whose main must
// call RunIfJanitor first.
func Watch(dirs ...string) (*Janitor, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("janitor: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("janitor: %w", err)
	}
	cmd := &exec.Cmd{
		Path:  self,
		Args:  []string{"azlens-janitor"},
		Env:   []string{janitorEnv + "=1"},
		Stdin: r,
		// Its own process group: a Ctrl-C or hang-up for the terminal's foreground job is for azlens,
		// which then cleans up itself; the janitor waits for it either way.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("janitor: %w", err)
	}
	j := &Janitor{w: w, cmd: cmd}
	for _, d := range dirs {
		j.send("dir", d)
	}
	groups.mu.Lock()
	groups.j = j
	for pid := range groups.live {
		j.send("+", pid)
	}
	groups.mu.Unlock()
	return j, nil
}

func (j *Janitor) send(op string, arg any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return
	}
	// A janitor that died cannot be told anything; azlens carries on (Pdeathsig still applies).
	_, _ = fmt.Fprintf(j.w, "%s %v\n", op, arg)
}

// Close is for a clean exit, after this process has stopped its children and removed its folders:
// the janitor finds nothing left to do and exits, and Close waits for it.
func (j *Janitor) Close() error {
	groups.mu.Lock()
	if groups.j == j {
		groups.j = nil
	}
	groups.mu.Unlock()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.w.Close()
	j.mu.Unlock()
	return j.cmd.Wait()
}

// RunIfJanitor runs the janitor and exits if this process was started as one by Watch; otherwise
// it returns at once. Call it first thing in main.
func RunIfJanitor() {
	if os.Getenv(janitorEnv) != "1" {
		return
	}
	// Whatever reaches the terminal's job or a broken output, the janitor's work is still to come.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTSTP)
	clean(os.Stdin)
	os.Exit(0)
}

// clean reads the watched process's instructions until end of file, then does what is left.
func clean(in io.Reader) {
	live := map[int]bool{}
	var dirs []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		op, arg, _ := strings.Cut(sc.Text(), " ")
		switch op {
		case "+", "-":
			pid, err := strconv.Atoi(arg)
			if err != nil || pid <= 0 {
				continue
			}
			live[pid] = op == "+"
		case "dir":
			if arg != "" {
				dirs = append(dirs, arg)
			}
		}
	}
	for pid, alive := range live {
		if alive {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	for _, d := range dirs {
		// A process killed just now may still be closing files in it: one retry.
		if os.RemoveAll(d) != nil {
			_ = os.RemoveAll(d)
		}
	}
}
