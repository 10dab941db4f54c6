package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func TestTailWriterKeepsWholeLastLines(t *testing.T) {
	w := &tailWriter{limit: 16}
	for i := range 10 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	// 16 bytes hold the last two 7-byte lines; the cut falls inside "line 7", which is dropped whole.
	if got, want := w.String(), "line 8\nline 9"; got != want {
		t.Fatalf("tail = %q, want %q", got, want)
	}
	// A single write longer than the limit with no line break is kept from its end.
	w = &tailWriter{limit: 4}
	io.WriteString(w, "abcdefgh")
	if got := w.String(); got != "efgh" {
		t.Fatalf("tail = %q, want %q", got, "efgh")
	}
}

// A collector that cannot bind its port exits during start-up; the error says why (its own
// last output) and is errPortTaken, which makes azlens up start it again on new ports.
func TestStartCollectorReportsATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := Config{Function: bins.function, Agent: bins.agent, Collector: bins.collector, Name: "hello", Timing: Fast}
	cfg.CollectorPorts.Telemetry = taken.Addr().(*net.TCPAddr).Port
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	if cfg.autoPorts != [3]bool{false, true, true} {
		t.Fatalf("autoPorts = %v, want the OTLP and Prometheus ports only", cfg.autoPorts)
	}
	p, err := startCollector(context.Background(), cfg, t.TempDir(), io.Discard, "http://127.0.0.1:1", FunctionARN("hello"), "http://127.0.0.1:1/otlp")
	if err == nil {
		_ = p.Stop(context.Background())
		t.Fatal("the collector started on a taken port")
	}
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("error is not errPortTaken: %v", err)
	}
	if !strings.Contains(err.Error(), "its last output:") || !strings.Contains(err.Error(), fmt.Sprint(cfg.CollectorPorts.Telemetry)) {
		t.Fatalf("error does not carry the collector's own explanation: %v", err)
	}

	// Choosing again moves only the ports azlens chose.
	before := cfg.CollectorPorts
	if err := cfg.pickPorts(); err != nil {
		t.Fatal(err)
	}
	if cfg.CollectorPorts.Telemetry != before.Telemetry {
		t.Fatalf("the user's telemetry port moved: %d → %d", before.Telemetry, cfg.CollectorPorts.Telemetry)
	}
}
