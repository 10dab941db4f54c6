package canary_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/emulator/canary"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// frontDoor stands in for the emulator's front door (whose own tests cover the real one): it
// answers each zone with one outcome, and checks every canary has the Invoke API's shape.
//
//	use1-az1  200                               → success
//	use1-az2  200 + X-Amz-Function-Error        → error
//	use1-az3  no answer until the client gives up → timeout
//	use1-az4  503 ServiceException              → failure
func frontDoor(t *testing.T) (srv *httptest.Server, hung <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 16)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/2015-03-31/functions/checkout/invocations" ||
			string(body) != canary.Payload || r.Header.Get(canary.HeaderCanary) != "true" {
			t.Errorf("canary request %s %s %q, canary header %q", r.Method, r.URL.Path, body, r.Header.Get(canary.HeaderCanary))
		}
		switch r.Header.Get(canary.HeaderZone) {
		case "use1-az1":
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "use1-az2":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_, _ = io.WriteString(w, `{"errorType":"Sandbox.Failure","errorMessage":"injected fault"}`)
		case "use1-az3":
			arrived <- struct{}{}
			<-r.Context().Done()
		case "use1-az4":
			w.Header().Set("X-Amzn-ErrorType", "ServiceException")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			t.Errorf("canary without a known zone: %q", r.Header.Get(canary.HeaderZone))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, arrived
}

// collector starts the collector's real OTLP receiver (HTTP only) on a free loopback port,
// feeding next, and returns its base URL.
func collector(t *testing.T, next consumer.Metrics) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the receiver binds it again; the window for another process to take it is tiny

	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	// gRPC stays off: its default is only used when a config enables it.
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = addr
	rcv, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(component.MustNewType("otlp")), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rcv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return "http://" + addr
}

type fixture struct {
	clock    *clocktest.Clock
	runner   *canary.Runner
	outcomes chan canary.ZoneResult
	exports  chan error
	hung     <-chan struct{}
}

func newFixture(t *testing.T, otlp string, cfg canary.Config) *fixture {
	t.Helper()
	door, hung := frontDoor(t)
	f := &fixture{clock: clocktest.NewClock(t0), outcomes: make(chan canary.ZoneResult, 64), exports: make(chan error, 64), hung: hung}
	cfg.Endpoint = door.URL
	cfg.Function = "checkout"
	if cfg.Zones == nil {
		cfg.Zones = []string{"use1-az1", "use1-az2", "use1-az3", "use1-az4"}
	}
	cfg.OTLPEndpoint = otlp
	cfg.Clock = f.clock
	cfg.OnOutcome = func(r canary.ZoneResult) { f.outcomes <- r }
	cfg.OnExport = func(err error) { f.exports <- err }
	r, err := canary.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.runner = r
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() }) // before the servers close: cleanups run last-in first-out
	return f
}

// round ticks every zone once and returns the outcomes by zone; the hung zone's canary times out
// when the clock passes Timeout.
func (f *fixture) round(t *testing.T, interval, timeout time.Duration) map[string]canary.ZoneResult {
	t.Helper()
	f.clock.Advance(interval)
	got := map[string]canary.ZoneResult{}
	for range 3 {
		r := <-f.outcomes
		got[r.Zone] = r
	}
	<-f.hung // az3's canary is waiting at the front door, its timeout armed
	f.clock.Advance(timeout)
	r := <-f.outcomes
	got[r.Zone] = r
	return got
}

func TestOutcomesClassifiedAndExported(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	otlp := collector(t, sink)
	f := newFixture(t, otlp, canary.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, ExportInterval: time.Hour, Region: "eu-west-1"})

	for i := range 2 {
		got := f.round(t, 10*time.Second-2*time.Second*time.Duration(min(i, 1)), 2*time.Second)
		for zone, want := range map[string]canary.Outcome{"use1-az1": canary.Success, "use1-az2": canary.Error, "use1-az3": canary.Timeout, "use1-az4": canary.Failure} {
			if got[zone].Last != want {
				t.Errorf("round %d, %s: outcome %s (%s), want %s", i, zone, got[zone].Last, got[zone].LastDetail, want)
			}
		}
		if d := got["use1-az2"].LastDetail; d != "Sandbox.Failure" {
			t.Errorf("error detail = %q, want the error type", d)
		}
		if d := got["use1-az4"].LastDetail; !strings.Contains(d, "503") || !strings.Contains(d, "ServiceException") {
			t.Errorf("failure detail = %q, want the status and error type", d)
		}
		if l := got["use1-az3"].LastLatency; l != 2*time.Second {
			t.Errorf("timeout latency = %v, want 2s", l)
		}
	}
	for _, r := range f.runner.Results() {
		if r.Total() != 2 || r.Count(r.Last) != 2 {
			t.Errorf("%s: %+v, want 2 canaries, both %s", r.Zone, r, r.Last)
		}
	}

	if err := f.runner.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.DataPointCount(); got != 24 {
		t.Fatalf("collector received %d data points, want 24 (4 zones × 5 outcomes, and a latency histogram of the one outcome each zone saw)", got)
	}
	md := sink.AllMetrics()[0]
	seen := map[string]bool{}
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		attrs := rm.Resource().Attributes().AsRaw()
		zone, _ := attrs["cloud.availability_zone"].(string)
		seen[zone] = true
		for k, v := range map[string]any{"faas.name": "checkout", "cloud.region": "eu-west-1", "azlens.canary": "true", "service.name": "azlens-canary"} {
			if attrs[k] != v {
				t.Errorf("resource %s: %s = %v, want %v", zone, k, attrs[k], v)
			}
		}
		ms := rm.ScopeMetrics().At(0).Metrics()
		if h := ms.At(1); h.Name() != canary.MetricDuration || h.Type() != pmetric.MetricTypeHistogram || h.Histogram().DataPoints().Len() != 1 ||
			h.Histogram().DataPoints().At(0).Count() != 2 {
			t.Errorf("%s: second metric %s %s, want the latency histogram %s with one point of 2 canaries", zone, h.Name(), h.Type(), canary.MetricDuration)
		}
		m := ms.At(0)
		if m.Name() != canary.MetricInvocations || m.Type() != pmetric.MetricTypeSum ||
			!m.Sum().IsMonotonic() || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
			t.Fatalf("metric %s %s monotonic=%v, want a cumulative monotonic Sum %s", m.Name(), m.Type(), m.Sum().IsMonotonic(), canary.MetricInvocations)
		}
		want := map[string]map[string]int64{
			"use1-az1": {"success": 2}, "use1-az2": {"error": 2}, "use1-az3": {"timeout": 2}, "use1-az4": {"failure": 2},
		}[zone]
		for j := range m.Sum().DataPoints().Len() {
			dp := m.Sum().DataPoints().At(j)
			outcome, _ := dp.Attributes().Get("outcome")
			if dp.IntValue() != want[outcome.Str()] {
				t.Errorf("%s outcome=%s: %d, want %d", zone, outcome.Str(), dp.IntValue(), want[outcome.Str()])
			}
			if dp.StartTimestamp().AsTime() != t0 || dp.Timestamp().AsTime() != f.clock.Now() {
				t.Errorf("%s: timestamps %v–%v, want %v–%v", zone, dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime(), t0, f.clock.Now())
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("resources for zones %v, want 4 zones", seen)
	}
	if st := f.runner.Exports(); st.Exports != 1 || st.Failures != 0 {
		t.Errorf("export stats = %+v", st)
	}
}

// failFirst fails the first n exports the receiver hands it, then passes them on.
type failFirst struct {
	n    atomic.Int32
	sink *consumertest.MetricsSink
}

func (c *failFirst) consume(ctx context.Context, md pmetric.Metrics) error {
	if c.n.Add(-1) >= 0 {
		return errors.New("collector pipeline busy")
	}
	return c.sink.ConsumeMetrics(ctx, md)
}

func TestFailedExportRetriedNextInterval(t *testing.T) {
	ff := &failFirst{sink: new(consumertest.MetricsSink)}
	ff.n.Store(1)
	next, err := consumer.NewMetrics(ff.consume)
	if err != nil {
		t.Fatal(err)
	}
	otlp := collector(t, next)
	f := newFixture(t, otlp, canary.Config{Zones: []string{"use1-az1"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, ExportInterval: 15 * time.Second})

	f.clock.Advance(10 * time.Second) // canary 1
	<-f.outcomes
	f.clock.Advance(5 * time.Second) // export at 15s: the collector refuses it
	if err := <-f.exports; err == nil || !strings.Contains(err.Error(), "collector answered") {
		t.Fatalf("first export error = %v, want the collector's refusal", err)
	}
	if st := f.runner.Exports(); st.Failures != 1 || st.LastError == "" {
		t.Errorf("after the refused export: %+v", st)
	}
	f.clock.Advance(5 * time.Second) // canary 2 at 20s
	<-f.outcomes
	f.clock.Advance(10 * time.Second) // canary 3 at 30s, export at 30s
	var exportErr error
	for range 2 { // the canary and the export tick at the same instant; take both in any order
		select {
		case <-f.outcomes:
		case exportErr = <-f.exports:
		}
	}
	if ff.sink.DataPointCount() == 0 {
		// The export ticked before canary 3 was counted: either is fine, but one export arrived.
		t.Fatalf("second export did not reach the collector (error %v)", exportErr)
	}
	md := ff.sink.AllMetrics()[0]
	dp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	if n := dp.IntValue(); n < 2 {
		t.Errorf("success count after the retry = %d, want ≥ 2: the refused interval's canaries were lost", n)
	}
	if st := f.runner.Exports(); st.Exports != 2 || st.Failures != 1 || st.LastError != "" {
		t.Errorf("after the retry: %+v", st)
	}
}

func TestCloseExportsFinalCounts(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	f := newFixture(t, collector(t, sink), canary.Config{Zones: []string{"use1-az1", "use1-az3"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, ExportInterval: time.Hour})
	f.clock.Advance(10 * time.Second)
	<-f.outcomes // az1
	<-f.hung     // az3 in flight: abandoned by Close, not counted
	if err := f.runner.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := sink.DataPointCount(); got != 11 {
		t.Fatalf("final export had %d data points, want 11 (2 zones × 5 outcomes, one latency histogram)", got)
	}
	for _, r := range f.runner.Results() {
		if want := map[string]uint64{"use1-az1": 1, "use1-az3": 0}[r.Zone]; r.Total() != want {
			t.Errorf("%s: %d canaries counted, want %d", r.Zone, r.Total(), want)
		}
	}
	if err := f.runner.Start(context.Background()); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestCollectorDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	f := newFixture(t, down, canary.Config{Zones: []string{"use1-az1"}, Interval: time.Hour, ExportInterval: time.Minute})
	for i := range 2 {
		f.clock.Advance(time.Minute)
		if err := <-f.exports; err == nil || !strings.HasPrefix(err.Error(), "export: ") {
			t.Fatalf("export to a closed port: %v, want an export error", err)
		}
		if st := f.runner.Exports(); st.Failures != uint64(i+1) || st.Exports != uint64(i+1) {
			t.Errorf("export stats = %+v, want %d failures", st, i+1)
		}
	}
}

func TestNewValidation(t *testing.T) {
	ok := canary.Config{Endpoint: "http://127.0.0.1:9001", Function: "f", Zones: []string{"use1-az1"}}
	tests := []struct {
		name   string
		change func(*canary.Config)
		want   string
	}{
		{"no endpoint", func(c *canary.Config) { c.Endpoint = "" }, "endpoint: is required"},
		{"bad endpoint", func(c *canary.Config) { c.Endpoint = "127.0.0.1:9001" }, `endpoint: "127.0.0.1:9001" is not an http or https URL`},
		{"no function", func(c *canary.Config) { c.Function = "" }, "function: is required"},
		{"no zones", func(c *canary.Config) { c.Zones = nil }, "zones: at least one zone is required"},
		{"empty zone", func(c *canary.Config) { c.Zones = []string{"use1-az1", ""} }, `zones[1]: "" is not a zone ID`},
		{"zone twice", func(c *canary.Config) { c.Zones = []string{"use1-az1", "use1-az1"} }, `zones[1]: zone "use1-az1" is listed twice`},
		{"negative interval", func(c *canary.Config) { c.Interval = -time.Second }, "interval: must not be negative"},
		{"negative timeout", func(c *canary.Config) { c.Timeout = -time.Second }, "timeout: must not be negative"},
		{"negative latency bound", func(c *canary.Config) { c.LatencyBound = -time.Second }, "latency_bound: must not be negative"},
		{"bad otlp endpoint", func(c *canary.Config) { c.OTLPEndpoint = "grpc://x:4317" }, `otlp_endpoint: "grpc://x:4317" is not an http or https URL`},
	}
	for _, tt := range tests {
		cfg := ok
		tt.change(&cfg)
		_, err := canary.New(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	r, err := canary.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close without Start: %v", err)
	}
	if err := r.Export(context.Background()); err == nil {
		t.Error("Export without an otlp_endpoint succeeded")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	door, _ := frontDoor(t)
	r, err := canary.New(canary.Config{Endpoint: door.URL, Function: "checkout", Zones: []string{"use1-az1"},
		OTLPEndpoint: collector(t, sink), Clock: clocktest.NewClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.DataPointCount(); got != 5 {
		t.Errorf("final export had %d data points, want 5 (one per outcome, no latency yet)", got)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}

// A canary answered later than its latency bound fails as slow (CloudWatch Synthetics: a run over
// its time limit fails), and its latency lands above the bound in the zone's histogram; a slow
// zone does not slow its canaries' schedule down.
func TestSlowAnswerIsAFailedCanary(t *testing.T) {
	arrived, release := make(chan struct{}, 8), make(chan struct{})
	door := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(door.Close)
	clk := clocktest.NewClock(t0)
	outcomes := make(chan canary.ZoneResult, 8)
	r, err := canary.New(canary.Config{Endpoint: door.URL, Function: "checkout", Zones: []string{"use1-az2"}, Clock: clk,
		Interval: time.Second, Timeout: 5 * time.Second, LatencyBound: time.Second, OnOutcome: func(z canary.ZoneResult) { outcomes <- z }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	clk.Advance(time.Second)
	<-arrived
	// The next tick sends the next canary while the first is still unanswered.
	clk.Advance(time.Second)
	<-arrived
	clk.Advance(500 * time.Millisecond) // the first has waited 1.5 s, the second 0.5 s
	close(release)
	got := map[time.Duration]canary.ZoneResult{}
	for range 2 {
		z := <-outcomes
		got[z.LastLatency] = z
	}
	if z := got[1500*time.Millisecond]; z.Last != canary.Slow || !strings.Contains(z.LastDetail, "bound 1s") {
		t.Errorf("canary answered in 1.5s: %s (%s), want slow", z.Last, z.LastDetail)
	}
	if z := got[500*time.Millisecond]; z.Last != canary.Success {
		t.Errorf("canary answered in 0.5s: %s (%s), want success", z.Last, z.LastDetail)
	}
	res := r.Results()[0]
	if res.Slow != 1 || res.Success != 1 || res.Total() != 2 {
		t.Errorf("counts %+v, want 1 slow and 1 success", res)
	}
	// 1.5 s lands in (1, 2.5], 0.5 s in (0.25, 0.5].
	slow, ok := res.Latency[canary.Slow], res.Latency[canary.Success]
	if slow == nil || ok == nil || slow.Count != 1 || slow.Counts[8] != 1 || ok.Count != 1 || ok.Counts[6] != 1 {
		t.Errorf("latency histograms slow %+v, success %+v", slow, ok)
	}
}
