package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// envNamespace is one execution environment's network and mount namespaces, held by an OS thread
// that lives in them for the environment's lifetime. Sockets are bound to the namespace of the
// thread that creates them and a forked child starts in its parent thread's namespaces, so the
// environment's API listener, its telemetry connections and its processes are all made on that
// thread; once made, sockets are used from anywhere in this process as usual.
//
// The thread also stays the processes' parent thread, which Pdeathsig watches: it ends only after
// every process of the environment has been reaped.
type envNamespace struct {
	calls chan func()
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// namespaceMounts are what the environment's mount namespace shows in place of the host's.
type namespaceMounts struct {
	opt   string // bound read-only on /opt; "" leaves the host's /opt
	hosts string // bound on /etc/hosts; "" leaves the host's
}

// newEnvNamespace makes new network and mount namespaces on a dedicated thread, brings their
// loopback up and applies mounts. It needs CAP_SYS_ADMIN (root, as in CI).
func newEnvNamespace(mounts namespaceMounts) (*envNamespace, error) {
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
		if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", dst, err)
		}
	}
	return nil
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
	if derr := n.do(func() { ln, err = net.Listen("tcp", addr) }); derr != nil {
		return nil, derr
	}
	return ln, err
}

// dial connects from inside the namespace (a Telemetry API delivery to an extension's listener).
func (n *envNamespace) dial(ctx context.Context, network, addr string) (c net.Conn, err error) {
	var d net.Dialer
	if derr := n.do(func() { c, err = d.DialContext(ctx, network, addr) }); derr != nil {
		return nil, derr
	}
	return c, err
}

// start runs fork, a function that starts a process (exec.Cmd.Start or a wrapper), on the
// namespace's thread, so the process runs in the environment's namespaces.
func (n *envNamespace) start(fork func() error) (err error) {
	if derr := n.do(func() { err = fork() }); derr != nil {
		return derr
	}
	return err
}

// close ends the thread (and with it the namespaces, once no process or socket holds them).
// Call it after every process of the environment has exited.
func (n *envNamespace) close() {
	n.once.Do(func() { close(n.stop) })
	<-n.done
}

// probeNamespaces reports why environments cannot have namespaces of their own here, or nil.
func probeNamespaces() error {
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("no network namespaces: %w", err)
	}
	n, err := newEnvNamespace(namespaceMounts{})
	if err != nil {
		return err
	}
	n.close()
	return nil
}
