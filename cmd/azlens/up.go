package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/internal/loop"
)

// runUp is `azlens up`: the whole loop on embedded defaults.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("azlens up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c upConfig
	var azs, timing, summaryPath, network string
	fs.StringVar(&c.Function, "function", "", "function bootstrap executable (default: the sample function next to azlens)")
	fs.StringVar(&c.Agent, "agent", "", "azlens-agent executable (default: next to azlens)")
	fs.StringVar(&c.AgentLayer, "agent-layer", "", "azlens-agent layer zip (`make layer`), run from each environment's /opt/extensions instead of --agent")
	fs.StringVar(&c.Collector, "collector", "", "azlens-collector executable (default: next to azlens)")
	fs.StringVar(&azs, "azs", "use1-az1,use1-az2,use1-az3", "comma-separated availability zone IDs")
	fs.IntVar(&c.EnvsPerZone, "envs-per-az", 2, "execution environments pre-provisioned per zone")
	fs.Float64Var(&c.Rate, "rate", 30, "steady user load, invocations per second over all zones")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9001", "front door: Lambda Invoke, ARC zonal shift and FIS APIs, the web console /ui/")
	fs.StringVar(&c.Scenario, "scenario", "none", "fault scenario after warm-up: "+strings.Join(loop.ScenarioNames(), ", "))
	fs.StringVar(&c.FaultedZone, "fault-zone", "", "zone the scenario faults (default: the second zone)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "time before the fault starts (default: 3 short detector windows)")
	fs.DurationVar(&c.FaultDuration, "fault-duration", 0, "how long the fault lasts (0: until the run ends)")
	fs.DurationVar(&c.Duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fs.DurationVar(&c.Interval, "interval", 2*time.Second, "how often the per-zone view is printed")
	fs.StringVar(&timing, "timing", "demo", "detector and shift timings: demo (spec detection, quick recovery), production, fast (tests)")
	fs.StringVar(&summaryPath, "summary-json", "", "write the run's summary (JSON) to this file")
	fs.StringVar(&c.Report, "report", "", "write the rehearsal report (one self-contained HTML file) here when the run ends, also on Ctrl-C")
	fs.StringVar(&c.TracesEndpoint, "traces-endpoint", "", "send traces over OTLP/gRPC to this host:port, e.g. Jaeger's localhost:4317 (default: discard)")
	fs.StringVar(&c.LogsEndpoint, "logs-endpoint", "", "send logs to this Loki push API base URL, e.g. http://localhost:9428/insert for VictoriaLogs (default: discard)")
	fs.IntVar(&c.CollectorPorts.Prometheus, "prometheus-port", 0, "the collector's Prometheus exporter port on 127.0.0.1, for a Prometheus to scrape (default: a free port)")
	fs.StringVar(&network, "network", "auto", "environment network: isolated (a network and mount namespace each, as on Lambda; Linux as root or with unprivileged user namespaces), shared (the host's loopback), or auto (isolated where possible)")
	verbose := fs.Bool("verbose", false, "copy function, extension and collector output to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.checkUp(&upFlags{azs: azs, timing: timing, network: network, summaryPath: &summaryPath}, setFlags(fs)); err != nil {
		return err
	}
	if *verbose {
		c.Logs = stderr
	}
	c.View = stdout
	c.Redraw = isTerminal(stdout)
	c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum, err := loop.Run(ctx, c.Config)
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
			s.Scenario, faultedZones(s), str(s.AlarmZone), secs(s.TimeToAlarm), str(s.EvacuatedZone), secs(s.TimeToShift),
			s.FailedBeforeShift, s.FailedAfterShift, s.FalseAlarms, s.Invocations)
	}
	for _, z := range s.Zones {
		fmt.Fprintf(w, "  %-10s %d invocations (%d failed)\n", z.Zone, z.Invocations, z.Failed)
	}
}

// faultedZones names every zone the fault was injected into (the planned one if none started).
func faultedZones(s *loop.Summary) string {
	if len(s.FaultedZones) == 0 {
		return s.FaultedZone
	}
	return strings.Join(s.FaultedZones, ", ")
}

// isTerminal says whether w is a terminal, where the live view redraws in place (a pipe or a file
// gets appended blocks).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
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

// upConfig is the loop's configuration as `azlens up`'s flags set it.
type upConfig struct{ loop.Config }

// upFlags are the flags of `azlens up` that are not loop configuration as given.
type upFlags struct {
	azs, timing, network string
	summaryPath          *string
}

// checkUp checks every flag of `azlens up` and their combinations, resolves the path flags (and
// finds the binaries next to azlens that were not given), and completes c.
func (c *upConfig) checkUp(f *upFlags, set map[string]bool) error {
	var err error
	if err := oneOf("timing", f.timing, []string{"demo", "production", "fast"}); err != nil {
		return err
	}
	if c.Timing, err = loop.TimingByName(f.timing); err != nil {
		return err
	}
	if c.Zones, err = zoneList("azs", f.azs, 2); err != nil {
		return err
	}
	if c.EnvsPerZone < 1 {
		return usagef("--envs-per-az must be at least 1, got %d", c.EnvsPerZone)
	}
	if c.Network, err = networkMode(f.network); err != nil {
		return err
	}
	if err := positiveNumber("rate", c.Rate); err != nil {
		return err
	}
	if err := listenAddr("listen", c.Listen); err != nil {
		return err
	}
	if err := oneOf("scenario", c.Scenario, loop.ScenarioNames()); err != nil {
		return err
	}
	if c.FaultedZone != "" {
		if err := oneOf("fault-zone", c.FaultedZone, c.Zones); err != nil {
			return err
		}
	}
	if err := errors.Join(nonNegative("warmup", c.Warmup), nonNegative("fault-duration", c.FaultDuration),
		nonNegative("duration", c.Duration)); err != nil {
		return err
	}
	if err := positive("interval", c.Interval); err != nil {
		return err
	}
	if c.Scenario == experiment.ScenarioNone {
		for _, name := range []string{"fault-zone", "warmup", "fault-duration"} {
			if set[name] {
				return usagef("--%s has no effect with --scenario none; choose a scenario: %s", name, strings.Join(loop.ScenarioNames(), ", "))
			}
		}
	} else if c.Duration > 0 {
		warmup := c.Warmup
		if warmup == 0 {
			warmup = loop.DefaultWarmup(c.Timing)
		}
		if c.Duration <= warmup {
			return usagef("--duration %s ends the run before the fault starts (warm-up %s); make --duration longer or --warmup shorter", c.Duration, warmup)
		}
	}
	for _, exe := range []struct {
		path       *string
		flag, name string
	}{{&c.Function, "function", "hello"}, {&c.Agent, "agent", "azlens-agent"}, {&c.Collector, "collector", "azlens-collector"}} {
		if exe.path == &c.Agent && c.AgentLayer != "" {
			continue // the agent runs from its layer
		}
		if *exe.path != "" {
			if *exe.path, err = executablePath(exe.flag, *exe.path); err != nil {
				return err
			}
			continue
		}
		p, err := siblingExecutable(exe.name)
		if err != nil {
			return usagef("%s not found next to azlens (run `make build`, or pass --%s PATH): %v", exe.name, exe.flag, err)
		}
		*exe.path = p
	}
	if c.AgentLayer != "" {
		if c.AgentLayer, err = layerPath(c.AgentLayer); err != nil {
			return err
		}
	}
	if *f.summaryPath != "" {
		if *f.summaryPath, err = outputPath("summary-json", *f.summaryPath); err != nil {
			return err
		}
	}
	if c.Report != "" {
		if c.Report, err = outputPath("report", c.Report); err != nil {
			return err
		}
	}
	if c.TracesEndpoint != "" {
		if err := dialAddr("traces-endpoint", c.TracesEndpoint); err != nil {
			return err
		}
	}
	if c.LogsEndpoint != "" {
		if err := endpointURL("logs-endpoint", c.LogsEndpoint); err != nil {
			return err
		}
	}
	if p := c.CollectorPorts.Prometheus; p < 0 || p > 65535 {
		return usagef("--prometheus-port %d: must be a port from 1 to 65535 (0: a free port)", p)
	}
	return nil
}
