package loop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/internal/collectorconf"
	"github.com/azlens/azlens/internal/collectorproc"
)

// Timing is the detector's and the zonal shift's time settings for one run. Detection runs on
// the real spec timings in Demo, so the times `azlens up` prints compare with the spec's table;
// Fast compresses everything about ten-fold for tests.
type Timing struct {
	Tick                  time.Duration // detector evaluation period (Δ)
	ShortWindow           time.Duration // detector windows
	LongWindow            time.Duration
	Lease                 time.Duration // zonal shift lease, renewed while the decision holds
	MinEvacuation         time.Duration // before fail-back may start
	FailbackStageDuration time.Duration // hold of each fail-back stage
	ZoneChangeCooldown    time.Duration // before shifting a different zone
}

// Production is the azhealth processor's own defaults (docs/az-health.md).
var Production = Timing{
	Tick: 10 * time.Second, ShortWindow: time.Minute, LongWindow: 5 * time.Minute,
	Lease: time.Minute, MinEvacuation: 15 * time.Minute, FailbackStageDuration: 5 * time.Minute,
	ZoneChangeCooldown: 10 * time.Minute,
}

// Demo detects on the spec's timings but recovers in about two minutes, so one `azlens up` run
// shows fault, alarm, shift, recovery and fail-back.
var Demo = Timing{
	Tick: 10 * time.Second, ShortWindow: time.Minute, LongWindow: 5 * time.Minute,
	Lease: time.Minute, MinEvacuation: time.Minute, FailbackStageDuration: 15 * time.Second,
	ZoneChangeCooldown: 2 * time.Minute,
}

// Fast compresses every duration for tests: detection in seconds.
var Fast = Timing{
	Tick: time.Second, ShortWindow: 6 * time.Second, LongWindow: 30 * time.Second,
	Lease: time.Minute, MinEvacuation: 10 * time.Second, FailbackStageDuration: 2 * time.Second,
	ZoneChangeCooldown: 20 * time.Second,
}

// DefaultWarmup is the warm-up of a run that sets none: 3 short windows, so the detector's
// baselines are full before the fault starts.
func DefaultWarmup(t Timing) time.Duration { return 3 * t.ShortWindow }

// TimingByName maps the --timing flag's values.
func TimingByName(name string) (Timing, error) {
	switch name {
	case "production":
		return Production, nil
	case "demo", "":
		return Demo, nil
	case "fast":
		return Fast, nil
	}
	return Timing{}, fmt.Errorf("timing must be production, demo or fast, got %q", name)
}

// collectorYAML is the azlens-collector configuration of one run: the default pipeline of
// deploy/collector/config.yaml, with the metrics pipeline closing the loop (canaries in through
// otlp, decisions out through zonalshift) and traces and logs to Jaeger (OTLP/gRPC) and a Loki
// push API when the run names them, else to the debug exporter, since none runs on a laptop by
// default. Traces also go to the web console's buffer.
func collectorYAML(cfg Config, shiftEndpoint, resource, consoleEndpoint string) (string, error) {
	t := cfg.Timing
	traces, logs := collectorconf.DebugExporter, collectorconf.DebugExporter
	if cfg.TracesEndpoint != "" {
		traces = collectorconf.OTLPExporter
	}
	if cfg.LogsEndpoint != "" {
		logs = collectorconf.LokiExporter
	}
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	return collectorconf.Config{
		Telemetry:    local(cfg.CollectorPorts.Telemetry),
		OTLP:         local(cfg.CollectorPorts.OTLP),
		BatchTimeout: 200 * time.Millisecond,
		AZHealth: &collectorconf.AZHealth{
			Tick: t.Tick, ShortWindow: t.ShortWindow, LongWindow: t.LongWindow,
			ZoneChangeCooldown: t.ZoneChangeCooldown,
			MinEvacuation:      t.MinEvacuation, FailbackStageDuration: t.FailbackStageDuration,
		},
		Exporters: collectorconf.Exporters{
			OTLPGRPC:   cfg.TracesEndpoint,
			Loki:       cfg.LogsEndpoint,
			Prometheus: local(cfg.CollectorPorts.Prometheus),
			ZonalShift: &collectorconf.ZonalShift{Endpoint: shiftEndpoint, Lease: t.Lease, Resource: map[string]string{cfg.Name: resource}},
			Console:    consoleEndpoint,
		},
		Traces:   []string{traces, collectorconf.ConsoleExporter},
		Logs:     []string{logs},
		Metrics:  []string{collectorconf.PrometheusExporter, collectorconf.ZonalShiftExporter},
		LogLevel: "warn",
	}.YAML()
}

// startCollector starts the run's azlens-collector and returns once its exporter answers.
func startCollector(ctx context.Context, cfg Config, work string, logs io.Writer, shiftEndpoint, resource, consoleEndpoint string) (*collectorproc.Process, error) {
	yaml, err := collectorYAML(cfg, shiftEndpoint, resource, consoleEndpoint)
	if err != nil {
		return nil, err
	}
	// The tail explains an exit during start-up: the log itself may be a file that goes away
	// with the run's work directory.
	tail := &tailWriter{limit: 4 << 10}
	proc, err := collectorproc.Start(collectorproc.Options{
		Bin: cfg.Collector, Config: yaml, Dir: work, Env: localAWSEnv(work), Output: io.MultiWriter(logs, tail),
	})
	if err != nil {
		return nil, err
	}
	path := proc.ConfigPath()
	// The bound only catches a collector that hangs: a busy machine can take minutes to start
	// one, and its exit is noticed at once.
	if err := waitReady(ctx, proc, cfg.CollectorPorts.metricsURL(), 10*time.Minute); err != nil {
		_ = proc.Stop(context.Background())
		last := tail.String()
		if strings.Contains(last, "address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		if last != "" {
			return nil, fmt.Errorf("collector (config %s): %w; its last output:\n%s", path, err, last)
		}
		return nil, fmt.Errorf("collector (config %s): %w", path, err)
	}
	return proc, nil
}

// errPortTaken says the collector could not bind one of its ports.
var errPortTaken = errors.New("a port is in use")

// tailWriter keeps the last limit bytes written to it, from a line start.
type tailWriter struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.limit; over > 0 {
		rest := w.buf[over:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 && i+1 < len(rest) {
			rest = rest[i+1:]
		}
		w.buf = append(w.buf[:0], rest...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}

// waitReady polls the Prometheus exporter until it answers: the pipeline is then built and every
// receiver listening.
func waitReady(ctx context.Context, p *collectorproc.Process, url string, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited during start: %v", p.Err())
		case <-deadline.C:
			return errors.New("not ready after " + limit.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
	}
}

// localAWSEnv is the collector's environment: the caller's, without its AWS settings, plus dummy
// static credentials and a region. The zonalshift exporter calls the local region through the
// AWS SDK, whose default chain must find credentials to sign with (the region accepts any
// signature), and must never pick up a real profile or instance role on the way.
func localAWSEnv(work string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(work, "no-aws-config")
	return append(env, "AWS_ACCESS_KEY_ID=azlens-local", "AWS_SECRET_ACCESS_KEY=azlens-local", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
}
