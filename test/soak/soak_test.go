// Package soak runs the agent → collector path through the failures that lose telemetry in the
// field — a collector killed and restarted, connections refused, requests black-holed, a gateway
// answering 503 and 502, execution environments reset in the middle of a batch — and counts every
// event the functions produced against what came out of the collector.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/emulatortest"
	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/e2etest"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/internal/testbin"
)

var collectorPath, functionPath, agentPath string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, "azlens-soak-", func(dir string) error {
		var err error
		if functionPath, err = emulatortest.BuildFunction(filepath.Join(dir, "fn")); err != nil {
			return err
		}
		agentPath = filepath.Join(dir, "extensions", "azlens-agent")
		if err := testbin.BuildAgent(agentPath); err != nil {
			return err
		}
		collectorPath = filepath.Join(dir, "azlens-collector")
		return testbin.Build("-o", collectorPath, "github.com/azlens/azlens/cmd/azlens-collector")
	}))
}

// collectorConfig takes the receiver's address, the sink's and the storage directory, which
// outlives every collector process of a test as a disk does.
const collectorConfig = `
extensions:
  file_storage/lambdatelemetry:
    directory: %s
receivers:
  lambdatelemetry:
    endpoint: %s
    # Applied batches persisted: the agent's retry of one the killed collector exported but
    # never answered is a duplicate to its successor, not a second count.
    storage: file_storage/lambdatelemetry
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
    # Synchronous: the receiver answers the agent only once the sink has the data, so a SIGKILL
    # can only lose what was never acknowledged (and the agent retries that).
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  extensions: [file_storage/lambdatelemetry]
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [lambdatelemetry]
      exporters: [otlp_grpc]
    metrics:
      receivers: [lambdatelemetry]
      exporters: [otlp_grpc]
`

// collector is the real azlens-collector binary on a fixed address, killed and started again.
type collector struct {
	t      *testing.T
	config string
	proc   *e2etest.Collector
}

func (c *collector) start() { c.proc = e2etest.StartCollector(c.t, collectorPath, c.config) }

// kill is a crash: SIGKILL, nothing drained.
func (c *collector) kill() { c.proc.Kill() }

// stop is a deploy: SIGTERM, the pipelines drained.
func (c *collector) stop() { c.proc.Stop(c.t) }

// Proxy modes: what the agents' connections to the collector meet.
const (
	modePass      int32 = iota // forwarded to the collector
	modeRefuse                 // nothing listens: connection refused
	modeBlackhole              // accepted and never answered: the agent's request times out
	mode503                    // a gateway answers 503 Service Unavailable
	mode502                    // a gateway answers 502 Bad Gateway
)

type proxy struct {
	t       *testing.T
	addr    string
	target  string
	mode    atomic.Int32
	mu      sync.Mutex
	ln      net.Listener
	conns   sync.WaitGroup
	closing chan struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, closing: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		close(p.closing)
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
		}
		p.mu.Unlock()
		p.conns.Wait()
	})
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.conns.Add(1)
	go func() {
		defer p.conns.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go func() { defer p.conns.Done(); p.handle(c) }()
		}
	}()
}

func (p *proxy) setMode(m int32) {
	old := p.mode.Swap(m)
	switch {
	case m == modeRefuse:
		p.mu.Lock()
		p.ln.Close()
		p.ln = nil
		p.mu.Unlock()
	case old == modeRefuse:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Fatalf("proxy listens again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

func (p *proxy) handle(c net.Conn) {
	defer c.Close()
	switch p.mode.Load() {
	case modePass:
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			return // the collector is down: the agent sees the connection close
		}
		defer up.Close()
		done := make(chan struct{})
		go func() { _, _ = io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
		_, _ = io.Copy(c, up)
		<-done
	case modeBlackhole:
		// Read and never answer, until the agent gives up or the test ends.
		go func() { <-p.closing; c.Close() }()
		_, _ = io.Copy(io.Discard, c)
	case mode503, mode502:
		status := "503 Service Unavailable"
		if p.mode.Load() == mode502 {
			status = "502 Bad Gateway"
		}
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\nRetry-After: 0\r\n\r\n"); err != nil {
				return
			}
		}
	}
}

// sink is the OTLP endpoint the collector exports to.
type sink struct{ *e2etest.Sink }

func startSink(t *testing.T) *sink { return &sink{e2etest.OTLPSink(t)} }

// waitEvents waits until every request id in want has at least its count of log records of each
// type and returns the counts seen.
func (s *sink) waitEvents(t *testing.T, want map[string]map[string]int) map[string]map[string]int {
	var got map[string]map[string]int
	s.Wait(t, "every event of every invocation", func() (bool, string) {
		got = s.eventsByRequest()
		missing := 0
		for id, types := range want {
			for typ, n := range types {
				missing += max(n-got[id][typ], 0)
			}
		}
		if missing == 0 {
			return true, ""
		}
		var which []string
		for id, types := range want {
			for typ, n := range types {
				if got[id][typ] < n && len(which) < 10 {
					which = append(which, fmt.Sprintf("%s %s (%d of %d)", id, typ, got[id][typ], n))
				}
			}
		}
		return false, fmt.Sprintf("%d events missing, e.g. %v", missing, which)
	})
	return got
}

// eventsByRequest counts the log records per faas.invocation_id ("" for none) and event type.
func (s *sink) eventsByRequest() map[string]map[string]int {
	got := map[string]map[string]int{}
	for _, ld := range s.Logs.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes()
					id, _ := a.Get("faas.invocation_id") // "" for a line of no known invocation
					typ, _ := a.Get("type")
					if got[id.Str()] == nil {
						got[id.Str()] = map[string]int{}
					}
					got[id.Str()][typ.Str()]++
				}
			}
		}
	}
	return got
}

// invocationsCounted sums faas.invocations over environments and outcomes, taking the last value
// of each cumulative series (a series is its resource, attributes and start time: a collector
// restart starts new ones).
func (s *sink) invocationsCounted() int {
	last := map[string]int64{}
	s.eachPoint("faas.invocations", func(key string, v int64) { last[key] = max(last[key], v) })
	total := 0
	for _, v := range last {
		total += int(v)
	}
	return total
}

// agentDrops sums the agents' own cumulative events_dropped counters.
func (s *sink) agentDrops() int { return s.lastSum(contract.MetricAgentPrefix + "events_dropped") }

// lastSum sums the last value of each series of a cumulative counter.
func (s *sink) lastSum(name string) int {
	last := map[string]int64{}
	s.eachPoint(name, func(key string, v int64) { last[key] = max(last[key], v) })
	total := 0
	for _, v := range last {
		total += int(v)
	}
	return total
}

func (s *sink) eachPoint(name string, f func(series string, v int64)) {
	for _, md := range s.Metrics.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			inst, _ := rms.At(i).Resource().Attributes().Get("faas.instance")
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					if m.Name() != name || m.Type() != pmetric.MetricTypeSum {
						continue
					}
					dps := m.Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						key := fmt.Sprintf("%s|%v|%d", inst.AsString(), dp.Attributes().AsRaw(), dp.StartTimestamp())
						v := dp.IntValue()
						if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
							v = int64(dp.DoubleValue()) // the agent's counters travel as doubles
						}
						f(key, v)
					}
				}
			}
		}
	}
}

// shutdownRecord is the agent's count of record: the counters of its last log line ("shut down"),
// written after its final flush and whatever that flush had to drop.
type shutdownRecord struct {
	received, forwarded, spooled, dropped int
	finalReported                         bool
}

var logField = regexp.MustCompile(`(\w+)=(\S+)`)

// lastShutdownRecord parses the last "shut down" line the agent printed.
func lastShutdownRecord(t *testing.T, out string) shutdownRecord {
	t.Helper()
	var line string
	for l := range strings.Lines(out) {
		if strings.Contains(l, `msg="shut down"`) && strings.Contains(l, "ext=azlens-agent") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("the agent printed no shutdown line; its output:\n%s", out)
	}
	var r shutdownRecord
	for _, m := range logField.FindAllStringSubmatch(line, -1) {
		n, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "received":
			r.received = n
		case "forwarded":
			r.forwarded = n
		case "spooled":
			r.spooled = n
		case "dropped":
			r.dropped = n
		case "final_reported":
			r.finalReported = m[2] == "true"
		}
	}
	return r
}

// syncBuffer collects the sandbox's process output, written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recordCount is the number of log records the sink holds: one per event the collector accepted.
func (s *sink) recordCount() int {
	n := 0
	for _, ld := range s.Logs.AllLogs() {
		n += ld.LogRecordCount()
	}
	return n
}

// TestForcedDropsAreCounted: when the collector stays away longer than the agent's bounds allow
// (the smallest memory bound, no spool), the agent must drop — and every event it drops must be
// counted, to the last one: also what it drops at SHUTDOWN after its final flush, which it reports
// in a final counters-only batch when the collector answers and in its shutdown log line always.
// Accounting, exact where the data allow it:
//
//	emulator delivered to the agent = agent received              (Telemetry API ground truth)
//	agent received = forwarded + dropped                          (no spool: nothing left over)
//	forwarded ≤ records at the sink ≤ received                    (acknowledged ⇒ exported)
//
// so every event the agent accepted and the sink lacks is in its dropped count; and every event of
// an invocation that is missing was lost either at the agent or in Lambda's own buffers.
func TestForcedDropsAreCounted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sink := startSink(t)
	collectorAddr := freeport.Addr(t)
	col := &collector{t: t, config: fmt.Sprintf(collectorConfig, t.TempDir(), collectorAddr, sink.Addr)}
	proxy := startProxy(t, collectorAddr)
	proxy.setMode(modeRefuse) // the collector is not there yet

	var out syncBuffer
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name:    "drops",
			Timeout: 5 * time.Second,
			Env: map[string]string{
				"AZLENS_COLLECTOR_ENDPOINT": "http://" + proxy.addr,
				// Refused connections fail at once whatever the timeout; a generous one keeps a
				// collector slowed by a loaded machine from being taken for a dead one (a request
				// it applied but answered late would be counted dropped yet be delivered).
				"AZLENS_COLLECTOR_TIMEOUT_MS": "2000",
				"AZLENS_RETRY_INITIAL_MS":     "20",
				"AZLENS_RETRY_MAX_MS":         "100",
				"AZLENS_MEMORY_LIMIT_BYTES":   "262144",
				"AZLENS_SPOOL_LIMIT_BYTES":    "0",
				"AZLENS_TELEMETRY_TYPES":      "platform,function",
				"AZLENS_FLUSH_MODE":           "periodic",
			},
			Runtime:    &emulator.ProcessRuntime{Path: functionPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		},
		AZ:        "use1-az1",
		LogOutput: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int{}
	invoke := func(lines int) {
		t.Helper()
		res, err := sb.Invoke(ctx, &emulator.InvokeRequest{Payload: []byte(fmt.Sprintf(`{"mode":"log","n":%d}`, lines))})
		if err != nil || res.Status != "success" {
			t.Fatalf("invoke: %v %+v", err, res)
		}
		<-res.Done
		want[res.RequestID] = map[string]int{"platform.start": 1, "function": lines, "platform.runtimeDone": 1, "platform.report": 1}
	}
	// About 1 MB of log lines while nothing can be sent: four times the memory bound.
	for range 40 {
		invoke(1000)
	}
	proxy.setMode(modePass)
	col.start()
	// Afterwards a few small invocations carry the agent's counters to the collector.
	for range 5 {
		invoke(1)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := sb.Shutdown(sctx, emulator.ShutdownSpindown); err != nil {
		t.Fatal(err)
	}
	col.stop()

	rec := lastShutdownRecord(t, out.String())
	hub := sb.TelemetryStats()
	got := sink.eventsByRequest()
	missing := 0
	for id, types := range want {
		for typ, n := range types {
			missing += max(n-got[id][typ], 0)
		}
	}
	// A function line whose invocation's platform.start was dropped arrives attributed by the
	// batch's agent.active; one that still arrives without an invocation id is delivered, not lost.
	lostInvocations := max(missing-got[""]["function"], 0)
	atSink := sink.recordCount()
	lostAtAgent := rec.received - atSink
	// Drops happen in two places: the agent's bounds (azlens.agent.events_dropped) and Lambda's
	// own buffers when the agent reads slower than the function logs (platform.logsDropped →
	// aws.lambda.telemetry.dropped_records; the emulator's ground truth has them all).
	agentMetric, lambdaMetric := sink.agentDrops(), sink.lastSum(contract.MetricDroppedRecords)
	for _, k := range []string{"events_received", "events_forwarded", "events_spooled", "events_replayed", "events_dropped", "batches_sent", "batches_failed"} {
		t.Logf("agent %s at the collector = %d", k, sink.lastSum(contract.MetricAgentPrefix+k))
	}
	t.Logf("agent's shutdown record %+v; Telemetry API delivered %d, dropped %d (reported %d); sink holds %d records; "+
		"lost: %d events of the invocations, %d of what the agent received; delivered though counted dropped: %d",
		rec, hub.Delivered, hub.DroppedRecords, lambdaMetric, atSink, lostInvocations, lostAtAgent, atSink-rec.forwarded)
	if lostInvocations == 0 {
		t.Fatal("nothing was dropped: the test did not exceed the agent's memory bound")
	}
	if int(hub.Delivered) != rec.received {
		t.Errorf("the Telemetry API delivered %d events, the agent counted %d received", hub.Delivered, rec.received)
	}
	if rec.received != rec.forwarded+rec.dropped || rec.spooled != 0 {
		t.Errorf("the agent's counters do not balance: received %d ≠ forwarded %d + dropped %d (spooled %d, no spool)",
			rec.received, rec.forwarded, rec.dropped, rec.spooled)
	}
	if atSink < rec.forwarded || atSink > rec.received {
		t.Errorf("the sink holds %d records; the agent had %d acknowledged of %d received", atSink, rec.forwarded, rec.received)
	}
	if lostAtAgent > rec.dropped {
		t.Errorf("%d events the agent received never reached the sink, but it counted %d dropped: drops not counted", lostAtAgent, rec.dropped)
	}
	if lostInvocations > max(lostAtAgent, 0)+int(hub.DroppedRecords) {
		t.Errorf("%d events of the invocations are missing; the agent lost %d and Lambda's buffers %d", lostInvocations, lostAtAgent, hub.DroppedRecords)
	}
	if lambdaMetric > int(hub.DroppedRecords) {
		t.Errorf("platform.logsDropped reported %d dropped records, the Telemetry API dropped %d", lambdaMetric, hub.DroppedRecords)
	}
	// The collector has the count of record too, when the final counters reached it.
	if rec.finalReported && agentMetric != rec.dropped {
		t.Errorf("the agent reported its final counters, but the collector has %d dropped, the agent %d", agentMetric, rec.dropped)
	}
	if !rec.finalReported && agentMetric > rec.dropped {
		t.Errorf("the collector has %d dropped, more than the agent's final %d", agentMetric, rec.dropped)
	}
}

// countsByEnvironment compares, per execution environment (faas.instance), the invocations whose
// platform.report reached the sink with what faas.invocations counted there, series by series
// (a collector restart starts new ones), for the environments where they differ: the place and
// the collector process (series start) of a double count or a missed one.
func (s *sink) countsByEnvironment() []string {
	reports := map[string]map[string]bool{} // instance → request ids with a report
	for _, ld := range s.Logs.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			inst, _ := rls.At(i).Resource().Attributes().Get("faas.instance")
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes()
					if typ, _ := a.Get("type"); typ.Str() != "platform.report" {
						continue
					}
					id, _ := a.Get("faas.invocation_id")
					if reports[inst.AsString()] == nil {
						reports[inst.AsString()] = map[string]bool{}
					}
					reports[inst.AsString()][id.Str()] = true
				}
			}
		}
	}
	series := map[string]map[string]int64{} // instance → series → last value
	s.eachPoint("faas.invocations", func(key string, v int64) {
		inst, rest, _ := strings.Cut(key, "|")
		if series[inst] == nil {
			series[inst] = map[string]int64{}
		}
		series[inst][rest] = max(series[inst][rest], v)
	})
	var diff []string
	for inst := range mergeKeys(reports, series) {
		var counted int64
		for _, v := range series[inst] {
			counted += v
		}
		if int(counted) != len(reports[inst]) {
			diff = append(diff, fmt.Sprintf("%s: %d reports, counted %d in %v", inst, len(reports[inst]), counted, series[inst]))
		}
	}
	return diff
}

func mergeKeys[A, B any](a map[string]A, b map[string]B) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
