package emulator

import (
	"fmt"
	"net"
	"strconv"

	"github.com/azlens/azlens/internal/freeport"
)

// On Lambda every execution environment has its own loopback, so the OpenTelemetry SDK's default
// endpoint (localhost:4318) reaches the OTLP receiver of its own environment's extension; so it
// does in an environment with a network namespace of its own (NetworkIsolated), which gets
// nothing here. Sandboxes on the host's shared loopback would not: the first agent would take 4318
// and receive every other environment's spans under its own resource. So each of those gets a free
// port of its own, given
// to the runtime (OTEL_EXPORTER_OTLP_ENDPOINT, read by every OTel SDK) and to extensions
// (AZLENS_OTLP_ENDPOINT, read by azlens-agent) unless the function sets either variable itself.
func (s *Sandbox) otlpEnv() []string {
	if _, ok := s.fn.Env["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		return nil
	}
	if _, ok := s.fn.Env["AZLENS_OTLP_ENDPOINT"]; ok {
		return nil
	}
	if s.otlpAddr == "" {
		return nil
	}
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + s.otlpAddr, "AZLENS_OTLP_ENDPOINT=" + s.otlpAddr}
}

// reserveOTLPAddr reserves a 127.0.0.1 port for the environment's OTLP receiver until the
// environment is released. Picked and let go at once, the port could be handed to another
// environment's agent, or any other bind, before this environment's agent binds it at init; held
// as a freeport reservation it is refused until the agent (a Go listener: SO_REUSEADDR) listens.
func reserveOTLPAddr() (addr string, release func(), err error) {
	port, release, err := freeport.Reserve()
	if err != nil {
		return "", nil, fmt.Errorf("pick an OTLP port: %w", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), release, nil
}
