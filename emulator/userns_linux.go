package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/azlens/azlens/internal/childproc"
)

// Isolation for a user without CAP_SYS_ADMIN. A process may unshare a user namespace only while it
// has a single thread, which a Go program never has; a forked child may, before it executes
// anything. So each environment gets a holder: this program re-executed (/proc/self/exe) in new
// user, network and mount namespaces, where it is root (uid 0 mapped to the caller's uid) and may
// set them up as the thread path does. It then makes sockets there on request — listeners and
// connections, passed back over a socketpair with SCM_RIGHTS; a socket stays in the namespace it
// was made in, so the rest of the emulator uses it as if made here. Processes join the holder's
// namespaces through nsenter, which is single-threaded and may enter a user namespace its uid owns.

const (
	holderEnv      = "AZLENS_USERNS_HOLDER"
	holderOptEnv   = "AZLENS_USERNS_OPT"
	holderHostsEnv = "AZLENS_USERNS_HOSTS"
)

// usernsSysctls names what a host must allow for unprivileged user namespaces.
const usernsSysctls = "unprivileged user namespaces need sysctl user.max_user_namespaces > 0, " +
	"kernel.unprivileged_userns_clone = 1 where it exists (Debian), and " +
	"kernel.apparmor_restrict_unprivileged_userns = 0 where it exists (Ubuntu)"

// holderHooked records that the program's main called MaybeRunHolder: only then does a re-executed
// copy of it become a holder rather than run the program again.
var holderHooked atomic.Bool

// MaybeRunHolder must be the first call in main (and in TestMain) of any program that runs
// isolated environments as a non-root user: in a process started as an environment's namespace
// holder it serves that environment and exits; otherwise it returns at once.
func MaybeRunHolder() {
	if os.Getenv(holderEnv) != "1" {
		holderHooked.Store(true)
		return
	}
	os.Exit(runHolder())
}

var (
	usernsOnce  sync.Once
	usernsErr   error
	nsenterPath string
)

// usernsUnavailable says, once per process, why holders cannot be used here (nil: they can).
func usernsUnavailable() error {
	usernsOnce.Do(func() { usernsErr = probeUserns() })
	return usernsErr
}

func probeUserns() error {
	if !holderHooked.Load() {
		return errors.New("user namespaces need the program's main to call emulator.MaybeRunHolder first")
	}
	p, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("nsenter (util-linux) runs processes in a user namespace: %w", err)
	}
	if nsenterPath, err = filepath.Abs(p); err != nil {
		return fmt.Errorf("nsenter: %w", err)
	}
	h, err := startHolder(namespaceMounts{})
	if err != nil {
		return err
	}
	defer h.close()
	// Joining is what every process of an environment will do: try it once.
	probe := exec.Command(nsenterPath, "--version")
	if err := h.enter(probe); err != nil {
		return err
	}
	childproc.Prepare(probe)
	if out, err := probe.CombinedOutput(); err != nil {
		return fmt.Errorf("enter a user namespace with nsenter: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// usernsHolder is the parent's side of one environment's holder process.
type usernsHolder struct {
	cmd  *exec.Cmd
	pid  string
	conn *net.UnixConn

	mu       sync.Mutex
	next     uint64
	waiting  map[uint64]chan holderReply
	readErr  error
	readDone chan struct{}
	once     sync.Once
}

type holderReply struct {
	f   *os.File
	err error
}

var errHolderGone = errors.New("execution environment's namespace holder has exited")

// startHolder starts a holder in new user, network and mount namespaces and waits until it has
// set them up (loopback up, mounts).
func startHolder(m namespaceMounts) (*usernsHolder, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("namespace holder: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "holder"), os.NewFile(uintptr(fds[1]), "holder")
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"azlens-userns-holder"},
		Env:        []string{holderEnv + "=1", holderOptEnv + "=" + m.opt, holderHostsEnv + "=" + m.hosts},
		ExtraFiles: []*os.File{theirs},
		Stderr:     os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		},
	}
	err = childproc.Start(cmd)
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("start a process in a new user namespace: %w (%s)", err, usernsSysctls)
	}
	c, err := net.FileConn(ours)
	ours.Close()
	h := &usernsHolder{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), waiting: map[uint64]chan holderReply{}, readDone: make(chan struct{})}
	if err != nil {
		close(h.readDone)
		h.stop()
		return nil, fmt.Errorf("namespace holder: %w", err)
	}
	h.conn = c.(*net.UnixConn)
	// The first message says whether the namespaces are ready.
	buf := make([]byte, 4096)
	_ = h.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _, _, _, err := h.conn.ReadMsgUnix(buf, nil)
	_ = h.conn.SetReadDeadline(time.Time{})
	if err == nil && n == 0 {
		err = errHolderGone
	}
	if err == nil {
		if msg := string(buf[:n]); msg != "0 ok" {
			err = errors.New(strings.TrimPrefix(msg, "0 err "))
		}
	}
	if err != nil {
		close(h.readDone)
		h.stop()
		return nil, fmt.Errorf("namespace holder: %w", err)
	}
	go h.read()
	return h, nil
}

// read hands each reply to the request waiting for it.
func (h *usernsHolder) read() {
	defer close(h.readDone)
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := h.conn.ReadMsgUnix(buf, oob)
		if err == nil && n == 0 {
			err = errHolderGone
		}
		if err != nil {
			h.mu.Lock()
			h.readErr = errHolderGone
			for id, ch := range h.waiting {
				ch <- holderReply{err: errHolderGone}
				delete(h.waiting, id)
			}
			h.mu.Unlock()
			return
		}
		f := receivedFile(oob[:oobn])
		idText, rest, _ := strings.Cut(string(buf[:n]), " ")
		id, _ := strconv.ParseUint(idText, 10, 64)
		r := holderReply{f: f}
		if status, msg, _ := strings.Cut(rest, " "); status != "ok" {
			r.err = errors.New(msg)
		}
		if r.err != nil && f != nil {
			f.Close()
			r.f = nil
		}
		h.mu.Lock()
		if ch, ok := h.waiting[id]; ok {
			delete(h.waiting, id)
			ch <- r
		} else if r.f != nil {
			r.f.Close() // its requester gave up
		}
		h.mu.Unlock()
	}
}

// receivedFile is the first descriptor an SCM_RIGHTS message carried (any others are closed).
func receivedFile(oob []byte) *os.File {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var f *os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if f == nil {
				f = os.NewFile(uintptr(fd), "holder-socket")
			} else {
				syscall.Close(fd)
			}
		}
	}
	return f
}

// request sends one request and waits for its descriptor.
func (h *usernsHolder) request(ctx context.Context, msg string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan holderReply, 1)
	h.mu.Lock()
	if h.readErr != nil {
		h.mu.Unlock()
		return nil, h.readErr
	}
	h.next++
	id := h.next
	h.waiting[id] = ch
	h.mu.Unlock()
	if _, _, err := h.conn.WriteMsgUnix([]byte(strconv.FormatUint(id, 10)+" "+msg), nil, nil); err != nil {
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
		return nil, fmt.Errorf("namespace holder: %w", err)
	}
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		h.mu.Lock()
		_, pending := h.waiting[id]
		delete(h.waiting, id)
		h.mu.Unlock()
		if !pending { // the reply is in ch already
			if r := <-ch; r.f != nil {
				r.f.Close()
			}
		}
		return nil, ctx.Err()
	}
}

func (h *usernsHolder) listen(addr string) (net.Listener, error) {
	f, err := h.request(context.Background(), "listen "+addr)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// dial connects from inside the holder's network namespace; the holder gives up when ctx's
// deadline passes (30 s without one).
func (h *usernsHolder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	limit := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		limit = max(time.Until(d), time.Millisecond)
	}
	f, err := h.request(ctx, fmt.Sprintf("dial %d %s %s", limit.Milliseconds(), network, addr))
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	defer f.Close()
	return net.FileConn(f)
}

// enter rewrites cmd to run inside the holder's namespaces: nsenter joins them and executes the
// command (same pid, so waiting, signals and /proc figures are the command's). The working
// directory is named as the holder sees it, where /opt is the environment's.
func (h *usernsHolder) enter(cmd *exec.Cmd) error {
	args := []string{nsenterPath, "--target", h.pid, "--user", "--net", "--mount", "--preserve-credentials"}
	if cmd.Dir != "" {
		dir, err := filepath.Abs(cmd.Dir)
		if err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
		args = append(args, "--wd=/proc/"+h.pid+"/root"+dir)
		cmd.Dir = ""
	}
	args = append(append(args, "--", cmd.Path), cmd.Args[1:]...)
	cmd.Path, cmd.Args = nsenterPath, args
	return nil
}

// close ends the holder: end of file on its socket tells it to exit. The namespaces end once no
// process or socket holds them.
func (h *usernsHolder) close() {
	h.once.Do(func() {
		h.conn.Close()
		<-h.readDone
		h.stop()
	})
}

func (h *usernsHolder) stop() {
	exited := make(chan struct{})
	go func() {
		_ = h.cmd.Wait()
		close(exited)
	}()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = h.cmd.Process.Kill()
		<-exited
	}
	childproc.KillGroup(h.cmd.Process.Pid)
}

// runHolder is the holder process: it sets up the namespaces it was started in, says so, and
// makes sockets on request until the parent closes the socketpair (or dies).
func runHolder() int {
	f := os.NewFile(3, "holder")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "azlens namespace holder:", err)
		return 1
	}
	conn := c.(*net.UnixConn)
	if err := setUpNamespaces(namespaceMounts{opt: os.Getenv(holderOptEnv), hosts: os.Getenv(holderHostsEnv)}); err != nil {
		_, _, _ = conn.WriteMsgUnix([]byte("0 err "+err.Error()), nil, nil)
		return 1
	}
	if _, _, err := conn.WriteMsgUnix([]byte("0 ok"), nil, nil); err != nil {
		return 1
	}
	buf := make([]byte, 4096)
	for {
		n, _, _, _, err := conn.ReadMsgUnix(buf, nil)
		if err != nil || n == 0 {
			return 0
		}
		go serveHolderRequest(conn, string(buf[:n]))
	}
}

// serveHolderRequest answers "ID listen ADDR" or "ID dial MILLISECONDS NETWORK ADDR" with
// "ID ok" and the socket, or "ID err MESSAGE".
func serveHolderRequest(conn *net.UnixConn, req string) {
	f := strings.Fields(req)
	reply := func(s *os.File, err error) {
		if err != nil {
			_, _, _ = conn.WriteMsgUnix([]byte(f[0]+" err "+err.Error()), nil, nil)
			return
		}
		defer s.Close()
		_, _, _ = conn.WriteMsgUnix([]byte(f[0]+" ok"), syscall.UnixRights(int(s.Fd())), nil)
	}
	switch {
	case len(f) == 3 && f[1] == "listen":
		ln, err := net.Listen("tcp", f[2])
		if err != nil {
			reply(nil, err)
			return
		}
		s, err := ln.(*net.TCPListener).File()
		ln.Close()
		reply(s, err)
	case len(f) == 5 && f[1] == "dial":
		ms, err := strconv.Atoi(f[2])
		if err != nil || !strings.HasPrefix(f[3], "tcp") {
			reply(nil, fmt.Errorf("bad request %q", req))
			return
		}
		d := net.Dialer{Timeout: time.Duration(ms) * time.Millisecond}
		c, err := d.Dial(f[3], f[4])
		if err != nil {
			reply(nil, err)
			return
		}
		s, err := c.(*net.TCPConn).File()
		c.Close()
		reply(s, err)
	case len(f) > 0:
		reply(nil, fmt.Errorf("bad request %q", req))
	}
}
