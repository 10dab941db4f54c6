// Package childproc starts the processes azlens runs (the collector, every sandbox's runtime and
// extensions) so that none outlives it, however it ends: each child gets its own process group (so
// one signal reaches everything it spawned) and SIGKILL when azlens dies (Linux's parent-death
// signal), and a janitor — a copy of the azlens executable waiting on a pipe — kills what is left of
// those groups and removes the run's scratch folder when azlens is killed outright (SIGKILL, OOM),
// which no deferred cleanup survives.
package childproc

import (
	"os/exec"
	"sync"
	"syscall"
)

// Prepare sets cmd to start in a process group of its own and to be sent SIGKILL when the thread
// that starts it exits. Go never ends a thread of a running program unless a goroutine exits while
// locked to it (runtime.LockOSThread without Unlock): start children from ordinary goroutines, or
// the child dies with the goroutine.
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// Start prepares and starts cmd, and tells the janitor (if one watches this process) about its
// process group. Pair it with KillGroup once the child has been waited for.
func Start(cmd *exec.Cmd) error {
	Prepare(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	groups.add(cmd.Process.Pid)
	return nil
}

// KillGroup sends SIGKILL to the process group led by pid (what the child left behind after it
// exited, or all of it) and takes the group off the janitor's list.
func KillGroup(pid int) {
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	groups.remove(pid)
}

// KillAll sends SIGKILL to every process group started with Start and not yet killed: the last
// resort of a CLI told twice to stop.
func KillAll() {
	for _, pid := range groups.list() {
		KillGroup(pid)
	}
}

// groups is this process's live children's process groups, mirrored to the janitor.
var groups = &registry{live: map[int]bool{}}

type registry struct {
	mu   sync.Mutex
	live map[int]bool
	j    *Janitor
}

func (r *registry) add(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[pid] = true
	if r.j != nil {
		r.j.send("+", pid)
	}
}

func (r *registry) remove(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live[pid] {
		return
	}
	delete(r.live, pid)
	if r.j != nil {
		r.j.send("-", pid)
	}
}

func (r *registry) list() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, 0, len(r.live))
	for pid := range r.live {
		out = append(out, pid)
	}
	return out
}
