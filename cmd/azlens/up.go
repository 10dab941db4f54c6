package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/azlens/azlens/internal/loop"
)

// runUp is `azlens up`: the whole loop on embedded defaults.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("azlens up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loop.Config
	var azs, timing, summaryPath string
	fs.StringVar(&c.Function, "function", "", "function bootstrap executable (default: the sample function next to azlens)")
	fs.StringVar(&c.Agent, "agent", "", "azlens-agent executable (default: next to azlens)")
	fs.StringVar(&c.Collector, "collector", "", "azlens-collector executable (default: next to azlens)")
	fs.StringVar(&azs, "azs", "use1-az1,use1-az2,use1-az3", "comma-separated availability zone IDs")
	fs.IntVar(&c.EnvsPerZone, "envs-per-az", 2, "execution environments pre-provisioned per zone")
	fs.Float64Var(&c.Rate, "rate", 30, "steady user load, invocations per second over all zones")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9001", "front door: Invoke API, /zonalshift and /fis")
	fs.StringVar(&c.Scenario, "scenario", "none", "fault scenario after warm-up: none, az-errors, az-latency, az-crash, telemetry-loss, two-az-errors")
	fs.StringVar(&c.FaultedZone, "fault-zone", "", "zone the scenario faults (default: the second zone)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "time before the fault starts (default: 3 short detector windows)")
	fs.DurationVar(&c.FaultDuration, "fault-duration", 0, "how long the fault lasts (0: until the run ends)")
	fs.DurationVar(&c.Duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fs.DurationVar(&c.Interval, "interval", 2*time.Second, "how often the per-zone view is printed")
	fs.StringVar(&timing, "timing", "demo", "detector and shift timings: demo (spec detection, quick recovery), production, fast (tests)")
	fs.StringVar(&summaryPath, "summary-json", "", "write the run's summary (JSON) to this file")
	fs.StringVar(&c.TracesEndpoint, "traces-endpoint", "", "send traces over OTLP/gRPC to this host:port, e.g. Jaeger's localhost:4317 (default: discard)")
	fs.StringVar(&c.LogsEndpoint, "logs-endpoint", "", "send logs to this Loki push API base URL, e.g. http://localhost:9428/insert for VictoriaLogs (default: discard)")
	fs.IntVar(&c.CollectorPorts.Prometheus, "prometheus-port", 0, "the collector's Prometheus exporter port on 127.0.0.1, for a Prometheus to scrape (default: a free port)")
	verbose := fs.Bool("verbose", false, "copy function, extension and collector output to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if c.Timing, err = loop.TimingByName(timing); err != nil {
		return err
	}
	c.Zones = splitZones(azs)
	for _, exe := range []struct {
		path *string
		name string
	}{{&c.Function, "hello"}, {&c.Agent, "azlens-agent"}, {&c.Collector, "azlens-collector"}} {
		if *exe.path != "" {
			continue
		}
		p, err := siblingExecutable(exe.name)
		if err != nil {
			return fmt.Errorf("%s not found next to azlens (run `make up`, or pass its path): %w", exe.name, err)
		}
		*exe.path = p
	}
	if *verbose {
		c.Logs = stderr
	}
	c.View = stdout
	c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum, err := loop.Run(ctx, c)
	if err != nil {
		return err
	}
	printSummary(stdout, sum)
	if summaryPath != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(summaryPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--summary-json: %w", err)
		}
	}
	return nil
}

func printSummary(w io.Writer, s *loop.Summary) {
	str := func(p *string) string {
		if p == nil {
			return "none"
		}
		return *p
	}
	secs := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.1fs", *p)
	}
	if s.Scenario == "none" {
		fmt.Fprintf(w, "no fault injected: alarms %s, zonal shifts %s, false alarms %d; invocations %d\n",
			str(s.AlarmZone), str(s.EvacuatedZone), s.FalseAlarms, s.Invocations)
	} else {
		fmt.Fprintf(w, "scenario %s (faulted %s): alarm %s after %s, evacuated %s after %s; failed before/after shift %d/%d; false alarms %d; invocations %d\n",
			s.Scenario, s.FaultedZone, str(s.AlarmZone), secs(s.TimeToAlarm), str(s.EvacuatedZone), secs(s.TimeToShift),
			s.FailedBeforeShift, s.FailedAfterShift, s.FalseAlarms, s.Invocations)
	}
	for _, z := range s.Zones {
		fmt.Fprintf(w, "  %-10s %d invocations (%d failed)\n", z.Zone, z.Invocations, z.Failed)
	}
}

// siblingExecutable finds name next to the running executable (where `make` puts the binaries).
func siblingExecutable(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}
