package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/internal/clock"
	"github.com/azlens/azlens/internal/contract"
)

// Defaults of Config's zero values.
const (
	defaultRegion         = "us-east-1"
	defaultInterval       = time.Second
	defaultTimeout        = 5 * time.Second
	defaultExportInterval = 10 * time.Second
	// maxAnswerBytes bounds how much of an answer is read to classify it.
	maxAnswerBytes = 64 << 10
)

// Payload is the body of every canary invocation; functions and the collector tell canaries from
// user traffic by it (and by the X-Azlens-Canary header).
const Payload = `{"azlens_canary":true}`

// Headers of a canary invocation.
const (
	HeaderZone   = contract.HeaderZone
	HeaderCanary = contract.HeaderCanary
)

// Outcome classifies one canary invocation.
type Outcome string

// Outcomes, as the azlens.canary.invocations metric's outcome attribute spells them.
const (
	// Success: 200 without X-Amz-Function-Error.
	Success Outcome = "success"
	// Error: 200 with X-Amz-Function-Error (the function, or the sandbox, failed).
	Error Outcome = "error"
	// Timeout: no answer within Config.Timeout, or a function error saying the invocation timed
	// out.
	Timeout Outcome = "timeout"
	// Failure: any other status, or a transport error (refused, reset).
	Failure Outcome = "failure"
	// Slow: a success that took longer than Config.LatencyBound. A canary run over its time bound
	// fails, as a CloudWatch Synthetics canary does: a zone that answers, but late, is not healthy.
	Slow Outcome = contract.OutcomeSlow
)

// Outcomes lists every outcome, in the order they are exported.
var Outcomes = []Outcome{Success, Error, Timeout, Failure, Slow}

// Config configures a Runner.
type Config struct {
	// Endpoint is the base URL of the front door's Invoke API, e.g. "http://127.0.0.1:9001".
	// Required.
	Endpoint string
	// Function is the name of the function invoked. Required.
	Function string
	// Zones are the zone IDs probed, each at Interval. Required.
	Zones []string
	// Region is the cloud.region resource attribute. Empty means "us-east-1".
	Region string
	// Interval is the time between two canaries to the same zone. Zero means 1s.
	Interval time.Duration
	// Timeout bounds one canary invocation, and one export. Zero means 5s.
	Timeout time.Duration
	// LatencyBound fails a canary that answered successfully but later than this (outcome
	// slow). Zero means no bound: only Timeout limits a canary.
	LatencyBound time.Duration
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, e.g. "http://127.0.0.1:4318"; metrics
	// go to {OTLPEndpoint}/v1/metrics. Empty means no export (Results still work).
	OTLPEndpoint string
	// ExportInterval is the time between two exports. Zero means 10s.
	ExportInterval time.Duration
	// Clock paces canaries and exports and bounds each request. Nil means the wall clock; tests
	// pass the fake in package internal/clock/clocktest so that ticks and timeouts happen when
	// the test says, not after real waiting.
	Clock clock.Clock
	// Client sends invocations and exports. Nil means a client of its own, closed by Close.
	Client *http.Client
	// Logger logs export failures (the first one, and recovery). Nil means discard.
	Logger *slog.Logger
	// OnOutcome, when set, is called after every canary invocation (from the zone's goroutine;
	// it must not block for long), e.g. to refresh a live view.
	OnOutcome func(ZoneResult)
	// OnExport, when set, is called after every export attempt with its error.
	OnExport func(error)
}

// ZoneResult is a zone's cumulative canary counts and its latest canary.
type ZoneResult struct {
	Zone    string
	Success uint64
	Error   uint64
	Timeout uint64
	Failure uint64
	Slow    uint64
	// Latency is the histogram of every counted canary's latency (until its answer or its
	// timeout), by outcome.
	Latency map[Outcome]*Histogram
	// Last is the latest canary's outcome; empty before the first one.
	Last Outcome
	// LastDetail says why the latest canary was not a success: the error type, the status, or
	// the transport error.
	LastDetail string
	// LastLatency is how long the latest canary took.
	LastLatency time.Duration
	// LastTime is when the latest canary ended.
	LastTime time.Time
}

// Total is the number of canaries counted.
func (r ZoneResult) Total() uint64 { return r.Success + r.Error + r.Timeout + r.Failure + r.Slow }

// Count returns the count of one outcome.
func (r ZoneResult) Count(o Outcome) uint64 {
	switch o {
	case Success:
		return r.Success
	case Error:
		return r.Error
	case Timeout:
		return r.Timeout
	case Failure:
		return r.Failure
	case Slow:
		return r.Slow
	}
	return 0
}

// ExportStats counts exports to the collector.
type ExportStats struct {
	Exports  uint64
	Failures uint64
	// LastError is the latest failure's text; empty after a success.
	LastError string
}

// Runner sends canaries to every zone and exports their counts.
type Runner struct {
	cfg       Config
	invokeURL string
	exportURL string
	clock     clock.Clock
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	start     time.Time // the counters' start time

	loops sync.WaitGroup

	mu      sync.Mutex
	results map[string]*ZoneResult
	exports ExportStats
	started bool
	closed  bool
	stop    context.CancelFunc
}

// New validates cfg and returns a runner; nothing is sent before Start (or Run).
func New(cfg Config) (*Runner, error) {
	base, err := parseBaseURL("endpoint", cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Function == "" {
		return nil, errors.New("function: is required")
	}
	if len(cfg.Zones) == 0 {
		return nil, errors.New("zones: at least one zone is required")
	}
	for i, z := range cfg.Zones {
		if z == "" || strings.ContainsAny(z, " \t\r\n") {
			return nil, fmt.Errorf("zones[%d]: %q is not a zone ID", i, z)
		}
		if slices.Index(cfg.Zones, z) != i {
			return nil, fmt.Errorf("zones[%d]: zone %q is listed twice", i, z)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", cfg.Interval}, {"timeout", cfg.Timeout}, {"export_interval", cfg.ExportInterval}, {"latency_bound", cfg.LatencyBound}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s: must not be negative, got %s", d.name, d.v)
		}
	}
	r := &Runner{cfg: cfg, clock: cfg.Clock, client: cfg.Client, log: cfg.Logger, results: map[string]*ZoneResult{}}
	r.cfg.Zones = slices.Clone(cfg.Zones)
	r.invokeURL = base + "/2015-03-31/functions/" + url.PathEscape(cfg.Function) + "/invocations"
	if cfg.OTLPEndpoint != "" {
		otlp, err := parseBaseURL("otlp_endpoint", cfg.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		r.exportURL = otlp + "/v1/metrics"
	}
	if r.cfg.Region == "" {
		r.cfg.Region = defaultRegion
	}
	if r.cfg.Interval == 0 {
		r.cfg.Interval = defaultInterval
	}
	if r.cfg.Timeout == 0 {
		r.cfg.Timeout = defaultTimeout
	}
	if r.cfg.ExportInterval == 0 {
		r.cfg.ExportInterval = defaultExportInterval
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.client == nil {
		r.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		r.ownClient = true
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, z := range r.cfg.Zones {
		r.results[z] = &ZoneResult{Zone: z, Latency: map[Outcome]*Histogram{}}
	}
	r.start = r.clock.Now() // the counters' start time
	return r, nil
}

func parseBaseURL(field, s string) (string, error) {
	u, err := url.Parse(s)
	if s == "" {
		return "", fmt.Errorf("%s: is required", field)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: %q is not an http or https URL", field, s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// Run sends canaries until ctx ends, then stops as Close does. A Runner runs once.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return r.Close()
}

// Start begins sending canaries to every zone at Interval and exporting their counts every
// ExportInterval, until ctx ends or Close. It returns at once; its tickers exist when it does.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return errors.New("canary runner: already started")
	}
	r.started = true
	ctx, r.stop = context.WithCancel(ctx)
	// Canaries keep their schedule whatever the zone does: a slow zone must not slow its own
	// canaries down to below the detector's volume gate. In flight per zone: enough to cover the
	// latency bound (else the timeout); a tick that finds them all still out is itself a canary
	// over its bound, counted slow (timeout without a bound), not a silent gap.
	span := r.cfg.Timeout
	if r.cfg.LatencyBound > 0 {
		span = r.cfg.LatencyBound
	}
	inFlight := int(span/r.cfg.Interval) + 2
	for _, z := range r.cfg.Zones {
		t := r.clock.NewTicker(r.cfg.Interval)
		sem := make(chan struct{}, inFlight)
		r.loops.Go(func() {
			everyTick(ctx, t, func() {
				select {
				case sem <- struct{}{}:
				default:
					r.skipped(z, inFlight, span)
					return
				}
				r.loops.Go(func() { defer func() { <-sem }(); r.probe(ctx, z) })
			})
		})
	}
	if r.exportURL != "" {
		t := r.clock.NewTicker(r.cfg.ExportInterval)
		// An export is counted, logged and reported to OnExport.
		r.loops.Go(func() { everyTick(ctx, t, func() { _ = r.Export(ctx) }) })
	}
	r.log.Info("canaries started", "endpoint", r.invokeURL, "zones", r.cfg.Zones, "interval", r.cfg.Interval, "otlp", r.exportURL)
	return nil
}

// Close stops the canaries (one in flight is abandoned, not counted), waits for the goroutines,
// exports the final counts so the last interval is not lost, and returns that export's error.
// Idempotent; safe without Start.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	started, stop := r.started, r.stop
	r.mu.Unlock()
	if !started {
		return nil
	}
	stop()
	r.loops.Wait()
	var err error
	if r.exportURL != "" {
		err = r.Export(context.Background())
	}
	if r.ownClient {
		r.client.CloseIdleConnections()
	}
	return err
}

// everyTick calls f on each of t's ticks until ctx ends, then stops t.
func everyTick(ctx context.Context, t clock.Ticker, f func()) {
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			f()
		}
	}
}

// errTimedOut is the cause of a canary's context when Timeout expires.
var errTimedOut = errors.New("canary timed out")

// probe sends one canary to zone and counts its outcome; a canary cut short because the runner
// stops is not counted.
func (r *Runner) probe(parent context.Context, zone string) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	timer := r.clock.AfterFunc(r.cfg.Timeout, func() { cancel(errTimedOut) })
	began := r.clock.Now()
	outcome, detail := r.invoke(ctx, zone)
	timer.Stop()
	if outcome == Failure && errors.Is(context.Cause(ctx), errTimedOut) {
		outcome, detail = Timeout, fmt.Sprintf("no answer within %s", r.cfg.Timeout)
	} else if outcome == Failure && parent.Err() != nil {
		return
	}
	now := r.clock.Now()
	latency := now.Sub(began)
	if outcome == Success && r.cfg.LatencyBound > 0 && latency > r.cfg.LatencyBound {
		outcome, detail = Slow, fmt.Sprintf("answered in %s, bound %s", latency.Round(time.Millisecond), r.cfg.LatencyBound)
	}

	r.mu.Lock()
	res := r.results[zone]
	h := res.Latency[outcome]
	if h == nil {
		h = newHistogram()
		res.Latency[outcome] = h
	}
	h.observe(latency.Seconds())
	switch outcome {
	case Success:
		res.Success++
	case Error:
		res.Error++
	case Timeout:
		res.Timeout++
	case Slow:
		res.Slow++
	default:
		res.Failure++
	}
	res.Last, res.LastDetail, res.LastLatency, res.LastTime = outcome, detail, latency, now
	snapshot := res.clone()
	r.mu.Unlock()
	if r.cfg.OnOutcome != nil {
		r.cfg.OnOutcome(snapshot)
	}
}

// skipped counts a canary not sent because inFlight earlier ones to zone are still unanswered:
// the oldest has been out for longer than span, so this one fails as it would have.
func (r *Runner) skipped(zone string, inFlight int, span time.Duration) {
	outcome := Timeout
	if r.cfg.LatencyBound > 0 {
		outcome = Slow
	}
	r.mu.Lock()
	res := r.results[zone]
	if outcome == Slow {
		res.Slow++
	} else {
		res.Timeout++
	}
	res.Last, res.LastDetail = outcome, fmt.Sprintf("not sent: %d canaries still unanswered after %s", inFlight, span)
	snapshot := res.clone()
	r.mu.Unlock()
	if r.cfg.OnOutcome != nil {
		r.cfg.OnOutcome(snapshot)
	}
}

// invoke sends the canary and classifies the answer; any error of the exchange is a Failure,
// which probe turns into Timeout when the deadline caused it.
func (r *Runner) invoke(ctx context.Context, zone string) (Outcome, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.invokeURL, strings.NewReader(Payload))
	if err != nil {
		return Failure, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "azlens-canary")
	req.Header.Set(HeaderZone, zone)
	req.Header.Set(HeaderCanary, "true")
	resp, err := r.client.Do(req)
	if err != nil {
		return Failure, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return Failure, fmt.Sprintf("read answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes)) // so the connection is reused
	return Classify(resp.StatusCode, resp.Header, body)
}

// Classify turns the Invoke API's answer into an outcome and, unless it is a success, a detail:
// the function error's errorType (from the body, else the X-Amz-Function-Error header), or the
// status with X-Amzn-ErrorType. A function error whose type says the invocation timed out
// (Sandbox.Timeout as the emulator writes it, Sandbox.Timedout as Lambda does) is a Timeout: the
// zone held the canary until the function's deadline, as a black-holed zone does.
func Classify(status int, header http.Header, body []byte) (Outcome, string) {
	switch {
	case status == http.StatusOK && header.Get("X-Amz-Function-Error") == "":
		return Success, ""
	case status == http.StatusOK:
		var fe struct {
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(body, &fe) == nil && fe.ErrorType != "" {
			if fe.ErrorType == "Sandbox.Timeout" || fe.ErrorType == "Sandbox.Timedout" {
				return Timeout, fe.ErrorType
			}
			return Error, fe.ErrorType
		}
		return Error, header.Get("X-Amz-Function-Error")
	}
	detail := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if t := header.Get("X-Amzn-ErrorType"); t != "" {
		detail += " " + t
	}
	return Failure, detail
}

// Results returns each zone's counts, in the order of Config.Zones.
func (r *Runner) Results() []ZoneResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ZoneResult, 0, len(r.cfg.Zones))
	for _, z := range r.cfg.Zones {
		out = append(out, r.results[z].clone())
	}
	return out
}

// Exports returns the export counts.
func (r *Runner) Exports() ExportStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exports
}

// clone copies the result with its histograms, so a caller never shares them with the runner.
func (r *ZoneResult) clone() ZoneResult {
	c := *r
	c.Latency = make(map[Outcome]*Histogram, len(r.Latency))
	for o, h := range r.Latency {
		hc := *h
		hc.Counts = append([]uint64(nil), h.Counts...)
		c.Latency[o] = &hc
	}
	return c
}

// Histogram is a cumulative explicit-bounds histogram of latencies in seconds over
// contract.DurationBounds, the bounds of faas.invoke_duration, so the detector reads both at the
// same slow threshold: Counts[i] holds the observations in (DurationBounds[i-1],
// DurationBounds[i]], the last one those above every bound.
type Histogram struct {
	Count  uint64
	Sum    float64
	Counts []uint64
}

func newHistogram() *Histogram {
	return &Histogram{Counts: make([]uint64, len(contract.DurationBounds)+1)}
}

func (h *Histogram) observe(v float64) {
	i, _ := slices.BinarySearch(contract.DurationBounds, v)
	h.Counts[i]++
	h.Count++
	h.Sum += v
}
