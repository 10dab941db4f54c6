package backends

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/internal/loop"
)

const functionName = "hello"

var zones = region.DefaultZones

// truth records what the emulator really did: every invocation's outcome (the loop's Observe hook)
// and every line the function printed (the sandboxes' copy of its output).
type truth struct {
	mu       sync.Mutex
	outcomes []timedOutcome
	output   bytes.Buffer
}

type timedOutcome struct {
	region.Outcome
	at time.Time
}

func (r *truth) observe(o region.Outcome) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, timedOutcome{o, time.Now()})
	r.mu.Unlock()
}

func (r *truth) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.output.Write(p)
}

// taken returns the invocations an environment took (throttled ones never ran).
func (r *truth) taken() []timedOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []timedOutcome
	for _, o := range r.outcomes {
		if o.Environment != "" {
			out = append(out, o)
		}
	}
	return out
}

// functionLine matches the line hello prints for each invocation it runs, in the sandbox's copy:
// "[<environment> ...] <date> <time> request <id>: greeting <name>" (or "failing as asked").
var functionLine = regexp.MustCompile(`request ([0-9a-f-]{36}): (greeting \S+|failing as asked)`)

// printed returns, per request id, how many lines the function printed for it.
func (r *truth) printed() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, m := range functionLine.FindAllStringSubmatch(r.output.String(), -1) {
		out[m[1]]++
	}
	return out
}

// TestRealBackends runs the real loop — a three-zone emulator region running the hello function
// with azlens-agent, the azlens-collector, canaries, steady load and an az-errors fault in the
// second zone — with traces going to a real Jaeger, logs to a real VictoriaLogs (restarted while
// the run goes on) and metrics, the collector's and the emulator's ground truth, to a real
// Prometheus. It then asks each backend, through its own query API, for what a user would look for.
func TestRealBackends(t *testing.T) {
	j := startJaeger(t)
	vl := startVictoriaLogs(t)

	listen := freeport.Addr(t)
	ports := loop.Ports{Telemetry: freeport.Port(t), OTLP: freeport.Port(t), Prometheus: freeport.Port(t)}
	prom := startPrometheus(t, map[string]string{
		"azlens-collector": fmt.Sprintf("127.0.0.1:%d", ports.Prometheus),
		"azlens-emulator":  listen,
	})

	rec := &truth{}
	ctx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	runStart := time.Now()
	type result struct {
		sum *loop.Summary
		err error
	}
	ran := make(chan result, 1)
	go func() {
		sum, err := loop.Run(ctx, loop.Config{
			Function:       helloPath,
			Agent:          agentPath,
			Collector:      collectorPath,
			Name:           functionName,
			Zones:          zones,
			EnvsPerZone:    2,
			Rate:           10,
			Listen:         listen,
			CollectorPorts: ports,
			Timing:         loop.Fast,
			Scenario:       "az-errors",
			FaultedZone:    zones[1],
			TracesEndpoint: j.otlp,
			LogsEndpoint:   vl.base + "/insert",
			Logs:           rec,
			Observe:        rec.observe,
			WorkDir:        t.TempDir(),
		})
		ran <- result{sum, err}
	}()
	runFailed := func() (bool, string) {
		select {
		case r := <-ran:
			ran <- r
			return true, fmt.Sprintf("loop ended early: %v", r.err)
		default:
			return false, ""
		}
	}

	// VictoriaLogs is ingesting: the first function line is queryable.
	waitFor(t, 2*time.Minute, "first function line in VictoriaLogs", func() (bool, string) {
		if done, how := runFailed(); done {
			t.Fatal(how)
		}
		es, err := vl.query(`{faas_name="hello"} type:=function`)
		if err != nil {
			return false, err.Error()
		}
		return len(es) > 0, fmt.Sprintf("%d entries", len(es))
	})

	// Restart it while invocations go on: the collector's loki exporter keeps what it cannot push
	// in its queue and retries, so nothing may be lost or sent twice.
	vl.stop()
	downFrom := time.Now()
	down := len(rec.taken())
	waitFor(t, 2*time.Minute, "30 invocations while VictoriaLogs is down", func() (bool, string) {
		n := len(rec.taken()) - down
		return n >= 30, fmt.Sprintf("%d invocations", n)
	})
	vl.start()
	vl.waitHTTP(t, vl.base+"/health")
	downTo := time.Now()
	t.Logf("VictoriaLogs down for %s while %d invocations ran", downTo.Sub(downFrom).Round(time.Millisecond), len(rec.taken())-down)

	// Run until the detector has evacuated the faulted zone (Prometheus sees the decision and the
	// emulator's applied shift), then check every dashboard panel against the live data.
	waitFor(t, 3*time.Minute, "evacuation of the faulted zone", func() (bool, string) {
		if done, how := runFailed(); done {
			t.Fatal(how)
		}
		ev, err1 := prom.query(`azlens_az_evacuate{faas_name="hello"}`)
		sh, err2 := prom.query(`azlens_emulator_zonal_shift_active{faas_name="hello"}`)
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(err1, err2)
		}
		return byZone(ev)[zones[1]] == 1 && byZone(sh)[zones[1]] == 1,
			fmt.Sprintf("evacuate %v, shift applied %v", byZone(ev), byZone(sh))
	})
	checkGroundTruth(t, prom)

	// A second zone fails too: the detector must not evacuate it (at most one zone is shifted, and
	// two unhealthy zones are a regional problem), so a guard blocks the shift — the one panel
	// that shows nothing unless that happens.
	startFault(t, "http://"+listen, zones[2])
	waitFor(t, 3*time.Minute, "a blocked shift", func() (bool, string) {
		if done, how := runFailed(); done {
			t.Fatal(how)
		}
		// The panel's own rate needs two samples of the counter.
		ss, err := prom.query(`sum by (reason) (rate(azlens_az_shift_blocked_total{faas_name="hello"}[5m]))`)
		if err != nil {
			return false, err.Error()
		}
		return len(ss) > 0, fmt.Sprintf("%d series", len(ss))
	})
	checkDashboard(t, prom)

	stopRun()
	r := <-ran
	if r.err != nil {
		t.Fatalf("loop: %v", r.err)
	}
	runEnd := time.Now()
	taken := rec.taken()
	printed := rec.printed()
	t.Logf("%d invocations taken by an environment, %d function lines printed, in %s", len(taken), len(printed), runEnd.Sub(runStart).Round(time.Second))

	spans := checkJaeger(t, j, taken, runStart, runEnd)
	checkVictoriaLogs(t, vl, rec, spans, downFrom, downTo)
}

// invocationSpan is what Jaeger holds for one invocation.
type invocationSpan struct {
	traceID, spanID string
}

// checkJaeger: every invocation an environment took is one trace in Jaeger with the promised
// structure.
func checkJaeger(t *testing.T, j *jaeger, taken []timedOutcome, from, to time.Time) map[string]invocationSpan {
	t.Helper()
	byRequest := map[string]timedOutcome{}
	for _, o := range taken {
		byRequest[o.RequestID] = o
	}
	var traces []jaegerTrace
	var server map[string][]jaegerSpan // by faas.invocation_id
	waitFor(t, time.Minute, "a SERVER span in Jaeger for every invocation", func() (bool, string) {
		var err error
		traces, err = j.search(functionName, from.Add(-time.Minute), to.Add(time.Minute))
		if err != nil {
			return false, err.Error()
		}
		server = map[string][]jaegerSpan{}
		for _, tr := range traces {
			for _, s := range tr.Spans {
				// The platform's invocation span; the handler's own SERVER span (the function's
				// OpenTelemetry SDK, otellambda) is joined under it and checked with the children.
				if tag(s.Tags, "span.kind") == "server" && !strings.Contains(tag(s.Tags, "otel.scope.name")+tag(s.Tags, "otel.library.name"), "otellambda") {
					id := tag(s.Tags, "faas.invocation_id")
					server[id] = append(server[id], s)
				}
			}
		}
		missing := 0
		for id := range byRequest {
			if len(server[id]) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d traces, %d of %d invocations without a span", len(traces), missing, len(byRequest))
	})

	out := map[string]invocationSpan{}
	children := map[string][]string{} // invocation span id → child span names
	inits := map[string]bool{}        // invocation span ids with an init child
	spanByID := map[string]jaegerSpan{}
	procOf := map[string]jaegerProcess{}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if _, dup := spanByID[s.SpanID]; dup {
				t.Errorf("span %s (%s) stored twice", s.SpanID, s.OperationName)
			}
			spanByID[s.SpanID] = s
			procOf[s.SpanID] = tr.Processes[s.ProcessID]
		}
	}
	for _, s := range spanByID {
		p := s.parent()
		if p == "" || tag(s.Tags, "span.kind") == "server" {
			continue
		}
		parent, ok := spanByID[p]
		if !ok {
			t.Errorf("span %s %s: parent %s not in Jaeger", s.OperationName, s.SpanID, p)
			continue
		}
		if s.TraceID != parent.TraceID {
			t.Errorf("span %s: trace %s, its parent's %s", s.OperationName, s.TraceID, parent.TraceID)
		}
		if s.OperationName == "init" {
			inits[p] = true
		}
		children[p] = append(children[p], s.OperationName)
	}
	for id, o := range byRequest {
		ss := server[id]
		if len(ss) != 1 {
			t.Errorf("invocation %s: %d SERVER spans, want 1", id, len(ss))
			continue
		}
		s := ss[0]
		proc := procOf[s.SpanID]
		out[id] = invocationSpan{s.TraceID, s.SpanID}
		if s.OperationName != functionName || proc.ServiceName != functionName {
			t.Errorf("invocation %s: span %q of service %q, want %q of %q", id, s.OperationName, proc.ServiceName, functionName, functionName)
		}
		if az := tag(proc.Tags, "cloud.availability_zone"); az != o.Zone {
			t.Errorf("invocation %s: cloud.availability_zone %q, ran in %q", id, az, o.Zone)
		}
		if env := tag(proc.Tags, "faas.instance"); env != o.Environment {
			t.Errorf("invocation %s: faas.instance %q, ran in %q", id, env, o.Environment)
		}
		// Lambda passes the trace context to the Telemetry API only for sampled requests; an
		// unsampled invocation's ids are derived from its request id.
		if want := xrayTraceID(o.TraceHeader); strings.Contains(o.TraceHeader, "Sampled=1") && s.TraceID != want {
			t.Errorf("invocation %s: trace id %s, its X-Amzn-Trace-Id %q says %s", id, s.TraceID, o.TraceHeader, want)
		}
		if o.ColdStart != inits[s.SpanID] {
			t.Errorf("invocation %s: cold start %v, init span under it %v", id, o.ColdStart, inits[s.SpanID])
		}
		if o.Status == "success" {
			// Lambda's runtimeDone spans, each a child of the invocation; extensionOverhead only
			// when the extensions held the environment after the runtime finished (checked below).
			for _, want := range []string{"responseLatency", "responseDuration", "runtimeOverhead"} {
				if !slices.Contains(children[s.SpanID], want) {
					t.Errorf("invocation %s: no %s child (children %v)", id, want, children[s.SpanID])
				}
			}
		}
	}
	// Every child of an invocation lies within it (Jaeger times are microseconds; the receiver
	// derives children from the same Telemetry API timestamps, so allow 1 ms of rounding), and
	// an extensionOverhead span, when there is one, ends the invocation.
	invocations := map[string]bool{}
	for _, inv := range out {
		invocations[inv.spanID] = true
	}
	overheads := 0
	for _, s := range spanByID {
		p := s.parent()
		if !invocations[p] || tag(s.Tags, "span.kind") == "server" || s.OperationName == "init" || s.OperationName == "restore" {
			continue // init and restore run before the invocation they are linked under
		}
		parent := spanByID[p]
		const slack = 1000 // µs
		if s.StartTime < parent.StartTime-slack || s.StartTime+s.Duration > parent.StartTime+parent.Duration+slack {
			t.Errorf("span %s [%d, +%d µs] is not within its invocation %s [%d, +%d µs]", s.OperationName, s.StartTime, s.Duration,
				parent.SpanID, parent.StartTime, parent.Duration)
		}
		if s.OperationName == "extensionOverhead" {
			overheads++
			if end, pend := s.StartTime+s.Duration, parent.StartTime+parent.Duration; end < pend-slack {
				t.Errorf("extensionOverhead of %s ends %d µs before its invocation", parent.SpanID, pend-end)
			}
		}
	}
	t.Logf("Jaeger: %d traces, %d spans, %d invocation spans, %d with extension overhead", len(traces), len(spanByID), len(out), overheads)

	// The single-trace APIs a user opens from a log line agree with the search.
	n := 0
	for id, inv := range out {
		if n == 5 {
			break
		}
		n++
		tr, err := j.trace(inv.traceID)
		if err != nil {
			t.Errorf("invocation %s: %v", id, err)
			continue
		}
		v3, err := j.traceV3SpanIDs(inv.traceID)
		if err != nil {
			t.Errorf("invocation %s: %v", id, err)
			continue
		}
		if len(v3) != len(tr.Spans) || v3[inv.spanID] != functionName {
			t.Errorf("invocation %s: /api/traces/%s has %d spans, /api/v3/traces has %d (%v)", id, inv.traceID, len(tr.Spans), len(v3), v3)
		}
	}
	return out
}

// xrayTraceID is the W3C trace id of an X-Amzn-Trace-Id's Root (1-<8 hex time>-<24 hex>).
func xrayTraceID(header string) string {
	for _, part := range strings.Split(header, ";") {
		if root, ok := strings.CutPrefix(strings.TrimSpace(part), "Root="); ok {
			f := strings.Split(root, "-")
			if len(f) == 3 {
				return f[1] + f[2]
			}
		}
	}
	return ""
}

// checkVictoriaLogs: every line the function printed is in VictoriaLogs exactly once — including
// those printed while it was down — with the stream labels the exporter promises and the trace
// and span ids of its invocation as structured metadata.
func checkVictoriaLogs(t *testing.T, vl *victoriaLogs, rec *truth, spans map[string]invocationSpan, downFrom, downTo time.Time) {
	t.Helper()
	printed := rec.printed()
	zoneOf := map[string]string{}
	var duringDowntime []string
	for _, o := range rec.taken() {
		zoneOf[o.RequestID] = o.Zone
		if !o.at.Before(downFrom) && o.at.Before(downTo) && printed[o.RequestID] > 0 {
			duringDowntime = append(duringDowntime, o.RequestID)
		}
	}
	if len(duringDowntime) == 0 {
		t.Fatal("no function line was printed while VictoriaLogs was down: the restart proved nothing")
	}
	stored := map[string][]logEntry{}
	waitFor(t, time.Minute, "every printed function line in VictoriaLogs", func() (bool, string) {
		es, err := vl.query(`{faas_name="hello"} type:=function`)
		if err != nil {
			return false, err.Error()
		}
		stored = map[string][]logEntry{}
		for _, e := range es {
			if m := functionLine.FindStringSubmatch(e["_msg"]); m != nil {
				stored[m[1]] = append(stored[m[1]], e)
			}
		}
		missing := 0
		for id := range printed {
			if len(stored[id]) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d entries, %d of %d printed lines missing", len(es), missing, len(printed))
	})
	var misjoined []string
	for id, n := range printed {
		es := stored[id]
		if len(es) != n {
			t.Errorf("request %s: printed %d line(s), VictoriaLogs holds %d", id, n, len(es))
			continue
		}
		for _, e := range es {
			for label, want := range map[string]string{
				"faas_name":               functionName,
				"service_name":            functionName,
				"cloud_availability_zone": zoneOf[id],
			} {
				if !strings.Contains(e["_stream"], fmt.Sprintf("%s=%q", label, want)) {
					t.Errorf("request %s: stream %s lacks %s=%q", id, e["_stream"], label, want)
				}
			}
			if e["faas_invocation_id"] != id {
				// Each agent batch says which invocation was active when its first event was
				// taken (agent.active), so a line is joined to the invocation that printed it
				// even when the batch is sent after the next one began.
				misjoined = append(misjoined, fmt.Sprintf("%s→%q", id, e["faas_invocation_id"]))
				continue
			}
			if s, ok := spans[id]; ok && (e["trace_id"] != s.traceID || e["span_id"] != s.spanID) {
				t.Errorf("request %s: line in %s/%s, its invocation span in Jaeger is %s/%s", id, e["trace_id"], e["span_id"], s.traceID, s.spanID)
			}
		}
	}
	if len(misjoined) > 0 {
		t.Errorf("%d of %d function lines carry another invocation's id or none: %v", len(misjoined), len(printed), misjoined)
	}
	for id := range stored {
		if printed[id] == 0 {
			t.Errorf("VictoriaLogs holds a line of request %s, which the function never printed", id)
		}
	}
	t.Logf("VictoriaLogs: %d function lines, %d of them printed while it was down; streams %v",
		len(stored), len(duringDowntime), slices.Sorted(maps.Keys(streams(stored))))
}

func streams(stored map[string][]logEntry) map[string]bool {
	out := map[string]bool{}
	for _, es := range stored {
		for _, e := range es {
			out[e["_stream"]] = true
		}
	}
	return out
}

// checkGroundTruth: the emulator's own metrics, scraped from the front door by Prometheus, show
// the injected fault and the applied shift in the faulted zone only.
func checkGroundTruth(t *testing.T, prom *prometheus) {
	t.Helper()
	for q, want := range map[string]map[string]float64{
		`azlens_emulator_zone_faulted{faas_name="hello"}`:       {zones[0]: 0, zones[1]: 1, zones[2]: 0},
		`azlens_emulator_zonal_shift_active{faas_name="hello"}`: {zones[0]: 0, zones[1]: 1, zones[2]: 0},
		`azlens_emulator_router_weight{faas_name="hello"}`:      {zones[0]: 1, zones[1]: 0, zones[2]: 1},
	} {
		ss, err := prom.query(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := byZone(ss); !maps.Equal(got, want) {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	ss, err := prom.query(`sum by (cloud_availability_zone) (azlens_emulator_invocations_total{faas_name="hello",outcome="success"})`)
	if err != nil {
		t.Fatal(err)
	}
	if got := byZone(ss); len(got) != len(zones) {
		t.Errorf("successful invocations per zone: %v, want all of %v", got, zones)
	}
	ss, err = prom.query(`azlens_emulator_experiment_fault{faas_name="hello"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Metric["cloud_availability_zone"] != zones[1] || ss[0].Metric["action"] == "" {
		t.Errorf("azlens_emulator_experiment_fault = %v, want one series for %s with its action", ss, zones[1])
	}
}

// startFault starts the az-errors scenario in zone through the front door's FIS API, as a user
// with the AWS CLI would.
func startFault(t *testing.T, frontDoor, zone string) {
	t.Helper()
	tmpl, err := experiment.Scenario("az-errors", zones, zone, 0)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ExperimentTemplate struct {
			ID string `json:"id"`
		} `json:"experimentTemplate"`
	}
	post(t, frontDoor+"/fis/experimentTemplates", tmpl, &created)
	var started struct {
		Experiment struct {
			ID string `json:"id"`
		} `json:"experiment"`
	}
	post(t, frontDoor+"/fis/experiments", map[string]string{"experimentTemplateId": created.ExperimentTemplate.ID}, &started)
	if started.Experiment.ID == "" {
		t.Fatalf("experiment in %s not started", zone)
	}
}

func post(t *testing.T, url string, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("POST %s: %v: %s", url, err, body)
	}
}
