// Package freeport hands out loopback ports that stay reserved for whoever asked: a test, or the
// emulator choosing an environment's OTLP port for its agent to bind.
//
// The usual way to find a free port — listen on port 0, note the port, close — leaves a window in
// which the kernel gives the same port to the next bind(0) anywhere on the machine: an agent's
// OTLP listener, another test's collector. A test that meant "connection refused here" then meets
// someone else's server, and a test that meant "my server will listen here" fails with "address
// already in use". Both happened in CI (an environment's agent was given the port a test had just
// picked for its collector).
//
// A reservation closes the window: a TCP socket bound to the port with SO_REUSEADDR but never
// listening. Dialing the port is refused, as if it were free; the kernel hands the port to no
// bind(0) and to no outgoing connection, because a socket is bound there; and a listener that sets
// SO_REUSEADDR — every Go net.Listen, Node, most servers — binds it, since no socket listens on
// it. A listener without SO_REUSEADDR cannot: hand reserved ports only to listeners known to set it.
package freeport

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// Addr reserves a 127.0.0.1 port for the rest of the test (released at its cleanup) and returns it as host:port.
func Addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(t)))
}

// Port reserves a 127.0.0.1 port for the rest of the test.
func Port(t testing.TB) int {
	t.Helper()
	port, release, err := Reserve()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return port
}

// Ports reserves n distinct ports.
func Ports(t testing.TB, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = Port(t)
	}
	return out
}

// Reserve reserves a 127.0.0.1 port until release is called (once or more).
func Reserve() (port int, release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("reserve a port: socket: %w", err)
	}
	// Once: closing the descriptor twice could close whatever was given its number meanwhile.
	release = sync.OnceFunc(func() { _ = syscall.Close(fd) })
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		release()
		return 0, nil, fmt.Errorf("reserve a port: SO_REUSEADDR: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		release()
		return 0, nil, fmt.Errorf("reserve a port: bind: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		release()
		return 0, nil, fmt.Errorf("reserve a port: getsockname: %w", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		release()
		return 0, nil, fmt.Errorf("reserve a port: bound to %T, want IPv4", sa)
	}
	return in4.Port, release, nil
}
