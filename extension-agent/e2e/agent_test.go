package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// logBuffer keeps what the sandbox's processes print, shown only when a test fails.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p[:min(len(p), 300)])
		if len(p) > 300 {
			l.b.WriteString("…\n")
		}
	}
	return len(p), nil
}

type setup struct {
	env      map[string]string
	function string
	id       string
	freeze   bool       // SIGSTOP the processes between invocations, as Lambda does
	logs     *logBuffer // the sandbox's output (function and agent); nil: kept for failures only
}

// startSandbox starts a process-mode sandbox running the real azlens-agent beside a real function.
func startSandbox(t *testing.T, sink *collectortest.Sink, s setup) *emulator.Sandbox {
	t.Helper()
	env := map[string]string{
		"AZLENS_COLLECTOR_ENDPOINT": sink.URL(),
		"AZLENS_SPOOL_DIR":          t.TempDir(),
		"AZLENS_RETRY_INITIAL_MS":   "10",
		"AZLENS_RETRY_MAX_MS":       "50",
	}
	for k, v := range s.env {
		env[k] = v
	}
	fn := s.function
	if fn == "" {
		fn = functionPath
	}
	logs := s.logs
	if logs == nil {
		logs = &logBuffer{}
	}
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name:       "orders",
			MemoryMB:   256,
			Timeout:    10 * time.Second,
			Env:        env,
			Runtime:    &emulator.ProcessRuntime{Path: fn},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		},
		AZ:        "use1-az2",
		ID:        s.id,
		Freeze:    s.freeze,
		LogOutput: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("sandbox output:\n%s", logs.b.String())
			logs.mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sb.Start(ctx); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	return sb
}

func invoke(t *testing.T, sb *emulator.Sandbox, payload string) *emulator.InvokeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := sb.Invoke(ctx, &emulator.InvokeRequest{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.Status != "success" {
		t.Fatalf("invocation %s: status %s %s: %s", res.RequestID, res.Status, res.ErrorType, res.Payload)
	}
	select {
	case <-res.Done:
	case <-ctx.Done():
		t.Fatalf("invocation %s never completed", res.RequestID)
	}
	return res
}

func shutdown(t *testing.T, sb *emulator.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sb.Shutdown(ctx, emulator.ShutdownSpindown); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func waitSink(t *testing.T, sink *collectortest.Sink, what string, cond func([]collectortest.Batch) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Wait(ctx, func(b []collectortest.Batch, _ int) bool { return cond(b) }); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// index is what the collector received, by event type and request id.
type index struct {
	types    map[string]int            // type → count
	byReq    map[string]map[string]int // requestId → type → count
	lines    []string                  // function log records, in order
	maxAgent collectortest.Agent       // per counter, the highest value seen
}

func indexOf(batches []collectortest.Batch) index {
	ix := index{types: map[string]int{}, byReq: map[string]map[string]int{}}
	// Delivery is at least once: a request the agent gave up on may still have been processed,
	// and the retry then resends the same batch. (faas.instance, seq) identifies it.
	seen := map[string]bool{}
	for _, b := range batches {
		key := fmt.Sprint(b.Resource["faas.instance"], "/", b.Agent.Seq)
		if seen[key] {
			continue
		}
		seen[key] = true
		a := b.Agent
		m := &ix.maxAgent
		m.EventsReceived = max(m.EventsReceived, a.EventsReceived)
		m.EventsSpooled = max(m.EventsSpooled, a.EventsSpooled)
		m.EventsReplayed = max(m.EventsReplayed, a.EventsReplayed)
		m.EventsDropped = max(m.EventsDropped, a.EventsDropped)
		m.BatchesFailed = max(m.BatchesFailed, a.BatchesFailed)
		for _, e := range b.Events {
			ix.types[e.Type]++
			if id := e.RequestID(); id != "" {
				if ix.byReq[id] == nil {
					ix.byReq[id] = map[string]int{}
				}
				ix.byReq[id][e.Type]++
			}
			if e.Type == "function" {
				var s string
				_ = json.Unmarshal(e.Record, &s)
				ix.lines = append(ix.lines, strings.TrimRight(s, "\n"))
			}
		}
	}
	return ix
}

// complete reports whether start, runtimeDone and report of every id arrived exactly once.
func (ix index) complete(ids []string) error {
	for _, id := range ids {
		for _, typ := range []string{"platform.start", "platform.runtimeDone", "platform.report"} {
			if n := ix.byReq[id][typ]; n != 1 {
				return fmt.Errorf("%s of %s received %d times", typ, id, n)
			}
		}
	}
	return nil
}

func TestThousandInvocationsLoseNothing(t *testing.T) {
	sink := collectortest.New(t)
	sb := startSandbox(t, sink, setup{})
	var ids []string
	for range 1000 {
		ids = append(ids, invoke(t, sb, `{"mode":"log","n":2}`).RequestID)
	}
	shutdown(t, sb)
	ix := indexOf(sink.Batches())
	if err := ix.complete(ids); err != nil {
		t.Fatal(err)
	}
	if len(ix.lines) != 2000 {
		t.Fatalf("%d function log lines, want 2000", len(ix.lines))
	}
	for _, typ := range []string{"platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.extension", "platform.telemetrySubscription"} {
		if ix.types[typ] != 1 {
			t.Fatalf("%s received %d times", typ, ix.types[typ])
		}
	}
	if ix.types["platform.logsDropped"] != 0 || ix.maxAgent.EventsDropped != 0 {
		t.Fatalf("drops: logsDropped %d, agent %+v", ix.types["platform.logsDropped"], ix.maxAgent)
	}
	b := sink.Batches()[0]
	want := map[string]any{
		"cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "us-east-1",
		"cloud.account.id": "123456789012", "cloud.availability_zone": "use1-az2",
		"faas.name": "orders", "faas.version": "$LATEST", "faas.instance": sb.ID(),
		"faas.max_memory": json.Number("268435456"), "service.name": "orders",
	}
	for k, v := range want {
		if b.Resource[k] != v {
			t.Fatalf("resource %s = %v, want %v (resource %v)", k, b.Resource[k], v, b.Resource)
		}
	}
}

func TestEndModeSendsEachInvocationBeforeItEnds(t *testing.T) {
	sink := collectortest.New(t)
	// A generous flush cap: this test is about the guarantee, not the cap.
	sb := startSandbox(t, sink, setup{freeze: true, env: map[string]string{"AZLENS_FLUSH_MODE": "end", "AZLENS_COLLECTOR_COMPRESSION": "none", "AZLENS_FLUSH_TIMEOUT_MS": "5000"}})
	var ids []string
	for i := range 20 {
		res := invoke(t, sb, `{"mode":"log","n":3}`)
		ids = append(ids, res.RequestID)
		// Done closed: the agent is back at /event/next, the environment may freeze now. The
		// invocation's logs and runtimeDone must already be at the collector.
		ix := indexOf(sink.Batches())
		if ix.byReq[res.RequestID]["platform.runtimeDone"] != 1 || len(ix.lines) != 3*(i+1) {
			t.Fatalf("invocation %d ended before its data left: runtimeDone %d, lines %d",
				i, ix.byReq[res.RequestID]["platform.runtimeDone"], len(ix.lines))
		}
	}
	shutdown(t, sb)
	ix := indexOf(sink.Batches())
	if err := ix.complete(ids); err != nil {
		t.Fatalf("after shutdown (last report included): %v", err)
	}
	if sink.Batches()[0].Gzip {
		t.Fatal("compression none still gzipped")
	}
}

func TestLastReportDeliveredAtShutdown(t *testing.T) {
	for _, mode := range []string{"end", "periodic", "adaptive"} {
		t.Run(mode, func(t *testing.T) {
			sink := collectortest.New(t)
			sb := startSandbox(t, sink, setup{freeze: true, env: map[string]string{"AZLENS_FLUSH_MODE": mode, "AZLENS_BATCH_MAX_AGE_MS": "600000"}})
			var ids []string
			for range 3 {
				ids = append(ids, invoke(t, sb, `{"mode":"echo","message":"hi"}`).RequestID)
			}
			last := ids[len(ids)-1]
			if indexOf(sink.Batches()).byReq[last]["platform.report"] != 0 {
				t.Fatal("the last report cannot exist before SHUTDOWN on Lambda")
			}
			shutdown(t, sb)
			if err := indexOf(sink.Batches()).complete(ids); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCollectorOutageSpoolsAndReplays(t *testing.T) {
	sink := collectortest.New(t)
	spool := t.TempDir()
	var mu sync.Mutex
	down, spilled := true, false
	sink.Respond(func(int) collectortest.Response {
		mu.Lock()
		defer mu.Unlock()
		// The outage lasts until the agent has spilled to disk: the Telemetry API pushes
		// asynchronously, so on a loaded machine the 40 invocations can end before their events
		// reach the agent, and an outage ended by the test alone could end before anything was
		// spooled (CI saw that once).
		if !spilled {
			batches, _ := filepath.Glob(filepath.Join(spool, "*.json*")) // not .lock
			spilled = len(batches) > 0
		}
		if down || !spilled {
			return collectortest.Response{Status: 503}
		}
		return collectortest.Response{}
	})
	sb := startSandbox(t, sink, setup{env: map[string]string{
		"AZLENS_MEMORY_LIMIT_BYTES": "262144",
		"AZLENS_SPOOL_DIR":          spool,
	}})
	var ids []string
	for range 40 {
		ids = append(ids, invoke(t, sb, `{"mode":"log","n":100}`).RequestID)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	for range 5 {
		ids = append(ids, invoke(t, sb, `{"mode":"log","n":100}`).RequestID)
	}
	// Replay runs in the background while the environment is thawed.
	waitSink(t, sink, "replay", func(b []collectortest.Batch) bool {
		return indexOf(b).byReq[ids[len(ids)-2]]["platform.report"] == 1 && len(indexOf(b).lines) == 4500
	})
	// The counters travel in each batch as of its sending: one more invocation after the replay
	// carries the replayed count (a replayed spool file keeps the counters it was written with).
	ids = append(ids, invoke(t, sb, `{"mode":"echo","message":"after"}`).RequestID)
	shutdown(t, sb)
	ix := indexOf(sink.Batches())
	if err := ix.complete(ids); err != nil {
		t.Fatal(err)
	}
	if len(ix.lines) != 4500 {
		t.Fatalf("%d log lines, want 4500", len(ix.lines))
	}
	if a := ix.maxAgent; a.EventsSpooled == 0 || a.EventsReplayed == 0 || a.EventsDropped != 0 || a.BatchesFailed == 0 {
		t.Fatalf("the outage is not visible in the agent counters: %+v", a)
	}
}

func TestNextEnvironmentReplaysWhatTheLastOneSpooled(t *testing.T) {
	spool := t.TempDir()
	down := collectortest.New(t)
	down.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	env := map[string]string{"AZLENS_SPOOL_DIR": spool}
	first := startSandbox(t, down, setup{env: env, id: "env-first"})
	var ids []string
	for range 3 {
		ids = append(ids, invoke(t, first, `{"mode":"log","n":5}`).RequestID)
	}
	shutdown(t, first)
	if entries, _ := os.ReadDir(spool); len(entries) == 0 {
		t.Fatal("nothing spooled at shutdown with the collector down")
	}

	up := collectortest.New(t)
	second := startSandbox(t, up, setup{env: env, id: "env-second"})
	waitSink(t, up, "replay by the next environment", func(b []collectortest.Batch) bool {
		return indexOf(b).complete(ids) == nil
	})
	for _, b := range up.Batches() {
		ix := indexOf([]collectortest.Batch{b})
		if ix.byReq[ids[0]] != nil && b.Resource["faas.instance"] != "env-first" {
			t.Fatalf("replayed batch has resource %v, want the first environment's", b.Resource)
		}
	}
	shutdown(t, second)
}

func TestSlowCollectorNeverHoldsTheFunction(t *testing.T) {
	sink := collectortest.New(t)
	sink.Hold()
	sb := startSandbox(t, sink, setup{env: map[string]string{
		"AZLENS_FLUSH_MODE":           "end",
		"AZLENS_FLUSH_TIMEOUT_MS":     "100",
		"AZLENS_COLLECTOR_TIMEOUT_MS": "300",
	}})
	var ids []string
	for range 10 {
		// invoke fails the test unless the status is success and Done closes.
		ids = append(ids, invoke(t, sb, `{"mode":"log","n":2}`).RequestID)
	}
	sink.Release()
	waitSink(t, sink, "delivery after the collector caught up", func(b []collectortest.Batch) bool {
		ix := indexOf(b)
		return ix.byReq[ids[len(ids)-1]]["platform.runtimeDone"] == 1 && len(ix.lines) == 20
	})
	shutdown(t, sb)
	if err := indexOf(sink.Batches()).complete(ids); err != nil {
		t.Fatal(err)
	}
}

func TestCollectorAnswers(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			sink := collectortest.New(t)
			sink.Respond(func(n int) collectortest.Response {
				if n < 6 {
					return collectortest.Response{Status: status}
				}
				return collectortest.Response{}
			})
			sb := startSandbox(t, sink, setup{env: map[string]string{"AZLENS_FLUSH_MODE": "end"}})
			var ids []string
			for range 10 {
				ids = append(ids, invoke(t, sb, `{"mode":"log","n":2}`).RequestID)
			}
			shutdown(t, sb)
			ix := indexOf(sink.Batches())
			if err := ix.complete(ids); err != nil {
				t.Fatal(err)
			}
			if len(ix.lines) != 20 || ix.maxAgent.EventsDropped != 0 || ix.maxAgent.BatchesFailed < 6 {
				t.Fatalf("lines %d agent %+v", len(ix.lines), ix.maxAgent)
			}
		})
	}
	t.Run("400", func(t *testing.T) {
		sink := collectortest.New(t)
		sink.Respond(func(n int) collectortest.Response {
			if n == 0 {
				return collectortest.Response{Status: 400}
			}
			return collectortest.Response{}
		})
		sb := startSandbox(t, sink, setup{env: map[string]string{"AZLENS_FLUSH_MODE": "end"}})
		for range 3 {
			invoke(t, sb, `{"mode":"log","n":2}`)
		}
		shutdown(t, sb)
		ix := indexOf(sink.Batches())
		// The rejected batch is gone for good, but never silently: later batches count it.
		if ix.maxAgent.EventsDropped == 0 || ix.maxAgent.EventsDropped != ix.maxAgent.EventsReceived-uint64(collectortest.CountEvents(sink.Batches())) {
			t.Fatalf("agent %+v, %d events delivered", ix.maxAgent, collectortest.CountEvents(sink.Batches()))
		}
	})
}

func TestBigAndManyLogLines(t *testing.T) {
	t.Run("300KB lines", func(t *testing.T) {
		sink := collectortest.New(t)
		sb := startSandbox(t, sink, setup{function: biglinePath})
		for range 3 {
			invoke(t, sb, `{"lines":2,"size":307200}`)
		}
		shutdown(t, sb)
		ix := indexOf(sink.Batches())
		// Lines over 256 KB reach the Telemetry API as several records (as on Lambda): every
		// piece must arrive, in order, so the lines can be put back together byte for byte.
		var want strings.Builder
		for range 3 {
			for i := range 2 {
				head := fmt.Sprintf("big %d ", i)
				want.WriteString(head + strings.Repeat("y", 307200-len(head)))
			}
		}
		if got := strings.Join(ix.lines, ""); got != want.String() {
			t.Fatalf("%d records, %d bytes, want %d bytes of 6 lines", len(ix.lines), len(got), want.Len())
		}
		if len(ix.lines) <= 6 {
			t.Fatalf("%d records: the lines were not split, the test proves nothing about split records", len(ix.lines))
		}
	})
	t.Run("1000 lines per invocation", func(t *testing.T) {
		sink := collectortest.New(t)
		sb := startSandbox(t, sink, setup{})
		var ids []string
		for range 5 {
			ids = append(ids, invoke(t, sb, `{"mode":"log","n":1000}`).RequestID)
		}
		shutdown(t, sb)
		ix := indexOf(sink.Batches())
		if err := ix.complete(ids); err != nil {
			t.Fatal(err)
		}
		if len(ix.lines) != 5000 {
			t.Fatalf("%d lines, want 5000", len(ix.lines))
		}
		for i, l := range ix.lines {
			if l != fmt.Sprintf("log line %d", i%1000) {
				t.Fatalf("line %d is %q: lost or out of order", i, l)
			}
		}
	})
}

func TestInvalidConfigurationFailsInitNamingTheVariable(t *testing.T) {
	sink := collectortest.New(t)
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{Function: emulator.Function{
		Env:        map[string]string{"AZLENS_COLLECTOR_ENDPOINT": sink.URL(), "AZLENS_FLUSH_MODE": "sometimes"},
		Runtime:    &emulator.ProcessRuntime{Path: functionPath},
		Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = sb.Start(ctx)
	var ie *emulator.InitError
	if !errors.As(err, &ie) || ie.ErrorType != "Extension.InitError" {
		t.Fatalf("start: %v, want Extension.InitError", err)
	}
	if !strings.Contains(ie.Message, "AZLENS_FLUSH_MODE") && !strings.Contains(ie.Message, "AzlensAgent.InvalidConfig") {
		t.Fatalf("init error message %q names neither the variable nor the error type", ie.Message)
	}
}

func TestMissingCollectorNeverFailsTheFunction(t *testing.T) {
	for name, endpoint := range map[string]string{"unset": "", "unreachable": "http://127.0.0.1:1"} {
		t.Run(name, func(t *testing.T) {
			sink := collectortest.New(t)
			sb := startSandbox(t, sink, setup{env: map[string]string{"AZLENS_COLLECTOR_ENDPOINT": endpoint}})
			for range 5 {
				invoke(t, sb, `{"mode":"log","n":2}`) // fails the test unless success and Done
			}
			shutdown(t, sb)
		})
	}
}

// TestLogLevelIsTheValidatedSetting: the agent's log level is AZLENS_LOG_LEVEL as its
// configuration validated it — at warn, its info lines (start and shutdown summary) are gone.
func TestLogLevelIsTheValidatedSetting(t *testing.T) {
	for level, wantInfo := range map[string]bool{"info": true, "warn": false} {
		t.Run(level, func(t *testing.T) {
			out := &logBuffer{}
			sb := startSandbox(t, collectortest.New(t), setup{logs: out, env: map[string]string{"AZLENS_LOG_LEVEL": level}})
			invoke(t, sb, `{"mode":"echo","message":"hi"}`)
			shutdown(t, sb)
			out.mu.Lock()
			got := out.b.String()
			out.mu.Unlock()
			for _, msg := range []string{`msg="forwarding telemetry"`, `msg="shut down"`} {
				if strings.Contains(got, msg) != wantInfo {
					t.Errorf("AZLENS_LOG_LEVEL=%s: info line %s present = %v, want %v; output:\n%s", level, msg, !wantInfo, wantInfo, got)
				}
			}
		})
	}
}
