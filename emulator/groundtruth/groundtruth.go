// Package groundtruth exports what the emulator really did — invocations by outcome, throttles,
// cold starts and resets per zone and environment, the router's weights, the applied zonal shift
// and the faults experiments inject — as Prometheus metrics on a registry of its own (never the
// global one), so a dashboard can put what azlens detected beside what actually happened.
//
// Labels follow the collector's exported names (faas_name, cloud_availability_zone, faas_instance),
// so one PromQL join or one dashboard variable covers both.
package groundtruth

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/zonalshift"
)

// Metric names, all under azlens_emulator_ so they never collide with what the collector exports.
const (
	InvocationsMetric  = "azlens_emulator_invocations_total"
	ThrottlesMetric    = "azlens_emulator_throttles_total"
	ColdStartsMetric   = "azlens_emulator_coldstarts_total"
	ResetsMetric       = "azlens_emulator_resets_total"
	RouterWeightMetric = "azlens_emulator_router_weight"
	ZoneShiftedMetric  = "azlens_emulator_zonal_shift_active"
	ZoneFaultedMetric  = "azlens_emulator_zone_faulted"
	FaultMetric        = "azlens_emulator_experiment_fault"
)

// Config names what the metrics read besides the invocations they are told about.
type Config struct {
	// Function is the function name (faas_name). Required.
	Function string
	// Zones are the region's zones, in order; every per-zone gauge has a series for each.
	Zones []string
	// Weights returns the router's share of new invocations per zone now. Nil exports no weights.
	Weights func() map[string]float64
	// Shifts is the zonal shift service; nil exports every zone as not shifted.
	Shifts *zonalshift.Service
	// ShiftResource is the resource identifier shifts are started on. Empty means Function.
	ShiftResource string
	// Experiments is the fault injection service; nil exports every zone as not faulted.
	Experiments *experiment.Service
}

// Metrics is the ground truth of one function's region.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry

	invocations *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	coldStarts  *prometheus.CounterVec
	resets      *prometheus.CounterVec

	mu      sync.Mutex
	seenEnv map[string]bool // environments that have had their first cold start
}

// New registers the metrics on a new registry.
func New(cfg Config) *Metrics {
	if cfg.ShiftResource == "" {
		cfg.ShiftResource = cfg.Function
	}
	m := &Metrics{cfg: cfg, reg: prometheus.NewRegistry(), seenEnv: map[string]bool{}}
	constLabels := prometheus.Labels{"faas_name": cfg.Function}
	envLabels := []string{"cloud_availability_zone", "faas_instance"}
	m.invocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        InvocationsMetric,
		Help:        "Invocations an execution environment took, by outcome: success, error (function error), timeout, failure (the environment failed before the function answered).",
		ConstLabels: constLabels,
	}, append(envLabels, "outcome"))
	m.throttles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        ThrottlesMetric,
		Help:        "Invocations answered 429 because no environment became free; the zone is the pinned one, empty when the router could choose any.",
		ConstLabels: constLabels,
	}, []string{"cloud_availability_zone"})
	m.coldStarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        ColdStartsMetric,
		Help:        "Invocations that ran init first: an environment's first, and its first after every reset.",
		ConstLabels: constLabels,
	}, envLabels)
	m.resets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        ResetsMetric,
		Help:        "Environment resets (timeout, crash, init failure) seen as the re-init of the next invocation.",
		ConstLabels: constLabels,
	}, envLabels)
	// Every zone's throttle series exists from the start, so a query for it is never empty.
	for _, z := range cfg.Zones {
		m.throttles.WithLabelValues(z)
	}
	m.reg.MustRegister(m.invocations, m.throttles, m.coldStarts, m.resets, &stateCollector{m})
	return m
}

// Observe records one invocation's outcome; give it as region.Config.Observe.
func (m *Metrics) Observe(o region.Outcome) {
	if o.Status == region.OutcomeThrottled {
		m.throttles.WithLabelValues(o.Zone).Inc()
		return
	}
	m.invocations.WithLabelValues(o.Zone, o.Environment, o.Status).Inc()
	if !o.ColdStart {
		// The environment's series exist from its first invocation on.
		m.coldStarts.WithLabelValues(o.Zone, o.Environment)
		m.resets.WithLabelValues(o.Zone, o.Environment)
		return
	}
	m.coldStarts.WithLabelValues(o.Zone, o.Environment).Inc()
	m.mu.Lock()
	reinit := m.seenEnv[o.Environment]
	m.seenEnv[o.Environment] = true
	m.mu.Unlock()
	r := m.resets.WithLabelValues(o.Zone, o.Environment)
	if reinit {
		r.Inc()
	}
}

// Registry is the metrics' own registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// stateCollector reads the router, shift and experiment state at scrape time.
type stateCollector struct{ m *Metrics }

var (
	weightDesc = prometheus.NewDesc(RouterWeightMetric,
		"Share of new invocations the router gives the zone now (0 while shifted away).",
		[]string{"faas_name", "cloud_availability_zone"}, nil)
	shiftedDesc = prometheus.NewDesc(ZoneShiftedMetric,
		"1 while an applied zonal shift moves traffic away from the zone, else 0.",
		[]string{"faas_name", "cloud_availability_zone"}, nil)
	faultedDesc = prometheus.NewDesc(ZoneFaultedMetric,
		"1 while a running experiment action injects a fault into the zone, else 0.",
		[]string{"faas_name", "cloud_availability_zone"}, nil)
	faultDesc = prometheus.NewDesc(FaultMetric,
		"1 for each running experiment action and zone it injects into (action is the FIS action id, e.g. azlens:invoke:inject-error).",
		[]string{"faas_name", "cloud_availability_zone", "experiment_id", "action"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- weightDesc
	ch <- shiftedDesc
	ch <- faultedDesc
	ch <- faultDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.m.cfg
	fn := cfg.Function
	if cfg.Weights != nil {
		w := cfg.Weights()
		for _, z := range cfg.Zones {
			ch <- prometheus.MustNewConstMetric(weightDesc, prometheus.GaugeValue, w[z], fn, z)
		}
	}
	shifted := map[string]bool{}
	if cfg.Shifts != nil {
		active, err := cfg.Shifts.List(zonalshift.ListFilter{Status: zonalshift.StatusActive, ResourceIdentifier: cfg.ShiftResource})
		if err == nil {
			for _, s := range active {
				if s.AppliedStatus == zonalshift.Applied {
					shifted[s.AwayFrom] = true
				}
			}
		}
	}
	faulted := map[string]bool{}
	sent := map[[3]string]bool{}
	if cfg.Experiments != nil {
		for _, e := range cfg.Experiments.Experiments() {
			if e.State.Status != experiment.StatusRunning {
				continue
			}
			for _, a := range e.Actions {
				if a.State.Status != experiment.ActionRunning {
					continue
				}
				for _, target := range a.Targets {
					t, ok := e.Targets[target]
					if !ok {
						continue
					}
					for _, z := range t.ResolvedZones {
						faulted[z] = true
						k := [3]string{z, e.ID, a.ActionID}
						if !sent[k] { // an action naming two targets over one zone is one series
							sent[k] = true
							ch <- prometheus.MustNewConstMetric(faultDesc, prometheus.GaugeValue, 1, fn, z, e.ID, a.ActionID)
						}
					}
				}
			}
		}
	}
	for _, z := range cfg.Zones {
		ch <- prometheus.MustNewConstMetric(shiftedDesc, prometheus.GaugeValue, boolValue(shifted[z]), fn, z)
		ch <- prometheus.MustNewConstMetric(faultedDesc, prometheus.GaugeValue, boolValue(faulted[z]), fn, z)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
