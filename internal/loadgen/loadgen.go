// Package loadgen drives steady open-loop traffic at the emulator's Invoke API and keeps per-zone
// outcome counts and latencies, as the client side sees them. It is what `azlens up` and the
// benchmarks use for load, and its counts are the requester's view a zone's own telemetry cannot
// give when the zone is down.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/azlens/azlens/internal/contract"
)

// Outcome of one invocation as the caller sees it.
type Outcome int

// Outcomes.
const (
	Success       Outcome = iota // 200 without X-Amz-Function-Error
	FunctionError                // 200 with X-Amz-Function-Error
	Throttled                    // 429
	Failed                       // any other status or a transport error
)

// Config of a Generator.
type Config struct {
	// Endpoint is the front door's base URL, e.g. "http://127.0.0.1:9001".
	Endpoint string
	// Function is the function name to invoke.
	Function string
	// Rate is invocations per second (open loop: arrivals do not wait for answers). Must be > 0.
	Rate float64
	// Payload returns the body of the i-th invocation. Nil means "{}".
	Payload func(i int) []byte
	// Zone pins every invocation to one zone (a canary). Empty lets the router choose.
	Zone string
	// MaxInFlight bounds concurrent requests; arrivals beyond it count as Failed. Zero means 256.
	MaxInFlight int
	// Client sends the requests. Nil means a client with a 30 s timeout.
	Client *http.Client
}

// ZoneStats is what one zone answered in a period.
type ZoneStats struct {
	Zone      string
	Count     [4]int64 // by Outcome
	Latencies []time.Duration
}

// Total is the number of answered invocations.
func (z ZoneStats) Total() int64 { return z.Count[0] + z.Count[1] + z.Count[2] + z.Count[3] }

// Quantile of the period's latencies (0 when there are none).
func (z ZoneStats) Quantile(q float64) time.Duration {
	if len(z.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(z.Latencies)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[i]
}

// Generator sends invocations at a steady rate until its context ends.
type Generator struct {
	cfg    Config
	url    string
	mu     sync.Mutex
	period map[string]*ZoneStats // since the last Take
	total  map[string]*ZoneStats // since start (no latencies)
	sent   int
}

// unrouted is the zone key of answers that carry no zone header (throttles, transport errors).
const unrouted = "-"

// New validates cfg.
func New(cfg Config) (*Generator, error) {
	if cfg.Rate <= 0 {
		return nil, fmt.Errorf("rate must be positive, got %g", cfg.Rate)
	}
	if cfg.Endpoint == "" || cfg.Function == "" {
		return nil, fmt.Errorf("endpoint and function are required")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Generator{
		cfg:    cfg,
		url:    cfg.Endpoint + "/2015-03-31/functions/" + cfg.Function + "/invocations",
		period: map[string]*ZoneStats{},
		total:  map[string]*ZoneStats{},
	}, nil
}

// Run sends invocations until ctx ends, then waits for the ones in flight.
func (g *Generator) Run(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / g.cfg.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sem := make(chan struct{}, g.cfg.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			g.record(unrouted, Failed, 0)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			g.invokeOnce(i)
		})
	}
}

func (g *Generator) invokeOnce(i int) {
	body := []byte("{}")
	if g.cfg.Payload != nil {
		body = g.cfg.Payload(i)
	}
	// Requests are not tied to Run's context: an invocation already sent is answered, so counts
	// stay whole at shutdown.
	req, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		g.record(unrouted, Failed, 0)
		return
	}
	if g.cfg.Zone != "" {
		req.Header.Set(contract.HeaderZone, g.cfg.Zone)
	}
	start := time.Now()
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		zone := unrouted
		if g.cfg.Zone != "" {
			zone = g.cfg.Zone
		}
		g.record(zone, Failed, time.Since(start))
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	zone := resp.Header.Get(contract.HeaderZone)
	if zone == "" {
		zone = unrouted
		if g.cfg.Zone != "" {
			zone = g.cfg.Zone
		}
	}
	switch {
	case resp.StatusCode == http.StatusOK && resp.Header.Get("X-Amz-Function-Error") == "":
		g.record(zone, Success, lat)
	case resp.StatusCode == http.StatusOK:
		g.record(zone, FunctionError, lat)
	case resp.StatusCode == http.StatusTooManyRequests:
		g.record(zone, Throttled, lat)
	default:
		g.record(zone, Failed, lat)
	}
}

func (g *Generator) record(zone string, o Outcome, lat time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sent++
	for _, m := range []map[string]*ZoneStats{g.period, g.total} {
		z := m[zone]
		if z == nil {
			z = &ZoneStats{Zone: zone}
			m[zone] = z
		}
		z.Count[o]++
	}
	if o != Throttled && len(g.period[zone].Latencies) < 100_000 {
		g.period[zone].Latencies = append(g.period[zone].Latencies, lat)
	}
}

// Take returns what each zone answered since the previous Take, sorted by zone, and starts a new
// period.
func (g *Generator) Take() []ZoneStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := sortedStats(g.period, true)
	g.period = map[string]*ZoneStats{}
	return out
}

// Totals returns the counts since start, sorted by zone (no latencies).
func (g *Generator) Totals() []ZoneStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return sortedStats(g.total, false)
}

func sortedStats(m map[string]*ZoneStats, withLatency bool) []ZoneStats {
	out := make([]ZoneStats, 0, len(m))
	for _, z := range m {
		c := *z
		if !withLatency {
			c.Latencies = nil
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ZoneStats) int {
		switch {
		case a.Zone < b.Zone:
			return -1
		case a.Zone > b.Zone:
			return 1
		}
		return 0
	})
	return out
}
