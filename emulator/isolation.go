package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/azlens/azlens/emulator/internal/telemetry"
)

// apiAddrInNamespace is where Lambda serves the Runtime API inside every execution environment.
const apiAddrInNamespace = "127.0.0.1:9001"

var (
	nsProbeOnce sync.Once
	nsProbeErr  error
	nsWarnOnce  sync.Once
)

// namespacesUnavailable says, once per process, why environments cannot be isolated (nil: they can).
func namespacesUnavailable() error {
	nsProbeOnce.Do(func() { nsProbeErr = probeNamespaces() })
	return nsProbeErr
}

// chooseNetwork settles NetworkAuto for this sandbox.
func (s *Sandbox) chooseNetwork() (isolated bool, err error) {
	switch s.cfg.Network {
	case NetworkShared:
		return false, nil
	case NetworkIsolated:
		if err := namespacesUnavailable(); err != nil {
			return false, fmt.Errorf("network isolated: %w", err)
		}
		return true, nil
	}
	if !s.processesOnly() {
		return false, nil
	}
	if err := namespacesUnavailable(); err != nil {
		nsWarnOnce.Do(func() {
			s.log.Warn("execution environments share the host's loopback: no network namespaces here "+
				"(they need Linux and root, or unprivileged user namespaces); fixed ports collide between environments and "+
				"sandbox.localdomain does not resolve", "reason", err)
		})
		return false, nil
	}
	return true, nil
}

func (s *Sandbox) processesOnly() bool {
	if _, ok := s.fn.Runtime.(*ProcessRuntime); !ok {
		return false
	}
	for _, e := range s.fn.Extensions {
		if _, ok := e.(*ProcessExtension); !ok {
			return false
		}
	}
	return true
}

// prepareEnvironment unpacks the layers, adds their extensions and, when isolated, makes the
// environment's namespaces. Called by Start under s.mu; releaseEnvironment undoes it.
func (s *Sandbox) prepareEnvironment() error {
	isolated, err := s.chooseNetwork()
	if err != nil {
		return err
	}
	s.optView = "/opt"
	if len(s.fn.Layers) > 0 {
		dir, err := os.MkdirTemp("", "azlens-"+s.id+"-opt-")
		if err != nil {
			return fmt.Errorf("environment /opt: %w", err)
		}
		s.optDir = dir
		if err := unpackLayers(s.fn.Layers, dir); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("environment /opt: %w", err)
		}
		names, err := layerExtensions(dir)
		if err != nil {
			return err
		}
		if !isolated {
			s.optView = dir
		}
		exts := append([]Extension(nil), s.fn.Extensions...)
		for _, name := range names {
			if s.external[name] {
				return fmt.Errorf("function.layers: extension %q is also configured directly", name)
			}
			s.external[name] = true
			exts = append(exts, &ProcessExtension{Path: filepath.Join(s.optView, "extensions", name)})
		}
		if len(exts) > maxExtensions {
			return fmt.Errorf("function.extensions: %d with the layers' exceeds the limit of %d", len(exts), maxExtensions)
		}
		s.fn.Extensions = exts
	}
	if !isolated {
		return nil
	}
	dir, err := os.MkdirTemp("", "azlens-"+s.id+"-ns-")
	if err != nil {
		return fmt.Errorf("environment namespace: %w", err)
	}
	s.nsDir = dir
	hosts, err := s.writeHosts(dir)
	if err != nil {
		return err
	}
	ns, err := newEnvNamespace(namespaceMounts{opt: s.optDir, hosts: hosts})
	if err != nil {
		return fmt.Errorf("environment namespace: %w", err)
	}
	s.ns = ns
	s.hubClient = newHubClient(ns.dial)
	for _, p := range s.cfg.HostPorts {
		if err := s.forwardHostPort(p); err != nil {
			return err
		}
	}
	return nil
}

// writeHosts is the environment's /etc/hosts: the host's, plus Lambda's names for the sandbox.
func (s *Sandbox) writeHosts(dir string) (string, error) {
	base, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("environment /etc/hosts: %w", err)
	}
	if len(base) > 0 && base[len(base)-1] != '\n' {
		base = append(base, '\n')
	}
	base = append(base, "127.0.0.1\tsandbox.localdomain sandbox\n"...)
	p := filepath.Join(dir, "hosts")
	if err := os.WriteFile(p, base, 0o644); err != nil {
		return "", fmt.Errorf("environment /etc/hosts: %w", err)
	}
	return p, nil
}

// releaseEnvironment ends what prepareEnvironment made; every process must have exited.
func (s *Sandbox) releaseEnvironment() {
	s.fwdMu.Lock()
	s.fwdClosed = true
	for _, ln := range s.fwdLns {
		ln.Close()
	}
	for c := range s.fwdConns {
		c.Close()
	}
	s.fwdMu.Unlock()
	s.fwdWG.Wait()
	if s.ns != nil {
		s.ns.close()
	}
	releasePorts(s.id)
	if s.releaseOTLP != nil {
		s.releaseOTLP()
	}
	for _, d := range []string{s.optDir, s.nsDir} {
		if d == "" {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			s.log.Warn("remove environment directory", "dir", d, "error", err)
		}
	}
}

// forwardHostPort listens on 127.0.0.1:port inside the environment and carries each connection to
// the same port on the host's loopback.
func (s *Sandbox) forwardHostPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("host_ports: %d is not a port", port)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ln, err := s.ns.listen(addr)
	if err != nil {
		return fmt.Errorf("host_ports: forward %d into the environment: %w", port, err)
	}
	s.fwdMu.Lock()
	s.fwdLns = append(s.fwdLns, ln)
	if s.fwdConns == nil {
		s.fwdConns = map[net.Conn]struct{}{}
	}
	s.fwdMu.Unlock()
	s.fwdWG.Add(1)
	go func() {
		defer s.fwdWG.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			s.fwdWG.Add(1)
			go func() {
				defer s.fwdWG.Done()
				s.pipeToHost(in, addr)
			}()
		}
	}()
	return nil
}

func (s *Sandbox) pipeToHost(in net.Conn, addr string) {
	var d net.Dialer
	out, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		in.Close()
		s.log.Debug("host port forward: dial", "addr", addr, "error", err)
		return
	}
	s.fwdMu.Lock()
	if s.fwdClosed {
		s.fwdMu.Unlock()
		in.Close()
		out.Close()
		return
	}
	s.fwdConns[in], s.fwdConns[out] = struct{}{}, struct{}{}
	s.fwdMu.Unlock()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		if tc, ok := out.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(in, out)
	if tc, ok := in.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
	in.Close()
	out.Close()
	s.fwdMu.Lock()
	delete(s.fwdConns, in)
	delete(s.fwdConns, out)
	s.fwdMu.Unlock()
}

func newHubClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, DialContext: dial}
	return &http.Client{Transport: tr}
}

// Loopback ports subscribed on the shared loopback, by environment: two environments cannot both
// receive on one port there, and delivering the second's events to the first's listener would put
// one zone's data under another's identity.
var (
	portsMu sync.Mutex
	ports   = map[int]portOwner{}
)

type portOwner struct{ sandbox, extension string }

// claimPort is the hub's CheckDestination on the shared loopback.
func (s *Sandbox) claimPort(extension, protocol string, port int) error {
	portsMu.Lock()
	owner, taken := ports[port]
	if !taken {
		ports[port] = portOwner{s.id, extension}
	}
	portsMu.Unlock()
	if !taken || owner.sandbox == s.id {
		return nil
	}
	s.warnOnce("port/"+strconv.Itoa(port)+"/"+extension, "telemetry subscription refused: its port is another environment's on the shared loopback "+
		"(fixed listener ports collide without network namespaces)",
		"extension", extension, "port", port, "protocol", protocol,
		"owner_environment", owner.sandbox, "owner_extension", owner.extension)
	return &telemetry.APIError{Status: http.StatusBadRequest, Type: "ValidationError", Message: fmt.Sprintf(
		"destination port %d already receives telemetry for execution environment %s (extension %s): environments share one loopback here, so a fixed port collides",
		port, owner.sandbox, owner.extension)}
}

// releasePorts frees every port sandbox claimed (its extensions have exited).
func releasePorts(sandbox string) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for p, o := range ports {
		if o.sandbox == sandbox {
			delete(ports, p)
		}
	}
}

// warnOnce logs msg at WARN the first time key is seen in this environment.
func (s *Sandbox) warnOnce(key, msg string, args ...any) {
	s.statsMu.Lock()
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	seen := s.warned[key]
	s.warned[key] = true
	s.statsMu.Unlock()
	if !seen {
		s.log.Warn(msg, args...)
	}
}
