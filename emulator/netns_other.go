//go:build !linux

package emulator

import (
	"context"
	"errors"
	"net"
	"os/exec"
)

// envNamespace exists only on Linux; elsewhere environments share the host's loopback.
type envNamespace struct{}

type namespaceMounts struct{ opt, hosts string }

var errNoNamespaces = errors.New("network namespaces are a Linux feature")

func newEnvNamespace(namespaceMounts) (*envNamespace, error) { return nil, errNoNamespaces }
func (*envNamespace) listen(string) (net.Listener, error)    { return nil, errNoNamespaces }
func (*envNamespace) dial(context.Context, string, string) (net.Conn, error) {
	return nil, errNoNamespaces
}
func (*envNamespace) start(*exec.Cmd) error { return errNoNamespaces }
func (*envNamespace) close()                {}
func probeNamespaces() error                { return errNoNamespaces }

// MaybeRunHolder does nothing outside Linux: there are no user-namespace holders to run.
func MaybeRunHolder() {}
