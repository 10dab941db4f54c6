// Package proctest finds a process's descendants and waits for processes to end without polling,
// for tests that check nothing outlives what they kill. Linux only (procfs, pidfd).
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is one process as procfs shows it.
type Proc struct {
	PID, PPID int
	Name      string // comm
}

func (p Proc) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }

// Descendants returns every process whose chain of parents leads to pid, at the moment of the call.
func Descendants(pid int) ([]Proc, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	children := map[int][]Proc{}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // ended while we looked
		}
		if p, ok := parseStat(b); ok {
			children[p.PPID] = append(children[p.PPID], p)
		}
	}
	var out []Proc
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.PID)
		}
		queue = queue[1:]
	}
	return out, nil
}

// parseStat reads pid, comm and ppid from /proc/PID/stat ("pid (comm) state ppid ..."); comm may
// hold spaces and parentheses, so it ends at the last ')'.
func parseStat(b []byte) (Proc, bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Proc{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Proc{}, false
	}
	rest := bytes.Fields(b[end+1:])
	if len(rest) < 2 {
		return Proc{}, false
	}
	ppid, err := strconv.Atoi(string(rest[1]))
	if err != nil {
		return Proc{}, false
	}
	return Proc{PID: pid, PPID: ppid, Name: string(b[open+1 : end])}, true
}

// Watcher holds a pidfd per process, opened while the processes run, so a later wait cannot be
// fooled by a reused pid.
type Watcher struct {
	fds   []int
	procs []Proc
}

// Watch opens pidfds for procs; one that has already ended is left out.
func Watch(procs []Proc) *Watcher {
	w := &Watcher{}
	for _, p := range procs {
		fd, err := unix.PidfdOpen(p.PID, 0)
		if err != nil {
			continue
		}
		w.fds = append(w.fds, fd)
		w.procs = append(w.procs, p)
	}
	return w
}

// Len is how many processes are watched.
func (w *Watcher) Len() int { return len(w.procs) }

// Wait returns once every watched process has ended, or at the deadline with those still running.
func (w *Watcher) Wait(limit time.Duration) []Proc {
	deadline := time.Now().Add(limit)
	pending := append([]int(nil), w.fds...)
	procOf := map[int]Proc{}
	for i, fd := range w.fds {
		procOf[fd] = w.procs[i]
	}
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		pfds := make([]unix.PollFd, len(pending))
		for i, fd := range pending {
			pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		// A pidfd turns readable when its process ends.
		if _, err := unix.Poll(pfds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			break
		}
		var still []int
		for i, p := range pfds {
			if p.Revents == 0 {
				still = append(still, pending[i])
			}
		}
		pending = still
	}
	var out []Proc
	for _, fd := range pending {
		out = append(out, procOf[fd])
	}
	return out
}

// Close releases the pidfds.
func (w *Watcher) Close() {
	for _, fd := range w.fds {
		unix.Close(fd)
	}
	w.fds, w.procs = nil, nil
}
