package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/azlens/azlens/internal/childproc"
)

// envNamespace is one execution environment's network and mount namespaces, held by an OS thread
// that lives in them for the environment's lifetime. Sockets are bound to the namespace of the
// thread that creates them and a forked child starts in its parent thread's namespaces, so the
// environment's API listener, its telemetry connections and its processes are all made on that
// thread; once made, sockets are used from anywhere in this process as usual.
//
// The thread also stays the processes' parent thread, which Pdeathsig watches: it ends only after
// every process of the environment has been reaped.
//
// Without CAP_SYS_ADMIN (a non-root user) the namespaces are held instead by a holder process in a
// user namespace of its own (userns_linux.go); holder is then set and the thread is not used.
type envNamespace struct {
	calls chan func()
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	holder *usernsHolder
}

// namespaceMounts are what the environment's mount namespace shows in place of the host's.
type namespaceMounts struct {
	opt   string // bound read-only on /opt; "" leaves the host's /opt
	hosts string // bound on /etc/hosts; "" leaves the host's
}

// newEnvNamespace makes an environment's namespaces the way probeNamespaces found to work here:
// on a thread of this process (root), or in a user-namespace holder process (non-root).
func newEnvNamespace(mounts namespaceMounts) (*envNamespace, error) {
	if nsViaHolder.Load() {
		h, err := startHolder(mounts)
		if err != nil {
			return nil, err
		}
		return &envNamespace{holder: h}, nil
	}
	return newThreadNamespace(mounts)
}

// newThreadNamespace makes new network and mount namespaces on a dedicated thread, brings their
// loopback up and applies mounts. It needs CAP_SYS_ADMIN (root, as in CI).
func newThreadNamespace(mounts namespaceMounts) (*envNamespace, error) {
	n := &envNamespace{calls: make(chan func()), stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the Go runtime ends the thread instead of
		// handing its namespaces to other goroutines.
		runtime.LockOSThread()
		defer close(n.done)
		if err := enterNewNamespaces(mounts); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for {
			select {
			case f := <-n.calls:
				f()
			case <-n.stop:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return n, nil
}

func enterNewNamespaces(m namespaceMounts) error {
	if err := syscall.Unshare(syscall.CLONE_NEWNET | syscall.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare network and mount namespaces: %w", err)
	}
	return setUpNamespaces(m)
}

// setUpNamespaces readies fresh network and mount namespaces the caller is in: private mounts,
// loopback up, the environment's /opt and /etc/hosts.
func setUpNamespaces(m namespaceMounts) error {
	// Mounts made here must not propagate back to the host's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	if m.opt != "" {
		if err := bindMount(m.opt, "/opt", true); err != nil {
			return err
		}
	}
	if m.hosts != "" {
		if err := bindMount(m.hosts, "/etc/hosts", true); err != nil {
			return err
		}
	}
	return nil
}

func bindMount(src, dst string, readOnly bool) error {
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	if readOnly {
		// In a user namespace the flags the bound mount inherited (nosuid, nodev, noexec, atime)
		// are locked: a remount that does not repeat them is refused.
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
		var st syscall.Statfs_t
		if err := syscall.Statfs(dst, &st); err == nil {
			flags |= lockedMountFlags(st.Flags)
		}
		if err := syscall.Mount("", dst, "", flags, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", dst, err)
		}
	}
	return nil
}

// lockedMountFlags turns statfs's ST_* flags into the MS_* flags a remount must keep.
func lockedMountFlags(st int64) uintptr {
	const (
		stNoSuid     = 0x2
		stNoDev      = 0x4
		stNoExec     = 0x8
		stNoAtime    = 0x400
		stNoDirAtime = 0x800
		stRelAtime   = 0x1000
	)
	var f uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{stNoSuid, syscall.MS_NOSUID}, {stNoDev, syscall.MS_NODEV}, {stNoExec, syscall.MS_NOEXEC},
		{stNoAtime, syscall.MS_NOATIME}, {stNoDirAtime, syscall.MS_NODIRATIME}, {stRelAtime, syscall.MS_RELATIME},
	} {
		if st&m.st != 0 {
			f |= m.ms
		}
	}
	return f
}

// loopbackUp sets IFF_UP on "lo": a new network namespace starts with its loopback down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback up: socket: %w", err)
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return fmt.Errorf("loopback up: get flags: %w", errno)
	}
	ifr.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return fmt.Errorf("loopback up: set flags: %w", errno)
	}
	return nil
}

var errNamespaceClosed = errors.New("execution environment namespace is closed")

// do runs f on the namespace's thread and returns when it has.
func (n *envNamespace) do(f func()) error {
	finished := make(chan struct{})
	select {
	case n.calls <- func() { f(); close(finished) }:
	case <-n.done:
		return errNamespaceClosed
	}
	<-finished
	return nil
}

func (n *envNamespace) listen(addr string) (ln net.Listener, err error) {
	if n.holder != nil {
		return n.holder.listen(addr)
	}
	if derr := n.do(func() { ln, err = net.Listen("tcp", addr) }); derr != nil {
		return nil, derr
	}
	return ln, err
}

// dial connects from inside the namespace (a Telemetry API delivery to an extension's listener).
func (n *envNamespace) dial(ctx context.Context, network, addr string) (c net.Conn, err error) {
	if n.holder != nil {
		return n.holder.dial(ctx, network, addr)
	}
	var d net.Dialer
	if derr := n.do(func() { c, err = d.DialContext(ctx, network, addr) }); derr != nil {
		return nil, derr
	}
	return c, err
}

// start starts cmd (own process group, Pdeathsig) inside the environment's namespaces: forked from
// the namespace's thread (childproc.StartHere), or entering the holder's namespaces with nsenter.
func (n *envNamespace) start(cmd *exec.Cmd) (err error) {
	if n.holder != nil {
		if err := n.holder.enter(cmd); err != nil {
			return err
		}
		return childproc.Start(cmd)
	}
	if derr := n.do(func() { err = childproc.StartHere(cmd) }); derr != nil {
		return derr
	}
	return err
}

// close ends the thread (and with it the namespaces, once no process or socket holds them).
// Call it after every process of the environment has exited.
func (n *envNamespace) close() {
	if n.holder != nil {
		n.holder.close()
		return
	}
	n.once.Do(func() { close(n.stop) })
	<-n.done
}

// nsViaHolder says environments' namespaces are held by user-namespace holder processes: set by
// probeNamespaces when this process may not unshare on a thread (tests set it to take that path
// as root too).
var nsViaHolder atomic.Bool

// probeNamespaces reports why environments cannot have namespaces of their own here, or nil:
// root unshares on a thread; anyone else needs unprivileged user namespaces (and nsenter).
func probeNamespaces() error {
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("no network namespaces: %w", err)
	}
	n, threadErr := newThreadNamespace(namespaceMounts{})
	if threadErr == nil {
		n.close()
		return nil
	}
	if err := usernsUnavailable(); err != nil {
		return fmt.Errorf("%w (needs root); and no user namespace either: %w", threadErr, err)
	}
	nsViaHolder.Store(true)
	return nil
}
