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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/emulatortest"
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
		if err := testbin.Build("-trimpath", "-ldflags", "-s -w", "-o", agentPath, "github.com/azlens/azlens/extension-agent/cmd/azlens-agent"); err != nil {
			return err
		}
		collectorPath = filepath.Join(dir, "azlens-collector")
		return testbin.Build("-o", collectorPath, "github.com/azlens/azlens/cmd/azlens-collector")
	}))
}

// invocationsPerZone is the CI scale; bench runs the same test with AZLENS_SOAK_INVOCATIONS=3334
// (10,000 across the three zones).
func invocationsPerZone(t *testing.T) int {
	if v := os.Getenv("AZLENS_SOAK_INVOCATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60 {
			t.Fatalf("AZLENS_SOAK_INVOCATIONS=%q: want a number ≥ 60", v)
		}
		return n
	}
	return 120
}

// TestFaultSoak: three zones invoke a real aws-lambda-go function with the real agent while the
// path to the real collector goes through every fault in turn, one phase each:
//
//	healthy → collector SIGKILLed and restarted → connections refused → requests black-holed
//	(time out) → 503 → 502 → collector SIGKILLed and restarted again → healthy
//
// and every 10th invocation of a zone times out, which resets its environment (SHUTDOWN
// "timeout" while the agent holds events, the agent killed at the deadline, a new init). Then every
// environment shuts down. The collector exports synchronously (no sending queue), so its 200 to the
// agent means the sink has the data: what the collector acknowledged cannot die with it.
//
// Asserted: every event of every invocation — platform.start, the function's log lines,
// runtimeDone, report — reached the sink (none lost; duplicates of a retried batch are allowed in
// logs and counted), no agent dropped anything, and the cumulative faas.invocations counted no
// invocation twice (and missed at most the invocations straddling a kill, see below).
func TestFaultSoak(t *testing.T) {
	perZone := invocationsPerZone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	sink := startSink(t)
	collectorAddr := freeAddr(t)
	col := &collector{t: t, config: fmt.Sprintf(collectorConfig, collectorAddr, sink.addr)}
	col.start(ctx)
	t.Cleanup(col.kill)
	proxy := startProxy(t, collectorAddr)

	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	boxes := make([]*emulator.Sandbox, len(zones))
	for i, zone := range zones {
		sb, err := emulator.NewSandbox(emulator.SandboxConfig{
			Function: emulator.Function{
				Name:    "soak",
				Timeout: time.Second,
				Env: map[string]string{
					"AZLENS_COLLECTOR_ENDPOINT":   "http://" + proxy.addr,
					"AZLENS_COLLECTOR_TIMEOUT_MS": "300",
					"AZLENS_RETRY_INITIAL_MS":     "20",
					"AZLENS_RETRY_MAX_MS":         "200",
					"AZLENS_SPOOL_DIR":            t.TempDir(),
				},
				Runtime:    &emulator.ProcessRuntime{Path: functionPath},
				Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
			},
			AZ:        zone,
			LogOutput: io.Discard,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Start(ctx); err != nil {
			t.Fatal(err)
		}
		boxes[i] = sb
	}

	// Phases, each a slice of every zone's invocations.
	phases := []struct {
		name  string
		enter func()
	}{
		{"healthy", func() {}},
		{"collector killed", func() { col.kill() }},
		{"collector restarted", func() { col.start(ctx) }},
		{"connections refused", func() { proxy.setMode(modeRefuse) }},
		{"black-holed", func() { proxy.setMode(modeBlackhole) }},
		{"503", func() { proxy.setMode(mode503) }},
		{"502", func() { proxy.setMode(mode502) }},
		{"healthy again", func() { proxy.setMode(modePass) }},
		{"collector killed again", func() { col.kill() }},
		{"collector restarted again", func() { col.start(ctx) }},
	}
	per := perZone / len(phases)
	var mu sync.Mutex
	want := map[string]map[string]int{} // requestId → event type → records expected
	timedOut := map[string]int{}
	for p, ph := range phases {
		ph.enter()
		var wg sync.WaitGroup
		for z, sb := range boxes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range per {
					n := p*per + k
					payload := `{"mode":"log","n":2}`
					if n%10 == 9 {
						payload = `{"mode":"sleep","ms":1500}` // past the 1 s timeout: the environment resets
					}
					ictx, icancel := context.WithTimeout(ctx, 30*time.Second)
					res, err := sb.Invoke(ictx, &emulator.InvokeRequest{Payload: []byte(payload)})
					if err != nil {
						icancel()
						t.Errorf("%s, zone %s, invocation %d: %v", ph.name, zones[z], n, err)
						return
					}
					<-res.Done
					icancel()
					mu.Lock()
					switch res.Status {
					case "success":
						want[res.RequestID] = map[string]int{"platform.start": 1, "function": 2, "platform.runtimeDone": 1, "platform.report": 1}
					case "timeout":
						want[res.RequestID] = map[string]int{"platform.start": 1, "platform.runtimeDone": 1, "platform.report": 1}
						timedOut[zones[z]]++
					default:
						t.Errorf("%s: invocation %s ended %s (%s)", ph.name, res.RequestID, res.Status, res.ErrorType)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, sb := range boxes {
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		if err := sb.Shutdown(sctx, emulator.ShutdownSpindown); err != nil {
			t.Errorf("shutdown %s: %v", sb.AZ(), err)
		}
		scancel()
	}

	// Every agent has exited: what it acknowledged to nobody is spooled or lost, and the sink is
	// final once the collector has nothing in flight. Wait until everything expected is there
	// or the deadline says it never will be.
	total := 0
	for _, types := range want {
		for _, n := range types {
			total += n
		}
	}
	got := sink.waitEvents(ctx, want)
	lost, dup := 0, 0
	for id, types := range want {
		for typ, n := range types {
			if g := got[id][typ]; g < n {
				lost += n - g
			} else {
				dup += g - n
			}
		}
	}
	// A collector restart splits some invocations: start and runtimeDone went to the killed
	// process, the report to its successor, which holds it waiting for the rest until its
	// correlation timeout or its shutdown. Stop it as a deploy would (SIGTERM) so it emits them.
	col.stop()
	counted := sink.invocationsCounted()
	invocations := len(want)
	t.Logf("zones=%d invocations=%d (resets %v) events=%d lost=%d duplicate_log_records=%d faas.invocations counted=%d; agent drop counters %v",
		len(zones), invocations, timedOut, total, lost, dup, counted, sink.agentDrops())
	if lost != 0 {
		t.Errorf("%d of %d events lost", lost, total)
	}
	// Never double-counted: a retried batch is recognised by its seq, and a batch applied by a
	// collector that died before answering is counted only in that collector's last export if the
	// invocation completed there. Undercounted by at most one invocation per environment and
	// SIGKILL: the one whose report reached a successor that holds it (waiting for its start)
	// and is itself killed before its correlation timeout — the receiver counts an invocation when
	// its span is emitted. Its events are not lost (checked above); only its count.
	const kills = 2
	if counted > invocations {
		t.Errorf("faas.invocations counted %d invocations; there were %d: double-counted across restarts", counted, invocations)
	}
	if counted < invocations-len(zones)*kills {
		t.Errorf("faas.invocations counted %d invocations; there were %d: more lost than the %d straddling %d kills can explain", counted, invocations, len(zones)*kills, kills)
	}
	if d := sink.agentDrops(); d != 0 {
		t.Errorf("agents report %d dropped events although no bound was reached", d)
	}
}

const collectorConfig = `
receivers:
  lambdatelemetry:
    endpoint: %s
exporters:
  otlp_http:
    endpoint: http://%s
    # Synchronous: the receiver answers the agent only once the sink has the data, so a SIGKILL
    # can only lose what was never acknowledged (and the agent retries that).
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [lambdatelemetry]
      exporters: [otlp_http]
    metrics:
      receivers: [lambdatelemetry]
      exporters: [otlp_http]
`

// collector is the real azlens-collector binary, killed with SIGKILL and started again on the
// same address.
type collector struct {
	t      *testing.T
	config string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    bytes.Buffer
}

func (c *collector) start(ctx context.Context) {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(collectorPath, "--config", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			c.mu.Lock()
			c.log.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if strings.Contains(sc.Text(), "Everything is ready") {
				once.Do(func() { close(ready) })
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-exited:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.t.Fatalf("collector exited before it was ready:\n%s", c.log.String())
	case <-ctx.Done():
		c.t.Fatalf("collector not ready: %v", ctx.Err())
	}
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
}

// stop ends the collector as a deploy does (SIGTERM) and waits until it has exited.
func (c *collector) stop() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
}

func (c *collector) kill() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

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

// sink is the OTLP/HTTP endpoint the collector exports to.
type sink struct {
	addr    string
	logs    consumertest.LogsSink
	metrics consumertest.MetricsSink
	got     chan struct{}
}

func startSink(t *testing.T) *sink {
	s := &sink{addr: freeAddr(t), got: make(chan struct{}, 1)}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{
		"protocols": map[string]any{"http": map[string]any{"endpoint": s.addr}},
	}).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	set := receivertest.NewNopSettings(f.Type())
	lr, err := f.CreateLogs(context.Background(), set, cfg, notifying{s})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMetrics(context.Background(), set, cfg, notifying{s})
	if err != nil {
		t.Fatal(err)
	}
	if err := lr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := mr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lr.Shutdown(context.Background())
		_ = mr.Shutdown(context.Background())
	})
	return s
}

type notifying struct{ s *sink }

func (n notifying) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (n notifying) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	err := n.s.logs.ConsumeLogs(ctx, ld)
	n.poke()
	return err
}

func (n notifying) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	err := n.s.metrics.ConsumeMetrics(ctx, md)
	n.poke()
	return err
}

func (n notifying) poke() {
	select {
	case n.s.got <- struct{}{}:
	default:
	}
}

// waitEvents waits until every request id in want has at least its count of log records of each
// type (or ctx ends) and returns the counts seen.
func (s *sink) waitEvents(ctx context.Context, want map[string]map[string]int) map[string]map[string]int {
	for {
		got := s.eventsByRequest()
		complete := true
		for id, types := range want {
			for typ, n := range types {
				if got[id][typ] < n {
					complete = false
				}
			}
		}
		if complete {
			return got
		}
		select {
		case <-s.got:
		case <-ctx.Done():
			return got
		}
	}
}

// eventsByRequest counts the log records per faas.invocation_id and event type (platform events
// and function lines; the agent's own extension lines are not the functions' data).
func (s *sink) eventsByRequest() map[string]map[string]int {
	got := map[string]map[string]int{}
	for _, ld := range s.logs.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes()
					id, ok := a.Get("faas.invocation_id")
					typ, _ := a.Get("type")
					if !ok {
						continue
					}
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

// agentDrops sums the agents' own cumulative events_dropped counters (last value per series).
func (s *sink) agentDrops() int {
	last := map[string]int64{}
	s.eachPoint("azlens.agent.events_dropped", func(key string, v int64) { last[key] = max(last[key], v) })
	total := 0
	for _, v := range last {
		total += int(v)
	}
	return total
}

func (s *sink) eachPoint(name string, f func(series string, v int64)) {
	for _, md := range s.metrics.AllMetrics() {
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
						f(key, dp.IntValue())
					}
				}
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
