package loop

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/azlens/azlens/internal/console"
	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/loadgen"
)

// consolePath is where the web console is mounted on the front door.
const consolePath = "/ui"

// consoleFeed connects the run to its web console: what the loop observes each view period goes
// to console.Record, and the guard counters come from the collector's Prometheus exporter.
type consoleFeed struct {
	c        *console.Console
	guards   *guardScraper
	reported map[string]console.Guard
	// guardEvents are timeline entries for guard counters that rose, merged into the loop's.
	guardEvents []console.Event
	// guardsAt is when the guard counters were last scraped: guards block rarely, so every
	// guardPeriod is enough and spares the collector a second scrape each view period.
	guardsAt time.Time
}

const guardPeriod = 5 * time.Second

// promShiftBlocked is contract.MetricAZShiftBlocked as the Prometheus exporter names it.
var promShiftBlocked = strings.ReplaceAll(contract.MetricAZShiftBlocked, ".", "_")

func (l *run) newConsole() {
	cfg := l.cfg
	d := func(v time.Duration) string {
		if v == 0 {
			return "0 (until the run ends)"
		}
		return v.String()
	}
	settings := []console.Setting{
		{Name: "function", Value: cfg.Name},
		{Name: "zones", Value: strings.Join(cfg.Zones, ", ")},
		{Name: "environments per zone", Value: fmt.Sprint(cfg.EnvsPerZone)},
		{Name: "user load", Value: fmt.Sprintf("%g invocations/s over all zones", cfg.Rate)},
		{Name: "canary interval per zone", Value: cfg.CanaryInterval.String()},
		{Name: "scenario", Value: cfg.Scenario},
		{Name: "faulted zone", Value: cfg.FaultedZone},
		{Name: "warm-up before the fault", Value: cfg.Warmup.String()},
		{Name: "fault duration", Value: d(cfg.FaultDuration)},
		{Name: "run duration", Value: d(cfg.Duration)},
		{Name: "detector tick", Value: cfg.Timing.Tick.String()},
		{Name: "detector windows (short / long)", Value: cfg.Timing.ShortWindow.String() + " / " + cfg.Timing.LongWindow.String()},
		{Name: "shift lease", Value: cfg.Timing.Lease.String()},
		{Name: "minimum evacuation", Value: cfg.Timing.MinEvacuation.String()},
		{Name: "fail-back stage", Value: cfg.Timing.FailbackStageDuration.String()},
		{Name: "zone change cooldown", Value: cfg.Timing.ZoneChangeCooldown.String()},
		{Name: "view period", Value: cfg.Interval.String()},
	}
	l.console = &consoleFeed{
		c: console.New(console.Config{
			Function: cfg.Name, Resource: l.resource(), Zones: cfg.Zones, Scenario: cfg.Scenario, FaultedZone: cfg.FaultedZone,
			Scenarios: ScenarioNames(), Settings: settings, Interval: cfg.Interval,
		}),
		guards:   &guardScraper{url: cfg.CollectorPorts.metricsURL(), client: &http.Client{Timeout: 5 * time.Second}},
		reported: map[string]console.Guard{},
	}
}

// consoleHandler is the console on the front door; its experiment form builds templates as
// `azlens experiment start --scenario` does.
func (l *run) consoleHandler() http.Handler {
	return l.console.c.Handler(l.log, func(name, zone string, d time.Duration) (any, error) {
		return scenarioTemplate(name, l.cfg.Zones, zone, d, l.cfg.Timing)
	})
}

// setCollectorConfig shows the collector's configuration of this run in the console and report.
func (l *run) setCollectorConfig(work string) {
	if b, err := os.ReadFile(filepath.Join(work, "collector.yaml")); err == nil {
		l.console.c.SetCollectorConfig(string(b))
	}
}

// recordConsole hands one view period to the console.
func (l *run) recordConsole(ctx context.Context, elapsed time.Duration, period []loadgen.ZoneStats) {
	alarm, weight := l.timeline.states()
	byZone := map[string]loadgen.ZoneStats{}
	for _, z := range period {
		byZone[z.Zone] = z
	}
	f := console.Frame{At: round1(elapsed.Seconds())}
	canaries := map[string]console.ZoneFrame{}
	for _, r := range l.canaries.Results() {
		canaries[r.Zone] = console.ZoneFrame{CanaryOK: r.Success, CanaryTotal: r.Total(), CanaryLast: string(r.Last)}
	}
	for _, zid := range l.cfg.Zones {
		z := byZone[zid]
		n := z.Total()
		zf := canaries[zid]
		zf.Zone = zid
		zf.Rate = float64(n) / l.cfg.Interval.Seconds()
		if n > 0 {
			zf.ErrorPct = 100 * float64(n-z.Count[loadgen.Success]) / float64(n)
			zf.P50ms = float64(z.Quantile(0.5).Microseconds()) / 1000
			zf.P99ms = float64(z.Quantile(0.99).Microseconds()) / 1000
		}
		zf.Alarm, zf.Weight = alarm[zid], weight[zid]
		f.Zones = append(f.Zones, zf)
	}
	if time.Since(l.console.guardsAt) >= guardPeriod {
		l.console.guardsAt = time.Now()
		l.scrapeGuards(ctx, f.At)
	}
	guards := make([]console.Guard, 0, len(l.console.reported))
	for _, g := range l.console.reported {
		guards = append(guards, g)
	}
	slices.SortFunc(guards, func(a, b console.Guard) int { return strings.Compare(a.Reason, b.Reason) })

	sum := l.timeline.summary(l.cfg.Scenario, l.cfg.FaultedZone, l.load.Totals())
	l.console.c.Record(f, l.consoleEvents(sum.Timeline), guards, sum)
}

// scrapeGuards reads the guard counters and adds a timeline entry for each that rose.
func (l *run) scrapeGuards(ctx context.Context, at float64) {
	counts, err := l.console.guards.blocked(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Debug("scrape guard decisions", "error", err)
		}
		return
	}
	for reason, n := range counts {
		if g, ok := l.console.reported[reason]; !ok || n > g.Blocked {
			l.console.reported[reason] = console.Guard{Reason: reason, Blocked: n, At: at}
			l.console.guardEvents = append(l.console.guardEvents, console.Event{At: at,
				Event: "guard blocked a shift", Detail: fmt.Sprintf("%s (+%d, %d in all)", reason, n-g.Blocked, n)})
		}
	}
}

// consoleEvents is the loop's timeline with the guard entries merged in time order.
func (l *run) consoleEvents(evs []Event) []console.Event {
	out := make([]console.Event, 0, len(evs)+len(l.console.guardEvents))
	for _, e := range evs {
		out = append(out, console.Event{At: e.At, Event: e.Event, Zone: e.Zone, Detail: e.Detail})
	}
	out = append(out, l.console.guardEvents...)
	slices.SortStableFunc(out, func(a, b console.Event) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	return out
}

// finishConsole records the final summary and writes the report if one was asked for.
func (l *run) finishConsole(sum *Summary) error {
	l.console.c.Finish(sum, l.consoleEvents(sum.Timeline))
	if l.cfg.Report == "" {
		return nil
	}
	if err := l.console.c.WriteReportFile(l.cfg.Report); err != nil {
		return err
	}
	fmt.Fprintf(l.view, "report written to %s\n", l.cfg.Report)
	return nil
}

// guardScraper reads azlens_az_shift_blocked (decisions a guard blocked, by reason) from the
// collector's Prometheus exporter.
type guardScraper struct {
	url    string
	client *http.Client
}

func (s *guardScraper) blocked(ctx context.Context) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", s.url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	out := map[string]int64{}
	for name, fam := range families {
		// The exporter may add unit and _total suffixes to the metric's name.
		if !strings.HasPrefix(name, promShiftBlocked) {
			continue
		}
		for _, m := range fam.GetMetric() {
			reason := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" {
					reason = lp.GetValue()
				}
			}
			v := m.GetCounter().GetValue()
			if m.GetCounter() == nil {
				v = m.GetUntyped().GetValue()
			}
			out[reason] += int64(v)
		}
	}
	return out, nil
}
