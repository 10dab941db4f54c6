// Package loop runs azlens's whole closed loop on one machine: a region of zones running a real
// function with azlens-agent in every execution environment, the azlens-collector (receiver →
// azhealth → Prometheus and zonal shift exporters) as a child process, per-zone canaries, steady
// load, fault experiments and the zonal shift API the collector drives. `azlens up` is a thin
// front for it, and the end-to-end scenario tests and the B9 benchmark run it too.
package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/canary"
	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/groundtruth"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/collectorproc"
	"github.com/azlens/azlens/internal/loadgen"
)

// Config of one run of the loop. Zero values are the embedded defaults of `azlens up`.
type Config struct {
	// Function is the runtime executable (an aws-lambda-go bootstrap). Required.
	Function string
	// Agent is the azlens-agent executable, run as an external extension in every environment.
	// Required unless AgentLayer is set.
	Agent string
	// AgentLayer is the layer zip `make layer` builds (dist/azlens-agent-layer-<arch>.zip): when
	// set, every environment runs the agent from its /opt/extensions, as shipped, instead of Agent.
	AgentLayer string
	// Collector is the azlens-collector executable. Required.
	Collector string
	// Name is the function name. Empty means the Function file's base name.
	Name string
	// Zones are the AZ IDs. Empty means region.DefaultZones.
	Zones []string
	// EnvsPerZone is the pre-provisioned capacity per zone. Zero means 2.
	EnvsPerZone int
	// AcquireTimeout is how long an invocation waits for a free environment before it is
	// throttled (429). Zero means the emulator's default (2 s); tests on a busy machine raise it so
	// a stalled machine is not mistaken for a zone short of capacity.
	AcquireTimeout time.Duration
	// CanaryTimeout bounds one canary invocation. Zero means the canary runner's default (5 s);
	// tests on a busy machine raise it so canaries that merely waited for a CPU do not read as
	// failures in every zone (a regional problem, which blocks any shift).
	CanaryTimeout time.Duration
	// Rate is the steady user load in invocations per second over all zones. Zero means 30.
	Rate float64
	// CanaryInterval is the time between two canaries in one zone. Zero means a sixtieth of the
	// detector's short window (1s on the spec's timings).
	CanaryInterval time.Duration
	// CanaryLatencyBound fails a canary answered later than this. Zero means the detector's
	// slow threshold (1s), so a zone slower than T_slow fails its canaries too.
	CanaryLatencyBound time.Duration
	// Listen is the front door's address (Invoke, zonal shift and experiment APIs). Empty means
	// "127.0.0.1:9001".
	Listen string
	// CollectorPorts are where the collector listens. Zero ports are chosen free.
	CollectorPorts Ports
	// Network is how each execution environment is networked. Zero is the host's shared loopback;
	// `azlens up` passes emulator.NetworkAuto: a network and mount namespace per environment where
	// the host allows it, as on Lambda, with the collector's telemetry port forwarded inside so
	// the agents reach it at the same 127.0.0.1 address.
	Network emulator.Network
	// autoPorts marks the CollectorPorts (in Ports.all's order) that azlens chose.
	autoPorts [3]bool
	// TracesEndpoint is an OTLP/gRPC host:port (Jaeger's :4317) the collector sends traces to.
	// Empty means the collector's debug exporter.
	TracesEndpoint string
	// LogsEndpoint is the base URL of a Loki push API (Loki's http://host:3100, VictoriaLogs'
	// http://host:9428/insert) the collector sends logs to. Empty means the debug exporter.
	LogsEndpoint string
	// Timing is the detector's and the shift's time settings. Zero means Production.
	Timing Timing
	// Scenario is a fault scenario of experiment.Scenario to run after Warmup; "" or "none" runs
	// none.
	Scenario string
	// FaultedZone is the zone the scenario targets. Empty means the second zone.
	FaultedZone string
	// Warmup is how long the loop runs before the fault starts. Zero means 3 long windows of the
	// detector's Timing, so its baselines are full.
	Warmup time.Duration
	// FaultDuration is how long the fault lasts. Zero means until the run ends.
	FaultDuration time.Duration
	// Duration ends the run. Zero means until ctx ends.
	Duration time.Duration
	// Interval is how often the live view is printed. Zero means 2s.
	Interval time.Duration
	// View receives the live per-zone view and the timeline. Nil means discard.
	View io.Writer
	// Redraw redraws the live view in place, for a View that is a terminal. False appends a block
	// per Interval, for a pipe or a file.
	Redraw bool
	// Logs receives function, extension and collector output. Nil means a file in WorkDir.
	Logs io.Writer
	// WorkDir holds the collector's config and logs. Empty means a new temporary directory,
	// removed at the end.
	WorkDir string
	// Observe, when set, is told the outcome of every invocation the region was asked for, as the
	// emulator's ground truth counts it; it must not block.
	Observe func(region.Outcome)
	// Logger logs the loop's own troubles. Nil means discard.
	Logger *slog.Logger
	// Report is where the rehearsal report (one self-contained HTML file) is written when the
	// run ends, by Duration or by ctx (Ctrl-C). Empty means none.
	Report string
}

// Ports of the collector's listeners.
type Ports struct {
	Telemetry  int // lambdatelemetry receiver (agent batches)
	OTLP       int // otlp receiver, HTTP (canary metrics)
	Prometheus int // prometheus exporter (/metrics)
}

// metricsURL is the collector's Prometheus exporter: its readiness, the view's figures and the
// guard counters are read there.
func (p Ports) metricsURL() string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", p.Prometheus) }

// Run runs the loop until ctx ends or cfg.Duration passes, and returns what happened.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	l := &run{cfg: cfg, log: cfg.Logger, view: cfg.View}
	return l.run(ctx)
}

func (c *Config) defaults() error {
	agent := c.Agent
	if c.AgentLayer != "" {
		agent = c.AgentLayer
	}
	for name, p := range map[string]string{"function": c.Function, "agent": agent, "collector": c.Collector} {
		if p == "" {
			return fmt.Errorf("%s executable is required", name)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s executable: %w", name, err)
		}
	}
	if c.Name == "" {
		c.Name = filepath.Base(c.Function)
	}
	if len(c.Zones) == 0 {
		c.Zones = region.DefaultZones
	}
	if c.EnvsPerZone == 0 {
		c.EnvsPerZone = 2
	}
	if c.Rate == 0 {
		c.Rate = 30
		if c.Scenario == ScenarioLowTraffic {
			// Compressed timings see as many invocations per window as the spec's 2/s per
			// zone do on its own.
			c.Rate = LowTrafficRate * float64(max(1, len(c.Zones)))
			if c.Timing != (Timing{}) && c.Timing.Tick < Production.Tick {
				c.Rate *= float64(Production.Tick) / float64(c.Timing.Tick)
			}
		}
	}
	if c.CanaryLatencyBound == 0 {
		c.CanaryLatencyBound = time.Second
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9001"
	}
	if c.Timing == (Timing{}) {
		c.Timing = Production
	}
	if c.CanaryInterval == 0 {
		// Enough canaries for the detector's volume gate (50) in one short window.
		c.CanaryInterval = c.Timing.ShortWindow / 60
	}
	if c.Scenario == "" {
		c.Scenario = "none"
	}
	if c.FaultedZone == "" {
		if len(c.Zones) < 2 {
			return errors.New("the loop needs at least two zones")
		}
		c.FaultedZone = c.Zones[1]
	}
	found := false
	for _, z := range c.Zones {
		found = found || z == c.FaultedZone
	}
	if !found {
		return fmt.Errorf("faulted zone %q is not one of %v", c.FaultedZone, c.Zones)
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup(c.Timing)
	}
	if c.Interval == 0 {
		c.Interval = 2 * time.Second
	}
	if c.View == nil {
		c.View = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for i, p := range c.CollectorPorts.all() {
		c.autoPorts[i] = c.autoPorts[i] || *p == 0
	}
	return c.pickPorts()
}

func (p *Ports) all() [3]*int { return [3]*int{&p.Telemetry, &p.OTLP, &p.Prometheus} }

// pickPorts chooses free ports for the collector ports the user left to azlens. A port is free
// when chosen, not when the collector binds it: another process (another azlens up, say) may
// take it in between, and the collector is then started again on new ones.
func (c *Config) pickPorts() error {
	for i, p := range c.CollectorPorts.all() {
		if !c.autoPorts[i] {
			continue
		}
		free, err := freePort()
		if err != nil {
			return err
		}
		*p = free
	}
	return nil
}

// run is one run's state.
type run struct {
	cfg  Config
	log  *slog.Logger
	view io.Writer

	shifts      *zonalshift.Service
	experiments *experiment.Service
	region      *region.Region
	frontDoor   *http.Server
	addr        string
	collector   *collectorproc.Process
	canaries    *canary.Runner
	load        *loadgen.Generator
	timeline    *timeline
	plan        faultPlan
	live        *liveView
	console     *consoleFeed
}

func (l *run) run(ctx context.Context) (sum *Summary, err error) {
	cfg := l.cfg
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	work := cfg.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "azlens-up-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	}
	logs := cfg.Logs
	if logs == nil {
		f, err := os.Create(filepath.Join(work, "azlens.log"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logs = f
	}
	logs = &lockedWriter{w: logs}
	if l.plan, err = planFault(cfg); err != nil {
		return nil, err
	}
	l.live = newLiveView(l.view, cfg.Redraw)
	l.timeline = newTimeline(cfg.Scenario, cfg.Zones, func() []loadgen.ZoneStats {
		if l.load == nil {
			return nil
		}
		return l.load.Totals()
	})

	// Everything started is stopped in reverse order, whatever happens.
	var stops []func(context.Context)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i](stopCtx)
		}
	}()

	cp := NewControlPlane(ControlPlaneConfig{Function: cfg.Name, Zones: cfg.Zones, Alarms: l.timeline,
		InvocationTimeout: 3 * time.Second, Logger: l.log})
	l.shifts, l.experiments = cp.Shifts, cp.Experiments
	stops = append(stops, func(context.Context) { cp.Close() })

	// Bind the front door first: the collector's zonalshift exporter needs its address.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	l.addr = ln.Addr().String()
	stops = append(stops, func(context.Context) { ln.Close() })
	l.newConsole()
	fmt.Fprintf(l.view, "azlens up: web console http://%s%s/\n", l.addr, consolePath)

	// The collector before the region, so the agents' first batches have somewhere to go.
	for attempt := 1; ; attempt++ {
		l.collector, err = startCollector(ctx, cfg, work, logs, "http://"+l.addr, l.resource(), "http://"+l.addr+consolePath+"/otlp")
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || cfg.autoPorts == [3]bool{} || attempt == 3 {
			return nil, err
		}
		l.log.Warn("collector port taken between choosing and binding it; starting it again on new ports", "error", err)
		if err := cfg.pickPorts(); err != nil {
			return nil, err
		}
		l.cfg.CollectorPorts = cfg.CollectorPorts
		l.console.guards.url = cfg.CollectorPorts.metricsURL()
	}
	// SIGTERM (the collector drains its pipelines), SIGKILL if ctx ends first.
	stops = append(stops, func(ctx context.Context) { _ = l.collector.Stop(ctx) })
	l.setCollectorConfig(work)

	truth := groundtruth.New(cp.GroundTruth())
	rc := region.Config{
		Zones:          cfg.Zones,
		EnvsPerZone:    cfg.EnvsPerZone,
		AcquireTimeout: cfg.AcquireTimeout,
		Function: emulator.Function{
			Name:       cfg.Name,
			Runtime:    &emulator.ProcessRuntime{Path: cfg.Function},
			Extensions: agentExtension(cfg),
			Layers:     agentLayers(cfg),
			Env: map[string]string{
				"AZLENS_COLLECTOR_ENDPOINT": fmt.Sprintf("http://127.0.0.1:%d", cfg.CollectorPorts.Telemetry),
			},
		},
		Sandbox: emulator.SandboxConfig{LogOutput: logs, Logger: l.log,
			Network: cfg.Network, HostPorts: []int{cfg.CollectorPorts.Telemetry}},
		Observe: func(o region.Outcome) {
			truth.Observe(o)
			if cfg.Observe != nil {
				cfg.Observe(o)
			}
		},
		Logger: l.log,
	}
	cp.Wire(&rc)
	if l.region, err = region.New(rc); err != nil {
		return nil, err
	}
	fd := region.NewFrontDoor(l.log, l.region)
	cp.Serve(fd)
	fd.Mount(consolePath, l.consoleHandler())
	// The emulator's ground truth beside its APIs.
	fd.Handle("GET /metrics", truth.Handler())
	l.frontDoor = fd.Server()
	served := make(chan struct{})
	go func() { defer close(served); _ = l.frontDoor.Serve(ln) }()
	stops = append(stops, func(ctx context.Context) {
		// Region after the front door: in-flight invocations answer, then SHUTDOWN lets every
		// agent flush what it holds to the collector, which is stopped after (stops run
		// backwards, and the collector was started first).
		_ = l.frontDoor.Shutdown(ctx)
		<-served
		_ = fd.Wait(ctx)
		_ = l.region.Shutdown(ctx)
	})

	fmt.Fprintf(l.view, "azlens up: %d zones × %d environments of %q, azlens-agent in each; collector :%d; Invoke API http://%s\n",
		len(cfg.Zones), cfg.EnvsPerZone, cfg.Name, cfg.CollectorPorts.Telemetry, l.addr)
	if err := l.region.Start(ctx); err != nil {
		return nil, err
	}

	endpoint := "http://" + l.addr
	l.canaries, err = canary.New(canary.Config{
		Endpoint:       endpoint,
		Function:       cfg.Name,
		Region:         l.region.Name(),
		Zones:          cfg.Zones,
		Interval:       cfg.CanaryInterval,
		Timeout:        cfg.CanaryTimeout,
		LatencyBound:   cfg.CanaryLatencyBound,
		OTLPEndpoint:   fmt.Sprintf("http://127.0.0.1:%d", cfg.CollectorPorts.OTLP),
		ExportInterval: cfg.Timing.Tick,
		Logger:         l.log,
	})
	if err != nil {
		return nil, err
	}
	l.load, err = loadgen.New(loadgen.Config{
		Endpoint: endpoint,
		Function: cfg.Name,
		Rate:     cfg.Rate,
		Payload:  func(i int) []byte { return fmt.Appendf(nil, `{"name":"load-%d"}`, i) },
	})
	if err != nil {
		return nil, err
	}
	var workers sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	workers.Go(func() { _ = l.canaries.Run(loadCtx) })
	workers.Go(func() { l.load.Run(loadCtx) })
	stops = append(stops, func(context.Context) { stopLoad(); workers.Wait(); _ = l.canaries.Close() })

	shiftChanges, unsubscribe := l.shifts.Subscribe()
	stops = append(stops, func(context.Context) { unsubscribe() })

	start := time.Now()
	l.timeline.begin(start)
	fmt.Fprintf(l.view, "Invoke API on %s — load %.0f/s, canaries every %s per zone; %s\n",
		endpoint, cfg.Rate, cfg.CanaryInterval, l.plan)

	var faultAt <-chan time.Time
	if cfg.Scenario != "none" {
		faultAt = time.After(cfg.Warmup)
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	scrape := newScraper(cfg.CollectorPorts.metricsURL(), cfg.Name)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-faultAt:
			if err := l.startScenario(); err != nil {
				return nil, err
			}
		case <-shiftChanges:
			l.observeShifts()
		case <-tick.C:
			l.observeShifts()
			if det, err := scrape.alarmStates(ctx); err == nil {
				now := time.Now()
				l.timeline.observeAlarms(now, det.Alarms)
				l.timeline.observeBlocked(now, det.Blocked)
			} else if ctx.Err() == nil {
				l.log.Debug("scrape collector", "error", err)
			}
			elapsed, period := time.Since(start), l.load.Take()
			l.live.show(l.frame(elapsed, period))
			l.recordConsole(ctx, elapsed, period)
		}
	}
	stopLoad()
	workers.Wait()
	sum = l.timeline.summary(cfg.Scenario, cfg.FaultedZone, l.load.Totals())
	l.live.finish()
	l.timeline.print(l.view)
	if err := l.finishConsole(sum); err != nil {
		return sum, err
	}
	return sum, nil
}

// planFault is the run's fault as configured, with the zones its experiment template targets.
func planFault(cfg Config) (faultPlan, error) {
	p := faultPlan{Scenario: cfg.Scenario, At: cfg.Warmup, Duration: cfg.FaultDuration}
	if cfg.Scenario == experiment.ScenarioNone {
		return p, nil
	}
	tmpl, err := scenarioTemplate(cfg.Scenario, cfg.Zones, cfg.FaultedZone, cfg.FaultDuration, cfg.Timing)
	if err != nil {
		return p, err
	}
	targeted := map[string]bool{}
	for _, tg := range tmpl.Targets {
		for _, z := range tg.Zones {
			targeted[z] = true
		}
	}
	for _, z := range cfg.Zones {
		if targeted[z] {
			p.Zones = append(p.Zones, z)
		}
	}
	return p, nil
}

// String is the plan in the start-up line.
func (p faultPlan) String() string {
	if p.Scenario == experiment.ScenarioNone {
		return "no fault planned (--scenario none)"
	}
	d := "until the run ends"
	if p.Duration > 0 {
		d = "for " + p.Duration.String()
	}
	return fmt.Sprintf("scenario %s in %s at t=%s, %s", p.Scenario, strings.Join(p.Zones, " and "), p.At, d)
}

func (l *run) startScenario() error {
	tmpl, err := scenarioTemplate(l.cfg.Scenario, l.cfg.Zones, l.cfg.FaultedZone, l.cfg.FaultDuration, l.cfg.Timing)
	if err != nil {
		return err
	}
	created, err := l.experiments.CreateTemplate(tmpl)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", l.cfg.Scenario, err)
	}
	if _, err := l.experiments.StartExperiment(experiment.StartRequest{ExperimentTemplateID: created.ID}); err != nil {
		return fmt.Errorf("scenario %s: %w", l.cfg.Scenario, err)
	}
	l.timeline.faultStarted(time.Now(), l.cfg.Scenario, l.cfg.FaultedZone, l.cfg.FaultDuration)
	return nil
}

// observeShifts records weight changes, each at the time the shift service decided it: a zone
// shifted away at its lease's start.
func (l *run) observeShifts() {
	leases := map[string]time.Time{}
	active, err := l.shifts.List(zonalshift.ListFilter{Status: zonalshift.StatusActive, ResourceIdentifier: l.resource()})
	if err == nil {
		var held []Lease
		for _, s := range active {
			if s.AppliedStatus == zonalshift.Applied {
				leases[s.AwayFrom] = s.StartTime.Time
			}
			held = append(held, Lease{ID: s.ZonalShiftID, Zone: s.AwayFrom, Start: s.StartTime.Time, Expiry: s.ExpiryTime.Time})
		}
		l.timeline.observeLeases(time.Now(), held)
	}
	l.timeline.observeWeights(time.Now(), l.shifts.Weights(l.resource(), l.cfg.Zones), leases)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lockedWriter serialises writes from the many processes' log copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// agentExtension and agentLayers run the agent either from its layer, as shipped, or as a plain
// executable.
func agentExtension(cfg Config) []emulator.Extension {
	if cfg.AgentLayer != "" {
		return nil
	}
	return []emulator.Extension{&emulator.ProcessExtension{Path: cfg.Agent}}
}

func agentLayers(cfg Config) []string {
	if cfg.AgentLayer == "" {
		return nil
	}
	return []string{cfg.AgentLayer}
}

// resource is the zonal shift resource identifier of the loop's function: its ARN, as ARC names
// resources (and as the AWS CLI insists, checking the identifier's length), so that
// `aws arc-zonal-shift … --endpoint-url` can address it. The collector maps the function to it.
func (l *run) resource() string {
	return FunctionARN(l.cfg.Name)
}
