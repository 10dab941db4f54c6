package lambdatelemetryreceiver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/internal/agentload"
	"github.com/azlens/azlens/processor/azhealthprocessor"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// BenchmarkB3Pipeline is B3 (docs/benchmark-suite.md) for the in-process
// collector path: agent-format batches POSTed over loopback HTTP →
// lambdatelemetry receiver (decode, correlation, span/log/metric mapping) →
// traces and logs to no-op consumers, metrics through the azhealth
// processor (default config) to a no-op consumer ("pipeline"), against the
// same receiver with every signal going straight to no-op consumers
// ("floor", the framework floor of the spec) and a bare confighttp server
// that only reads the body ("http"), all three running in the same
// process. One b.Loop iteration is three rounds, in rotated order (ABC, BCA,
// CAB: every path runs in every position), in each of which every path
// receives ~50 ms of CPU worth of batches after a GC outside the
// measurement. (The order used to reverse, ABC then CBA, which put the floor
// second in every round, always right after another path; x_floor then read
// 0.97–1.19, median 1.10, in one run of 2026-12-05, against 0.93–1.01,
// median 0.96, rotated, same machine and load (≈ 5 on 2 cores). Returning
// freed pages before each segment with debug.FreeOSMemory was tried and
// dropped: every segment then faulted its heap back in, which cut all three
// paths' figures about threefold.) CPU is utime+stime of this process
// (client included, identically for all).
// Each batch carries a new agent seq and new request ids, so no batch is a
// retry and every invocation is new to the correlation table.
//
// Reported: medians over rounds of events per CPU-second of the pipeline
// (target ≥ 200k), and the paired per-round ratios pipeline/floor (target
// ≥ 0.7) and pipeline/http. Run e.g. with GOMAXPROCS=1 -benchtime 7x.
func BenchmarkB3Pipeline(b *testing.B) {
	const invocations = 100
	ctx := context.Background()
	toAZHealth := 0 // data points; the receiver consumes synchronously

	paths := []struct {
		name string
		url  string
		gen  *b3Gen
	}{
		{name: "pipeline"}, {name: "floor"}, {name: "http"},
	}
	for i := range paths {
		paths[i].gen = newB3Gen(invocations, "env-"+paths[i].name)
	}
	paths[2].gen.reuse = true

	// pipeline: receiver → azhealth → no-op (metrics), no-op (traces, logs).
	{
		pf := azhealthprocessor.NewFactory()
		proc, err := pf.CreateMetrics(ctx, processortest.NewNopSettings(pf.Type()), pf.CreateDefaultConfig(), consumertest.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		if err := proc.Start(ctx, componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = proc.Shutdown(ctx) }()
		// Counts what reaches azhealth, to check that the path is exercised.
		counted, err := consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
			toAZHealth += md.DataPointCount()
			return proc.ConsumeMetrics(ctx, md)
		})
		if err != nil {
			b.Fatal(err)
		}
		paths[0].url = b3StartReceiver(b, consumertest.NewNop(), consumertest.NewNop(), counted) + AgentBatchPath
	}
	// floor: the same receiver, every signal to no-op.
	paths[1].url = b3StartReceiver(b, consumertest.NewNop(), consumertest.NewNop(), consumertest.NewNop()) + AgentBatchPath
	// http: the receiver's confighttp server with a handler that only reads.
	{
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		ln, err := cfg.ToListener(ctx)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := cfg.ToServer(ctx, nil, componenttest.NewNopTelemetrySettings(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"accepted":600}`))
		}))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		defer func() { _ = srv.Close(); <-done }()
		paths[2].url = "http://" + ln.Addr().String() + AgentBatchPath
	}

	client := &http.Client{}
	defer client.CloseIdleConnections()
	post := func(url string, body []byte) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
	}
	// Warm up every path (connections, correlation tables, pools).
	for _, p := range paths {
		for range 3 {
			post(p.url, p.gen.Next())
		}
	}

	// Posts per segment: ~50 ms of CPU each, so that the CPU clock's
	// granularity does not matter (20 ms segments lowered x_http, the
	// per-segment costs weighing more).
	posts := make([]int, len(paths))
	for i, p := range paths {
		bodies := p.gen.batch(20)
		cpu0 := cpuTime()
		for _, body := range bodies {
			post(p.url, body)
		}
		perPost := (cpuTime() - cpu0) / 20
		posts[i] = max(20, int(50*time.Millisecond/max(perPost, time.Microsecond)))
	}

	var rate [3][]float64 // events per CPU-second, per round
	for b.Loop() {
		for first := range len(paths) {
			for k := range len(paths) {
				i := (first + k) % len(paths)
				p := &paths[i]
				bodies := p.gen.batch(posts[i]) // generated outside the measurement
				// Collect the garbage of what ran before, outside the
				// measurement, so that no path pays for another's.
				runtime.GC()
				cpu0 := cpuTime()
				for _, body := range bodies {
					post(p.url, body)
				}
				cpu := cpuTime() - cpu0
				rate[i] = append(rate[i], float64(len(bodies)*p.gen.events)/cpu.Seconds())
			}
		}
	}
	b.StopTimer()
	if toAZHealth == 0 {
		b.Fatal("no metrics reached the azhealth processor")
	}
	paired := func(ref int) float64 {
		r := make([]float64, len(rate[0]))
		for k := range r {
			r[k] = rate[0][k] / rate[ref][k]
		}
		return b3Median(r)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(b3Median(rate[0]), "events/cpu-s")
	b.ReportMetric(b3Median(rate[1]), "floor-events/cpu-s")
	b.ReportMetric(b3Median(rate[2]), "http-events/cpu-s")
	b.ReportMetric(paired(1), "x_floor")
	b.ReportMetric(paired(2), "x_http")
}

// b3StartReceiver starts a receiver on a loopback port and returns its
// base URL; it is shut down when the benchmark ends.
func b3StartReceiver(b *testing.B, traces consumer.Traces, logs consumer.Logs, metrics consumer.Metrics) string {
	b.Helper()
	ctx := context.Background()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	set := receivertest.NewNopSettings(metadata.Type)
	r, err := f.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.CreateLogs(ctx, set, cfg, logs); err != nil {
		b.Fatal(err)
	}
	if _, err := f.CreateMetrics(ctx, set, cfg, metrics); err != nil {
		b.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Shutdown(ctx) })
	return "http://" + r.(*lambdaReceiver).listenAddr.String()
}

// b3Gen produces agent-format batches (the agent's wire format, version 1)
// of n complete invocations each: start, a text and a JSON function log
// line, an extension log line, runtimeDone with spans and tracing, report
// (6n events). Every batch gets the next seq and fresh request ids, patched
// into fixed-width places of one template.
type b3Gen struct {
	*agentload.Template
	events int
	// reuse allows batch to repeat bodies.
	reuse bool
}

func newB3Gen(n int, instance string) *b3Gen {
	var ev []string
	for range n {
		id := "6f7f0961-5f8a-4b1e-9f2c-" + agentload.IDMark
		ev = append(ev,
			`{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}`,
			`{"time":"2026-03-01T10:00:00.001Z","type":"function","record":"2026-03-01T10:00:00.001Z\t`+id+`\tINFO\tprocessing order o-42 for customer c-7\n"}`,
			`{"time":"2026-03-01T10:00:00.002Z","type":"function","record":{"timestamp":"2026-03-01T10:00:00.002Z","level":"INFO","requestId":"`+id+`","message":"charged card","amount":12.5}}`,
			`{"time":"2026-03-01T10:00:00.003Z","type":"extension","record":"flushed\n"}`,
			`{"time":"2026-03-01T10:00:00.020Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":20.5,"producedBytes":15},"spans":[{"name":"responseLatency","start":"2026-03-01T10:00:00.000Z","durationMs":18.2},{"name":"responseDuration","start":"2026-03-01T10:00:00.018Z","durationMs":0.3}],"tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}`,
			`{"time":"2026-03-01T10:00:00.022Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":22.0,"billedDurationMs":23,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`,
		)
	}
	return &b3Gen{Template: agentload.NewTemplate(n, ev, agentload.Resource(instance, "use1-az1")), events: len(ev)}
}

// batch returns n bodies; those of the http path (which keeps no state)
// cycle through a few, to keep memory small.
func (g *b3Gen) batch(n int) [][]byte {
	bodies := make([][]byte, n)
	for k := range bodies {
		if g.reuse && k >= 8 {
			bodies[k] = bodies[k%8]
			continue
		}
		bodies[k] = g.Next()
	}
	return bodies
}

func b3Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
