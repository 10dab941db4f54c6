package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/regiontest"
	"github.com/azlens/azlens/internal/collectorconf"
	"github.com/azlens/azlens/internal/e2etest"
	"github.com/azlens/azlens/internal/freeport"
)

const (
	functionName = "hello"
	invocations  = 30
	workers      = 3
)

var zones = []string{"use1-az1", "use1-az2", "use1-az3"}

// call is one invocation through the front door: what was asked and what came back.
type call struct {
	i       int
	payload string
	fail    bool   // payload {"fail":true}
	zone    string // pinned zone (X-Azlens-Zone request header), "" = router's choice
	traceID string // hex trace id of the X-Amzn-Trace-Id sent (Sampled=1); "" = none sent
	parent  string // hex Parent of that header
	header  string

	requestID string // X-Amzn-RequestId
	servedBy  string // X-Azlens-Zone of the response
	env       string // X-Azlens-Environment of the response
	funcError string // X-Amz-Function-Error
}

// TestFullLoop: emulator region (3 zones × 1 environment, process mode) running the real hello
// function with the real azlens-agent as an external extension → the real azlens-collector binary
// → traces and logs over OTLP/gRPC to an in-test receiver, metrics through the collector's
// Prometheus exporter into a real Prometheus server, queried over its HTTP API.
func TestFullLoop(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the prometheus server is not installed (%v): run scripts/install-test-deps.sh "+
			"(`make test` runs it first), which installs Debian's prometheus package", err)
	}
	// Bounds only a hang: region start, invocations and shutdown wait on the things themselves.
	ctx, cancel := context.WithTimeout(context.Background(), e2etest.WaitLimit)
	defer cancel()
	work := t.TempDir()

	// Upstream OTLP receiver standing in for Jaeger: Debian packages no Jaeger (`apt-cache policy
	// jaeger` knows no such package) and nothing else may be downloaded here, so the collector's
	// own otlpreceiver runs in this process with consumertest sinks; the collector cannot tell the
	// difference — it is the same OTLP/gRPC protocol Jaeger's collector serves on :4317.
	sink := e2etest.OTLPSink(t)

	// The real collector: lambdatelemetry → batch → otlp_grpc (traces, logs); metrics → Prometheus
	// exporter.
	receiverAddr, exporterAddr := freeport.Addr(t), freeport.Addr(t)
	cfg, err := collectorconf.Config{
		Telemetry:    receiverAddr,
		BatchTimeout: 100 * time.Millisecond,
		Exporters:    collectorconf.Exporters{OTLPGRPC: sink.Addr, Prometheus: exporterAddr},
		Traces:       []string{collectorconf.OTLPExporter},
		Logs:         []string{collectorconf.OTLPExporter},
		Metrics:      []string{collectorconf.PrometheusExporter},
	}.YAML()
	if err != nil {
		t.Fatal(err)
	}
	e2etest.StartCollector(t, collectorPath, cfg)
	// StartCollector returned on the collector's own "Everything is ready": the receiver listens
	// and the exporter serves /metrics.

	// The real Prometheus server, scraping the collector's exporter every second.
	promAddr := freeport.Addr(t)
	promCfg := filepath.Join(work, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: azlens-collector
    static_configs:
      - targets: ['%s']
`, exporterAddr))
	prom := startChild(t, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(work, "tsdb"),
		"--web.listen-address="+promAddr,
	)
	promURL := "http://" + promAddr
	waitFor(t, e2etest.WaitLimit, "prometheus ready", func() (bool, string) {
		if done, how := prom.exited(); done {
			t.Fatalf("prometheus: %s\n%s", how, tail(prom.log, 40))
		}
		code, body := httpStatus(promURL + "/-/ready")
		return code == http.StatusOK, fmt.Sprintf("/-/ready → %d %s", code, body)
	})

	// The region: 3 zones × 1 environment, hello + azlens-agent in each, frozen between
	// invocations as on Lambda (so the last report of an environment can only leave at SHUTDOWN).
	emuLog, err := os.Create(filepath.Join(work, "emulator.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		emuLog.Close()
		if t.Failed() {
			t.Logf("function, agent and emulator output (tail of %s):\n%s", emuLog.Name(), tail(emuLog.Name(), 200))
		}
	})
	logOut := &lockedFile{f: emuLog}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := regiontest.Start(t, region.Config{
		Zones:       zones,
		EnvsPerZone: 1,
		Function: emulator.Function{
			Name:       functionName,
			Runtime:    &emulator.ProcessRuntime{Path: helloPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
			Env: map[string]string{
				"AZLENS_COLLECTOR_ENDPOINT": "http://" + receiverAddr,
				"AZLENS_LOG_LEVEL":          "debug",
			},
		},
		Sandbox: emulator.SandboxConfig{Freeze: true, LogOutput: logOut, Logger: logger},
		Logger:  logger,
	})
	fd := region.NewFrontDoor(logger, reg)
	front := httptest.NewServer(fd)
	t.Cleanup(front.Close)

	calls := plan(t)
	invokeAll(ctx, t, front.URL, calls)
	if t.Failed() {
		t.FailNow()
	}

	// SHUTDOWN: every agent flushes what it still holds, including the report of its
	// environment's last invocation, which Lambda generates only after the agent is back at
	// /event/next (and frozen).
	front.Close()
	if err := fd.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Shutdown(ctx); err != nil {
		t.Fatalf("region shutdown: %v", err)
	}

	served := map[string]int{}
	failed := map[string]int{}
	for _, c := range calls {
		served[c.servedBy]++
		if c.fail {
			failed[c.servedBy]++
		}
	}
	t.Logf("invocations per zone: %v, failures per zone: %v", served, failed)

	checkTraces(t, sink, calls)
	checkLogs(t, sink, calls)
	checkPrometheus(t, promURL, served, failed)
}

// plan: the first invocation of each zone is pinned to it; every 5th asks to fail; every 4th
// carries a sampled X-Ray header of its own.
func plan(t *testing.T) []*call {
	calls := make([]*call, invocations)
	for i := range calls {
		c := &call{i: i, payload: fmt.Sprintf(`{"name":"e2e-%d"}`, i)}
		if i < len(zones) {
			c.zone = zones[i]
		}
		if i%5 == 3 {
			c.fail = true
			c.payload = `{"fail":true}`
		}
		if i%4 == 1 {
			c.traceID = fmt.Sprintf("%08x", time.Now().Unix()) + randHex(t, 12)
			c.parent = randHex(t, 8)
			c.header = fmt.Sprintf("Root=1-%s-%s;Parent=%s;Sampled=1", c.traceID[:8], c.traceID[8:], c.parent)
		}
		calls[i] = c
	}
	return calls
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] |= 1 // never all zero
	return hex.EncodeToString(b)
}

// invokeAll runs the calls through the front door's Invoke API, a few at a time.
func invokeAll(ctx context.Context, t *testing.T, base string, calls []*call) {
	next := make(chan *call)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range next {
				if err := invoke(ctx, base, c); err != nil {
					t.Errorf("invocation %d: %v", c.i, err)
				}
			}
		})
	}
	for _, c := range calls {
		next <- c
	}
	close(next)
	wg.Wait()
}

func invoke(ctx context.Context, base string, c *call) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/2015-03-31/functions/"+functionName+"/invocations", strings.NewReader(c.payload))
	if err != nil {
		return err
	}
	if c.zone != "" {
		req.Header.Set(region.ZoneHeader, c.zone)
	}
	if c.header != "" {
		req.Header.Set("X-Amzn-Trace-Id", c.header)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	c.requestID = resp.Header.Get("X-Amzn-RequestId")
	c.servedBy = resp.Header.Get(region.ZoneHeader)
	c.env = resp.Header.Get(region.EnvironmentHeader)
	c.funcError = resp.Header.Get("X-Amz-Function-Error")
	switch {
	case c.requestID == "" || c.servedBy == "" || c.env == "":
		return fmt.Errorf("response lacks request id / zone / environment headers: %v", resp.Header)
	case c.zone != "" && c.servedBy != c.zone:
		return fmt.Errorf("pinned to %s, served by %s", c.zone, c.servedBy)
	case c.fail && c.funcError != "Unhandled":
		return fmt.Errorf("failing payload answered without X-Amz-Function-Error: %s", body)
	case !c.fail && (c.funcError != "" || !strings.Contains(string(body), "hello, e2e-")):
		return fmt.Errorf("function error %q, body %s", c.funcError, body)
	}
	return nil
}

// span is a received span with its resource and the name of its instrumentation scope.
type span struct {
	ptrace.Span
	res   pcommon.Map
	scope string
}

// Scopes of the function's own spans (examples/hello: otellambda's server span, its "greet" span).
const (
	otellambdaScope = "go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	helloScope      = "github.com/azlens/azlens/examples/hello"
)

func (s span) fromSDK() bool { return s.scope == otellambdaScope || s.scope == helloScope }

func str(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func collectSpans(sink *e2etest.Sink) []span {
	var out []span
	for _, td := range sink.Traces.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				scope := rs.ScopeSpans().At(j).Scope().Name()
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					out = append(out, span{ss.At(k), rs.Resource().Attributes(), scope})
				}
			}
		}
	}
	return out
}

func checkTraces(t *testing.T, sink *e2etest.Sink, calls []*call) {
	t.Helper()
	var spans, sdk []span
	byInvocation := map[string][]span{}
	handlers := map[string][]span{}
	var inits []span
	waitFor(t, e2etest.WaitLimit, "a span for every invocation and an init span per environment", func() (bool, string) {
		spans, sdk = spans[:0], sdk[:0]
		for _, s := range collectSpans(sink) {
			if s.fromSDK() {
				sdk = append(sdk, s)
			} else {
				spans = append(spans, s)
			}
		}
		byInvocation = map[string][]span{}
		handlers = map[string][]span{}
		for _, s := range sdk {
			if s.scope == otellambdaScope {
				id := str(s.Attributes(), "faas.invocation_id")
				handlers[id] = append(handlers[id], s)
			}
		}
		inits = inits[:0]
		for _, s := range spans {
			if s.Kind() == ptrace.SpanKindServer {
				id := str(s.Attributes(), "faas.invocation_id")
				byInvocation[id] = append(byInvocation[id], s)
			}
			if s.Name() == "init" {
				inits = append(inits, s)
			}
		}
		var noSpan, noHandler []string
		for _, c := range calls {
			if len(byInvocation[c.requestID]) == 0 {
				noSpan = append(noSpan, fmt.Sprintf("%d (%s in %s)", c.i, c.requestID, c.env))
			}
			if len(handlers[c.requestID]) == 0 {
				noHandler = append(noHandler, fmt.Sprintf("%d (%s in %s)", c.i, c.requestID, c.env))
			}
		}
		// Handler spans whose invocation id is none of the calls' say where a missing one went.
		ids := map[string]bool{}
		for _, c := range calls {
			ids[c.requestID] = true
		}
		var strays []string
		for id, hs := range handlers {
			if !ids[id] {
				strays = append(strays, fmt.Sprintf("%q×%d", id, len(hs)))
			}
		}
		return len(noSpan)+len(noHandler) == 0 && len(inits) >= len(zones),
			fmt.Sprintf("%d spans, %d SDK spans; invocations without their invocation span: %v; without the function's own handler span (OTLP): %v; handler spans of no call: %v; init spans: %d",
				len(spans), len(sdk), noSpan, noHandler, strays, len(inits))
	})

	byID := map[pcommon.SpanID]span{}
	for _, s := range spans {
		if _, dup := byID[s.SpanID()]; dup {
			t.Errorf("span id %s (%s) received twice", s.SpanID(), s.Name())
		}
		byID[s.SpanID()] = s
		if v, ok := s.Attributes().Get("azlens.incomplete"); ok && v.Bool() {
			t.Errorf("span %s %s is incomplete", s.Name(), str(s.Attributes(), "faas.invocation_id"))
		}
	}
	serverSpans := 0
	for _, s := range spans {
		if s.Kind() == ptrace.SpanKindServer {
			serverSpans++
		}
	}
	if serverSpans != len(calls) {
		t.Errorf("%d SERVER spans for %d invocations", serverSpans, len(calls))
	}

	invocationSpan := map[pcommon.SpanID]*call{}
	traced := 0
	for _, c := range calls {
		got := byInvocation[c.requestID]
		if len(got) != 1 {
			t.Errorf("invocation %d (%s): %d SERVER spans, want 1", c.i, c.requestID, len(got))
			continue
		}
		s := got[0]
		invocationSpan[s.SpanID()] = c
		if s.Name() != functionName {
			t.Errorf("invocation %d: span name %q, want %q", c.i, s.Name(), functionName)
		}
		if az := str(s.res, "cloud.availability_zone"); az != c.servedBy {
			t.Errorf("invocation %d: cloud.availability_zone %q, served by %q", c.i, az, c.servedBy)
		}
		if !slices.Contains(zones, str(s.res, "cloud.availability_zone")) {
			t.Errorf("invocation %d: cloud.availability_zone %q not one of %v", c.i, str(s.res, "cloud.availability_zone"), zones)
		}
		if inst := str(s.res, "faas.instance"); inst != c.env {
			t.Errorf("invocation %d: faas.instance %q, environment %q", c.i, inst, c.env)
		}
		if name := str(s.res, "faas.name"); name != functionName {
			t.Errorf("invocation %d: faas.name %q", c.i, name)
		}
		code := s.Status().Code()
		if c.fail && (code != ptrace.StatusCodeError || str(s.Attributes(), "error.type") == "") {
			t.Errorf("invocation %d failed: span status %v, error.type %q; want Error with a type", c.i, code, str(s.Attributes(), "error.type"))
		}
		if !c.fail && code == ptrace.StatusCodeError {
			t.Errorf("invocation %d succeeded: span status Error (%s)", c.i, s.Status().Message())
		}
		if c.traceID != "" {
			traced++
			if got := s.TraceID().String(); got != c.traceID {
				t.Errorf("invocation %d: trace id %s, X-Ray Root says %s", c.i, got, c.traceID)
			}
			if got := s.ParentSpanID().String(); got != c.parent {
				t.Errorf("invocation %d: parent span id %s, X-Ray Parent says %s", c.i, got, c.parent)
			}
			if s.Flags()&1 == 0 {
				t.Errorf("invocation %d: Sampled=1 but the span is not flagged sampled", c.i)
			}
		} else {
			if !s.ParentSpanID().IsEmpty() {
				t.Errorf("invocation %d: untraced, yet parent span id %s", c.i, s.ParentSpanID())
			}
			for _, o := range calls {
				if o.traceID != "" && s.TraceID().String() == o.traceID {
					t.Errorf("invocation %d: untraced, yet in the trace of invocation %d", c.i, o.i)
				}
			}
		}
	}
	t.Logf("%d spans: %d SERVER (%d with an incoming X-Ray header), %d init; %d of the function's own", len(spans), serverSpans, traced, len(inits), len(sdk))

	// The function's own spans (OTel SDK + otellambda → agent → collector): each invocation's
	// handler span is a child of its invocation span, in its trace, with the environment's
	// resource; the handler's "greet" span stays under it.
	greet := map[pcommon.SpanID]int{}
	for _, s := range sdk {
		if s.Name() == "greet" {
			greet[s.ParentSpanID()]++
		}
	}
	for inv, c := range invocationSpan {
		p := byID[inv]
		hs := handlers[c.requestID]
		if len(hs) != 1 {
			t.Errorf("invocation %d: %d handler spans from the SDK, want 1", c.i, len(hs))
			continue
		}
		h := hs[0]
		if h.TraceID() != p.TraceID() || h.ParentSpanID() != inv {
			t.Errorf("invocation %d: handler span in trace %s under %s, want under the invocation span %s/%s",
				c.i, h.TraceID(), h.ParentSpanID(), p.TraceID(), inv)
		}
		if az := str(h.res, "cloud.availability_zone"); az != c.servedBy {
			t.Errorf("invocation %d: handler span cloud.availability_zone %q, served by %q", c.i, az, c.servedBy)
		}
		if str(h.res, "faas.instance") != c.env {
			t.Errorf("invocation %d: handler span faas.instance %q, environment %q", c.i, str(h.res, "faas.instance"), c.env)
		}
		if greet[h.SpanID()] != 1 {
			t.Errorf("invocation %d: %d greet spans under the handler span, want 1", c.i, greet[h.SpanID()])
		}
	}

	// Children of the invocation spans: runtimeDone's spans (and extensionOverhead).
	children := map[pcommon.SpanID][]string{}
	for _, s := range spans {
		if s.Kind() == ptrace.SpanKindServer || s.Name() == "init" {
			continue
		}
		p, ok := byID[s.ParentSpanID()]
		if !ok || p.Kind() != ptrace.SpanKindServer {
			t.Errorf("span %s (%s): parent %s is not an invocation span", s.Name(), s.SpanID(), s.ParentSpanID())
			continue
		}
		if s.TraceID() != p.TraceID() {
			t.Errorf("span %s: trace %s, its invocation's trace %s", s.Name(), s.TraceID(), p.TraceID())
		}
		if str(s.res, "faas.instance") != str(p.res, "faas.instance") {
			t.Errorf("span %s: environment %s, its invocation's %s", s.Name(), str(s.res, "faas.instance"), str(p.res, "faas.instance"))
		}
		children[s.ParentSpanID()] = append(children[s.ParentSpanID()], s.Name())
	}
	for id, c := range invocationSpan {
		for _, want := range []string{"responseLatency", "responseDuration"} {
			if !slices.Contains(children[id], want) {
				t.Errorf("invocation %d: no %s child (children: %v)", c.i, want, children[id])
			}
		}
	}

	// init: one per environment, child of that environment's first (cold) invocation.
	firstOf := map[string]span{}
	cold := map[string]int{}
	for _, c := range calls {
		if len(byInvocation[c.requestID]) != 1 {
			continue
		}
		s := byInvocation[c.requestID][0]
		if f, ok := firstOf[c.env]; !ok || s.StartTimestamp() < f.StartTimestamp() {
			firstOf[c.env] = s
		}
		if v, ok := s.Attributes().Get("faas.coldstart"); ok && v.Bool() {
			cold[c.env]++
		}
	}
	if len(inits) != len(zones) {
		t.Errorf("%d init spans, want one per environment (%d)", len(inits), len(zones))
	}
	initOf := map[string]bool{}
	for _, s := range inits {
		env := str(s.res, "faas.instance")
		if initOf[env] {
			t.Errorf("environment %s: two init spans", env)
		}
		initOf[env] = true
		first, ok := firstOf[env]
		if !ok {
			t.Errorf("init span of %q: no invocation ran in that environment", env)
			continue
		}
		if s.ParentSpanID() != first.SpanID() || s.TraceID() != first.TraceID() {
			t.Errorf("environment %s: init span's parent %s/%s, first invocation's span %s/%s",
				env, s.TraceID(), s.ParentSpanID(), first.TraceID(), first.SpanID())
		}
		if s.Kind() != ptrace.SpanKindInternal {
			t.Errorf("environment %s: init span kind %v", env, s.Kind())
		}
	}
	for env, first := range firstOf {
		if v, ok := first.Attributes().Get("faas.coldstart"); !ok || !v.Bool() {
			t.Errorf("environment %s: first invocation %s not a cold start", env, str(first.Attributes(), "faas.invocation_id"))
		}
		if cold[env] != 1 {
			t.Errorf("environment %s: %d cold starts, want 1", env, cold[env])
		}
	}
	if len(firstOf) != len(zones) {
		t.Errorf("invocations ran in %d environments (%v), want %d", len(firstOf), slices.Collect(maps.Keys(firstOf)), len(zones))
	}
}

func checkLogs(t *testing.T, sink *e2etest.Sink, calls []*call) {
	t.Helper()
	spanOf := map[string]span{}
	for _, s := range collectSpans(sink) {
		if s.Kind() == ptrace.SpanKindServer && !s.fromSDK() { // the platform's invocation span
			spanOf[str(s.Attributes(), "faas.invocation_id")] = s
		}
	}
	type line struct {
		body, invocationID, zone string
		traceID                  pcommon.TraceID
		spanID                   pcommon.SpanID
	}
	lines := map[string][]line{} // by the request id the function printed
	waitFor(t, e2etest.WaitLimit, "the function's log line of every invocation", func() (bool, string) {
		lines = map[string][]line{}
		for _, ld := range sink.Logs.AllLogs() {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				rl := ld.ResourceLogs().At(i)
				for j := 0; j < rl.ScopeLogs().Len(); j++ {
					lrs := rl.ScopeLogs().At(j).LogRecords()
					for k := 0; k < lrs.Len(); k++ {
						lr := lrs.At(k)
						body := lr.Body().AsString()
						_, after, ok := strings.Cut(body, "request ")
						if !ok || str(lr.Attributes(), "type") != "function" {
							continue
						}
						rid, _, _ := strings.Cut(after, ":")
						lines[rid] = append(lines[rid], line{body, str(lr.Attributes(), "faas.invocation_id"),
							str(rl.Resource().Attributes(), "cloud.availability_zone"), lr.TraceID(), lr.SpanID()})
					}
				}
			}
		}
		var missing []int
		for _, c := range calls {
			if len(lines[c.requestID]) == 0 {
				missing = append(missing, c.i)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d log records, invocations without their line: %v", sink.Logs.LogRecordCount(), missing)
	})
	for _, c := range calls {
		want := "greeting e2e-"
		if c.fail {
			want = "failing as asked"
		}
		s := spanOf[c.requestID]
		for _, l := range lines[c.requestID] {
			if !strings.Contains(l.body, want) {
				t.Errorf("invocation %d: log line %q lacks %q", c.i, l.body, want)
			}
			if l.invocationID != c.requestID {
				t.Errorf("invocation %d: log line faas.invocation_id %q", c.i, l.invocationID)
			}
			if l.zone != c.servedBy {
				t.Errorf("invocation %d: log line's cloud.availability_zone %q, served by %q", c.i, l.zone, c.servedBy)
			}
			if l.traceID != s.TraceID() || l.spanID != s.SpanID() {
				t.Errorf("invocation %d: log line in %s/%s, its invocation span is %s/%s", c.i, l.traceID, l.spanID, s.TraceID(), s.SpanID())
			}
			if c.traceID != "" && l.traceID.String() != c.traceID {
				t.Errorf("invocation %d: log line trace id %s, X-Ray Root says %s", c.i, l.traceID, c.traceID)
			}
		}
	}
}

// checkPrometheus queries the real Prometheus server until the per-zone invocation and error
// counts equal what each zone served.
func checkPrometheus(t *testing.T, promURL string, served, failed map[string]int) {
	t.Helper()
	perZone := func(query string) (map[string]int, error) {
		samples, err := promQuery(promURL, query)
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		for _, s := range samples {
			out[s.Metric["cloud_availability_zone"]] = int(s.Value)
		}
		return out, nil
	}
	wantErrors := map[string]int{}
	for _, z := range zones {
		wantErrors[z] = failed[z] // every outcome series exists, zero or not
	}
	const (
		qAll    = `sum by (cloud_availability_zone) (faas_invocations_total{faas_name="hello"})`
		qErrors = `sum by (cloud_availability_zone) (faas_invocations_total{faas_name="hello",outcome="error"})`
	)
	waitFor(t, e2etest.WaitLimit, "Prometheus counts equal what each zone served", func() (bool, string) {
		all, err := perZone(qAll)
		if err != nil {
			return false, err.Error()
		}
		errs, err := perZone(qErrors)
		if err != nil {
			return false, err.Error()
		}
		return maps.Equal(all, served) && maps.Equal(errs, wantErrors),
			fmt.Sprintf("%s = %v (want %v); %s = %v (want %v)", qAll, all, served, qErrors, errs, wantErrors)
	})
	total, err := promQuery(promURL, `sum(faas_invocations_total{outcome="error"})`)
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for _, n := range failed {
		failures += n
	}
	if len(total) != 1 || int(total[0].Value) != failures {
		t.Errorf(`sum(faas_invocations_total{outcome="error"}) = %v, want %d`, total, failures)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
