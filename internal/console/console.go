// Package console is the web console of `azlens up`: a page on the front door (/ui/) that shows
// the run while it goes on — per-zone charts, the zones' states, the timeline, guard decisions,
// recent invocations as trace waterfalls, and forms that call the zonal shift and experiment APIs —
// and the rehearsal report, one self-contained HTML file of the whole run.
//
// The loop feeds it through Record (one Frame per view period) and Finish (the run's summary); the
// collector feeds it traces through an OTLP/HTTP endpoint. The page polls /ui/api/state: no build
// step, no connection held open per tab, and the same JSON is what the report embeds.
//
// Charts are drawn in the browser by uPlot (MIT, 50 KB, no dependencies), vendored from npm into
// assets/vendor/uplot by scripts/vendor-uplot.sh, rather than as SVG rendered here: the live page
// then redraws from the polled numbers without a server round trip per chart, the cursor reads
// values off every series, and the report is the same page with the same script inlined, so the
// two cannot drift apart.
package console

import (
	"encoding/json"
	"sync"
	"time"
)

// Config describes the run the console shows.
type Config struct {
	// Function is the function's name.
	Function string
	// Resource is the function's zonal shift resource identifier (its ARN in azlens up); empty
	// means the name.
	Resource string
	// Zones are the AZ IDs, in display order.
	Zones []string
	// Scenario and FaultedZone are the fault scenario of the run ("none" for none).
	Scenario    string
	FaultedZone string
	// Scenarios are the names the experiment form offers.
	Scenarios []string
	// Settings are the configuration of the run, shown and written to the report as given.
	Settings []Setting
	// CollectorConfig is the collector's YAML, shown in the report.
	CollectorConfig string
	// Interval is the loop's view period: the page polls at it.
	Interval time.Duration
	// MaxFrames bounds the history kept for the charts and the report. Zero means 20000
	// (11 hours at 2 s); past it every other old frame is dropped, so a long run keeps its
	// whole span at a coarser step.
	MaxFrames int
	// MaxTraces bounds the trace buffer per zone. Zero means 20.
	MaxTraces int
}

// Setting is one configuration value of the run.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Frame is one view period of the run.
type Frame struct {
	At    float64     `json:"t"` // seconds since the load started
	Zones []ZoneFrame `json:"zones"`
}

// ZoneFrame is one zone's figures over one period.
type ZoneFrame struct {
	Zone string `json:"zone"`
	// Rate is user invocations per second; ErrorPct the share that did not succeed.
	Rate     float64 `json:"rate"`
	ErrorPct float64 `json:"error_pct"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CanaryOK and CanaryTotal are cumulative canary results; CanaryLast the last outcome.
	CanaryOK    uint64 `json:"canary_ok"`
	CanaryTotal uint64 `json:"canary_total"`
	CanaryLast  string `json:"canary_last,omitempty"`
	// Alarm is the detector's state: 0 OK, 1 PENDING, 2 ALARM.
	Alarm int `json:"alarm"`
	// Weight is the share of its traffic the zone receives (0 when shifted away).
	Weight float64 `json:"weight"`
}

// Event is one timeline entry.
type Event struct {
	At     float64 `json:"t_s"`
	Event  string  `json:"event"`
	Zone   string  `json:"zone,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// Guard is how often a guard blocked a shift decision, cumulative.
type Guard struct {
	Reason  string  `json:"reason"`
	Blocked int64   `json:"blocked"`
	At      float64 `json:"t_s"` // when the count last rose
}

// Console keeps the run's history and serves it.
type Console struct {
	cfg     Config
	started time.Time
	traces  *traceBuffer

	mu      sync.Mutex
	frames  []Frame
	seq     int // frames recorded so far, for ?since
	halved  int // seq when the history was last halved: older sequence numbers are gone
	events  []Event
	guards  []Guard
	summary json.RawMessage
	done    bool
}

// New returns a console for the run cfg describes.
func New(cfg Config) *Console {
	if cfg.MaxFrames <= 0 {
		cfg.MaxFrames = 20000
	}
	if cfg.MaxTraces <= 0 {
		cfg.MaxTraces = 20
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	return &Console{cfg: cfg, started: time.Now(), traces: newTraceBuffer(cfg.Zones, cfg.MaxTraces)}
}

// Record adds one period: its frame, the whole timeline so far, the guard counters and the
// summary so far (any JSON value; the page reads the loop's summary keys).
func (c *Console) Record(f Frame, events []Event, guards []Guard, summary any) {
	b, _ := json.Marshal(summary)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
	c.seq++
	if len(c.frames) > c.cfg.MaxFrames {
		// Halve the history: keep every other frame, and the newest.
		kept := c.frames[:0]
		for i, fr := range c.frames {
			if i%2 == 0 || i == len(c.frames)-1 {
				kept = append(kept, fr)
			}
		}
		c.frames = kept
		c.halved = c.seq
	}
	c.events = append(c.events[:0], events...)
	c.guards = append(c.guards[:0], guards...)
	if len(b) > 0 && string(b) != "null" {
		c.summary = b
	}
}

// Finish records the run's final summary and timeline: the page then stops polling.
func (c *Console) Finish(summary any, events []Event) {
	b, _ := json.Marshal(summary)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary = b
	c.events = append(c.events[:0], events...)
	c.done = true
}

// SetCollectorConfig records the collector's configuration of the run, for the report.
func (c *Console) SetCollectorConfig(yaml string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.CollectorConfig = yaml
}

// State is what the page polls and the report embeds.
type State struct {
	Run     RunInfo         `json:"run"`
	Seq     int             `json:"seq"` // frames recorded so far; ?since=Seq returns only newer ones
	Reset   bool            `json:"reset,omitempty"`
	Frames  []Frame         `json:"frames"`
	Events  []Event         `json:"events"`
	Guards  []Guard         `json:"guards"`
	Summary json.RawMessage `json:"summary,omitempty"`
	Done    bool            `json:"done"`
}

// RunInfo is the run's description.
type RunInfo struct {
	Function        string    `json:"function"`
	Resource        string    `json:"resource,omitempty"`
	Zones           []string  `json:"zones"`
	Scenario        string    `json:"scenario"`
	FaultedZone     string    `json:"faulted_zone"`
	Scenarios       []string  `json:"scenarios"`
	Settings        []Setting `json:"settings"`
	CollectorConfig string    `json:"collector_config,omitempty"`
	IntervalMs      int64     `json:"interval_ms"`
	Started         time.Time `json:"started"`
}

// state returns the frames recorded after since (all when since is 0 or the history was
// decimated since then).
func (c *Console) state(since int) State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{
		Run: RunInfo{
			Function: c.cfg.Function, Resource: c.cfg.Resource, Zones: c.cfg.Zones, Scenario: c.cfg.Scenario, FaultedZone: c.cfg.FaultedZone,
			Scenarios: c.cfg.Scenarios, Settings: c.cfg.Settings, CollectorConfig: c.cfg.CollectorConfig,
			IntervalMs: c.cfg.Interval.Milliseconds(), Started: c.started,
		},
		Seq:     c.seq,
		Events:  append([]Event{}, c.events...),
		Guards:  append([]Guard{}, c.guards...),
		Summary: c.summary,
		Done:    c.done,
	}
	// Frames recorded after the last halving are all kept, at the end of the history.
	if since > 0 && since <= c.seq && since >= c.halved {
		s.Frames = append([]Frame{}, c.frames[len(c.frames)-(c.seq-since):]...)
	} else {
		s.Reset = since > 0
		s.Frames = append([]Frame{}, c.frames...)
	}
	return s
}
