package freeport

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// The three promises: refused until something listens, never handed to a bind(0), and a Go
// listener can take it (and take it again after closing).
func TestReservedPort(t *testing.T) {
	addr := Addr(t)
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s before anything listens = %v, want connection refused", addr, err)
	}
	for range 5000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := ln.Addr().String()
		ln.Close()
		if got == addr {
			t.Fatalf("bind(0) was handed the reserved %s", addr)
		}
	}
	for range 2 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on the reserved %s: %v", addr, err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial the listener: %v", err)
		}
		c.Close()
		ln.Close()
	}
}

func TestPortsAreDistinct(t *testing.T) {
	seen := map[int]bool{}
	for _, p := range Ports(t, 50) {
		if seen[p] {
			t.Fatalf("port %d reserved twice", p)
		}
		seen[p] = true
	}
}
