// Package childproc starts the processes azlens runs (the collector, every sandbox's runtime and
// extensions) so that none outlives it, however it ends: each child gets its own process group (so
// one signal reaches everything it spawned) and SIGKILL when azlens dies (Linux's parent-death
// signal), and a janitor — a copy of the azlens executable waiting on a pipe — kills what is left of
// those groups and removes the run's scratch folder when azlens is killed outright (SIGKILL, OOM),
// which no deferred cleanup survives.
package childproc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Prepare sets cmd to start in a process group of its own and to be sent SIGKILL when the thread
// that starts it exits (Linux's parent-death signal watches the forking thread, not the process).
// Go ends a thread while the program runs when a goroutine exits locked to it
// (runtime.LockOSThread without Unlock), as the emulator's namespace threads do, and any goroutine
// may lock the thread an earlier child was forked from. So a child prepared here and started with
// cmd.Start may die long before this process does; Start avoids that.
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// Start prepares cmd and starts it from the spawner, a thread kept for Start's children while any
// of them runs, so that their parent-death signal comes only when this process dies; and it tells
// the janitor (if one watches this process) about the child's process group. Pair it with
// KillGroup once the child has been waited for.
func Start(cmd *exec.Cmd) error {
	calls := spawner.hold()
	var err error
	done := make(chan struct{})
	calls <- func() { defer close(done); err = StartHere(cmd) }
	<-done
	if err != nil {
		spawner.release()
		return err
	}
	spawner.mu.Lock()
	spawner.children[cmd.Process.Pid] = true
	spawner.mu.Unlock()
	return nil
}

// StartHere is Start from the calling thread, for a child that must inherit that thread's
// namespaces. The caller keeps the thread locked and alive for as long as the child runs.
func StartHere(cmd *exec.Cmd) error {
	Prepare(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	groups.add(cmd.Process.Pid)
	return nil
}

// spawner forks Start's children from a goroutine locked to its thread: no other goroutine runs
// there, so nothing can end the thread while a child it forked runs. Once the last of them has
// been killed or reaped (KillGroup), the goroutine returns still locked and Go ends the thread
// rather than reuse it; the next Start gets a new one.
var spawner = &spawnThread{children: map[int]bool{}}

type spawnThread struct {
	mu       sync.Mutex
	calls    chan func() // nil while no spawner runs
	live     int         // Start calls under way and children not yet given to KillGroup
	children map[int]bool
}

// hold counts one more user of the spawner, starting it if need be, and returns its calls.
func (s *spawnThread) hold() chan<- func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		calls := make(chan func())
		s.calls = calls
		go func() {
			runtime.LockOSThread() // never unlocked: see spawnThread
			for f := range calls {
				f()
			}
		}()
	}
	s.live++
	return s.calls
}

func (s *spawnThread) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live--; s.live == 0 {
		close(s.calls)
		s.calls = nil
	}
}

// releaseChild releases the hold of a child started by Start (not StartHere).
func (s *spawnThread) releaseChild(pid int) {
	s.mu.Lock()
	mine := s.children[pid]
	delete(s.children, pid)
	s.mu.Unlock()
	if mine {
		s.release()
	}
}

// KillGroup sends SIGKILL to the process group led by pid (what the child left behind after it
// exited, or all of it) and takes the group off the janitor's list.
func KillGroup(pid int) {
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	groups.remove(pid)
	spawner.releaseChild(pid)
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
