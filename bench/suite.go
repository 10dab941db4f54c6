package main

import "time"

// The suite of docs/benchmark-suite.md, mapped onto the Go benchmarks that exist in the packages.
// Each entry is one row group of the table (B1…B9, then the extra figures of docs/benchmarks.md);
// it runs one or more `go test -bench` invocations, and checks the spec's targets against the
// medians over -count runs.

// Entry is one group of the table.
type Entry struct {
	ID    string // "B1"…"B9", or a tag for the figures the spec does not number
	Title string
	Runs  []RunSpec
	// Show lists the metrics printed in the table, in this order (every metric is in the JSON).
	// Metrics with a target are always printed. Empty: every metric.
	Show    []string
	Derived []Derived
	Targets []Target
	Limits  []string // keys of the physical limits printed under the group header
	Note    string   // what the benchmarks cover of the spec's row, when not all of it
}

// RunSpec is one `go test -run '^$' -bench Bench -benchtime … -count … Pkg`. Identical specs of
// different entries run once and are shared.
type RunSpec struct {
	Pkg            string // relative to the module root, e.g. "./internal/telemetryevent/"
	Bench          string // the -bench regexp
	Benchtime      string
	Count          int
	QuickBenchtime string
	QuickCount     int
	Env            []string // e.g. GOMAXPROCS=1 where the spec speaks of one core
	Long           bool     // minutes of wall time (paced runs, soaks): skipped by -quick
	// Parallel runs the -count as this many concurrent go test processes of -count
	// Count/Parallel each (outputs merged), for runs bound by timers rather than CPU: the
	// E2E matrix's real-time loops. 0 or 1: one process.
	Parallel int
	Timeout  time.Duration // go test -timeout when longer than the driver's default
	// Expand turns what a benchmark logs into benchmarks of its own (B9 logs one row per scenario).
	Expand func([]*Bench) []*Bench
}

// Target is a target of the spec on one metric of the benchmarks whose name matches Bench.
type Target struct {
	Bench  string // regexp on the full benchmark name, e.g. "^BenchmarkB1/"
	Metric string
	Op     string // ">=" or "<="
	Value  float64
	Spec   string // the spec's words, printed beside the verdict
}

// Derived is a metric computed from two others of the same -count run (paired run by run, so
// that both sides share the machine's state of the moment), attached to the benchmark Bench.
type Derived struct {
	Bench  string // exact benchmark name the metric is attached to
	Metric string
	Op     string // "/" (A ÷ B) or "-" (A − B)
	A, B   Ref
}

// Ref names one metric of one benchmark (exact name).
type Ref struct{ Bench, Metric string }

// Suite is the benchmark suite of docs/benchmark-suite.md.
func Suite() []Entry {
	ingest := RunSpec{Pkg: "./extension-agent/listener/", Bench: "^BenchmarkIngest$",
		Benchtime: "200x", Count: 5, QuickBenchtime: "5x", QuickCount: 1}
	overhead := RunSpec{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkInvokeOverhead$",
		Benchtime: "300x", Count: 5, QuickBenchtime: "10x", QuickCount: 1}
	const b3 = "BenchmarkB3Receiver/path="
	const b4 = "BenchmarkInvokeOverhead"
	return []Entry{
		{
			ID: "B1", Title: "decode Telemetry batches (ratios paired round by round, GOMAXPROCS=1)",
			Runs: []RunSpec{{Pkg: "./internal/telemetryevent/", Bench: "^BenchmarkB1$",
				Benchtime: "7x", Count: 5, QuickBenchtime: "1x", QuickCount: 1, Env: []string{"GOMAXPROCS=1"}}},
			Show: []string{"ns/event", "MB/s", "x_json", "x_raw", "x_ceiling", "allocs/event"},
			Targets: []Target{
				{Bench: "^BenchmarkB1/", Metric: "x_json", Op: ">=", Value: 8, Spec: "≥ 8× encoding/json"},
				{Bench: "^BenchmarkB1/", Metric: "x_raw", Op: ">=", Value: 0.5, Spec: "≥ 0.5× raw fastjson"},
				{Bench: "^BenchmarkB1/", Metric: "allocs/event", Op: "<=", Value: 1, Spec: "≤ 1 alloc/event"},
			},
			Limits: []string{"fastjson"},
		},
		{
			ID: "B2", Title: "agent listener ingest vs a null net/http handler",
			Runs: []RunSpec{ingest},
			Show: []string{"agent-MiB/s", "null-MiB/s", "ratio"},
			Targets: []Target{
				{Bench: "^BenchmarkIngest/", Metric: "ratio", Op: ">=", Value: 0.6, Spec: "≥ 0.6× the null server"},
			},
			Limits: []string{"tcp", "http"},
		},
		{
			ID: "B3", Title: "collector events per CPU-second: receiver → mapping → azhealth → no-op, vs receiver → no-op",
			Note: "in-process collector path (agent-format batches over loopback HTTP); the agent process is not in the path. " +
				"B3Receiver: the receiver alone vs a bare HTTP server that reads bodies (x_http)",
			Runs: []RunSpec{
				{Pkg: "./receiver/lambdatelemetryreceiver/", Bench: "^BenchmarkB3Pipeline$",
					Benchtime: "7x", Count: 5, QuickBenchtime: "1x", QuickCount: 1, Env: []string{"GOMAXPROCS=1"}},
				{Pkg: "./receiver/lambdatelemetryreceiver/", Bench: "^BenchmarkB3Receiver$",
					Benchtime: "1s", Count: 5, QuickBenchtime: "20x", QuickCount: 1},
			},
			Show: []string{"events/cpu-s", "floor-events/cpu-s", "http-events/cpu-s", "x_floor", "x_http"},
			Derived: []Derived{
				{Bench: b3 + "mapping", Metric: "x_http", Op: "/",
					A: Ref{b3 + "mapping", "events/cpu-s"}, B: Ref{b3 + "floor", "events/cpu-s"}},
			},
			Targets: []Target{
				{Bench: "^BenchmarkB3Pipeline$", Metric: "events/cpu-s", Op: ">=", Value: 200e3, Spec: "≥ 200k events/CPU-s end to end"},
				{Bench: "^BenchmarkB3Pipeline$", Metric: "x_floor", Op: ">=", Value: 0.7, Spec: "≥ 0.7× the framework floor"},
			},
			Limits: []string{"http"},
		},
		{
			ID: "B4", Title: "per-invoke overhead, back to back: agent vs no-op extension vs none",
			Note: "back to back, then paced at 1 / 10 / 100 invokes/s (n = 30 / 200 / 1000) with collector down and slow cases",
			Runs: []RunSpec{overhead, {Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkInvokeOverheadPaced$",
				Benchtime: "1x", Count: 1, QuickBenchtime: "1x", QuickCount: 1, Long: true}},
			Show: []string{"none-resp-p99-ms", "noop-resp-p99-ms", "agent-resp-p99-ms", "resp-dp99-ms",
				"noop-post-p99-ms", "agent-post-p99-ms", "post-dp99-ms", "agent-end-post-p50-ms"},
			Derived: []Derived{
				{Bench: b4, Metric: "resp-dp99-ms", Op: "-", A: Ref{b4, "agent-resp-p99-ms"}, B: Ref{b4, "noop-resp-p99-ms"}},
				{Bench: b4, Metric: "post-dp99-ms", Op: "-", A: Ref{b4, "agent-post-p99-ms"}, B: Ref{b4, "noop-post-p99-ms"}},
			},
			Targets: []Target{
				{Bench: "^" + b4 + "$", Metric: "resp-dp99-ms", Op: "<=", Value: 0.5, Spec: "response Δp99 ≤ 0.5 ms"},
				{Bench: "^" + b4 + "$", Metric: "post-dp99-ms", Op: "<=", Value: 2, Spec: "post-runtime Δp99 ≤ 2 ms"},
			},
		},
		{
			ID: "B5", Title: "freshness: invocation answered → its runtimeDone accepted by the collector",
			Note: "back to back, per flush mode; reference: the subscription's timeoutMs (25 ms); zero loss at SHUTDOWN is a test, not a benchmark",
			Runs: []RunSpec{{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkFreshness$",
				Benchtime: "100x", Count: 5, QuickBenchtime: "5x", QuickCount: 1}},
			Show: []string{"fresh-p50-ms", "fresh-p99-ms"},
			Targets: []Target{
				{Bench: "^BenchmarkFreshness/", Metric: "fresh-p99-ms", Op: "<=", Value: 25 + 100, Spec: "p99 ≤ timeoutMs (25) + 100 ms"},
			},
		},
		{
			ID: "B6", Title: "agent cold start (sandbox init) vs a no-op extension built the same way",
			Runs: []RunSpec{{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkReadyTime$",
				Benchtime: "20x", Count: 5, QuickBenchtime: "2x", QuickCount: 1}},
			Show: []string{"noop-ready-ms", "agent-ready-ms", "delta-ready-ms", "agent-binary-MiB"},
			Targets: []Target{
				{Bench: "^BenchmarkReadyTime$", Metric: "delta-ready-ms", Op: "<=", Value: 5, Spec: "Δ ≤ 5 ms"},
				{Bench: "^BenchmarkReadyTime$", Metric: "agent-binary-MiB", Op: "<=", Value: 8, Spec: "stripped binary ≤ 8 MB (MiB here)"},
			},
			Limits: []string{"exec"},
		},
		{
			ID: "B7", Title: "agent memory (RSS) vs the no-op extension",
			Note: "idle = after the B4 run; outage = after b.N invocations × 100 lines with the collector answering 503; soak = RSS slope over ~3 minutes of invocations; 60 s outage",
			Runs: []RunSpec{overhead, {Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkOutageMemory$",
				Benchtime: "300x", Count: 3, QuickBenchtime: "5x", QuickCount: 1},
				{Pkg: "./extension-agent/e2e/", Bench: "^Benchmark(SoakRSS|OutageRSS)$", Benchtime: "1x", Count: 1, QuickBenchtime: "1x", QuickCount: 1, Long: true}},
			Show: []string{"noop-rss-MiB", "azlens-agent-rss-MiB"},
			Targets: []Target{
				{Bench: "^" + b4 + "$", Metric: "azlens-agent-rss-MiB", Op: "<=", Value: 15, Spec: "idle ≤ 15 MB RSS (MiB here)"},
			},
		},
		{
			ID: "OTLP", Title: "the function's own OpenTelemetry through the agent (issue 11)",
			Note: "ingest: OTLP/HTTP protobuf exports over loopback vs a null net/http handler; first: 200 back-to-back calls from the first after init, fresh sandboxes per iteration, agent (adaptive, sending to a collector that decodes nothing) vs no extension, and a null Telemetry subscriber for reference; sdk: examples/hello (OTel SDK + otellambda) exporting to the agent vs to a closed port",
			Runs: []RunSpec{
				{Pkg: "./extension-agent/otlpin/", Bench: "^BenchmarkIngest$", Benchtime: "200x", Count: 5, QuickBenchtime: "20x", QuickCount: 1},
				{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkFirstInvocations$", Benchtime: "3x", Count: 3, QuickBenchtime: "1x", QuickCount: 1},
				{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkSDKExport$", Benchtime: "300x", Count: 3, QuickBenchtime: "20x", QuickCount: 1},
			},
			Show: []string{"agent-MiB/s", "null-MiB/s", "ratio", "none-first-p99-ms", "nullsub-first-p99-ms", "agent-first-p99-ms", "first-dp99-ms",
				"nowhere-resp-p99-ms", "agent-resp-p99-ms", "sdk-dp99-ms"},
			Targets: []Target{
				{Bench: "^BenchmarkFirstInvocations$", Metric: "first-dp99-ms", Op: "<=", Value: 1, Spec: "back to back from the first call after init: client Δp99 ≤ 1 ms over 200 calls"},
			},
		},
		{
			ID: "B8", Title: "overload and correctness (logsDropped onset, split records, 2×maxBytes bodies)",
			Runs: []RunSpec{{Pkg: "./extension-agent/listener/", Bench: "^Benchmark(B8|Overload)",
				Benchtime: "100x", Count: 5, QuickBenchtime: "5x", QuickCount: 1},
				{Pkg: "./extension-agent/e2e/", Bench: "^BenchmarkB8LogsDropped$", Benchtime: "1x", Count: 3, QuickBenchtime: "1x", QuickCount: 1, Long: true}},
		},
		{
			ID: "E2E", Title: "detection through the real loop (azlens up: processes, agents, collector), spec timings, 6 min a run",
			Note: "one run per count and scenario, the 5 counts as 5 concurrent go test processes (each loop is timer-bound, ≈ 0.3 core; about 66 min for the matrix instead of 5.5 h); 999 = never; B9 above is the same detector in simulated time",
			Runs: []RunSpec{{Pkg: "./internal/loop/", Bench: "^BenchmarkE2E$", Benchtime: "1x", Count: 5,
				QuickBenchtime: "1x", QuickCount: 1, Long: true, Parallel: 5, Timeout: 90 * time.Minute}},
			Show: []string{"alarm-s", "shift-s", "failed-before", "failed-after", "false-alarms"},
			Targets: []Target{
				{Bench: "^BenchmarkE2E/", Metric: "false-alarms", Op: "<=", Value: 0, Spec: "no false alarm"},
				{Bench: "^BenchmarkE2E/none$", Metric: "shift-s", Op: ">=", Value: 999, Spec: "no fault: never shifts"},
				{Bench: "^BenchmarkE2E/two-az-errors$", Metric: "shift-s", Op: ">=", Value: 999, Spec: "two zones: never shifts (regional)"},
				{Bench: "^BenchmarkE2E/az-errors$", Metric: "shift-s", Op: "<=", Value: 90, Spec: "5 % errors: 60–70 s, ≤ 90 s"},
				{Bench: "^BenchmarkE2E/az-latency$", Metric: "shift-s", Op: "<=", Value: 90, Spec: "latency 100 %: ~50 s, ≤ 90 s"},
				{Bench: "^BenchmarkE2E/az-latency-10$", Metric: "shift-s", Op: "<=", Value: 90, Spec: "latency 10 %: 80–90 s"},
				{Bench: "^BenchmarkE2E/az-crash$", Metric: "shift-s", Op: "<=", Value: 60, Spec: "crash: ~50 s + the invocation timeout"},
				{Bench: "^BenchmarkE2E/telemetry-loss-errors$", Metric: "shift-s", Op: "<=", Value: 90, Spec: "30 % loss + 5 % errors: 60–70 s"},
				{Bench: "^BenchmarkE2E/telemetry-loss-errors-300rps$", Metric: "shift-s", Op: "<=", Value: 70, Spec: "the same at the spec's 100/s per zone: 60–70 s"},
				{Bench: "^BenchmarkE2E/low-traffic$", Metric: "shift-s", Op: "<=", Value: 110, Spec: "2/s per zone, 10 % errors: 60–110 s"},
				{Bench: "^BenchmarkE2E/flapping$", Metric: "shift-s", Op: "<=", Value: 90, Spec: "flapping 5 %: 60–70 s, one shift"},
			},
		},
		{
			ID: "B9", Title: "detection: simulated time from fault start to ALARM and zonal shift (100 seeds per row)",
			Note: "seeds are fixed, so one run suffices; zero false alarms over 8 simulated hours is a test (TestNoFalseAlarmsEightHours), not a benchmark",
			Runs: []RunSpec{
				{Pkg: "./processor/azhealthprocessor/internal/detector/", Bench: "^BenchmarkB9Detection$",
					Benchtime: "1x", Count: 1, QuickBenchtime: "1x", QuickCount: 1, Expand: expandB9},
				{Pkg: "./processor/azhealthprocessor/internal/detector/", Bench: "^BenchmarkB9Tick$",
					Benchtime: "1s", Count: 5, QuickBenchtime: "100x", QuickCount: 1},
			},
			Show: []string{"alarm-fired", "alarm-p50-s", "alarm-p90-s", "shift-p90-s", "ns/op"},
			Targets: []Target{
				{Bench: "^BenchmarkB9Detection/crash$", Metric: "alarm-p90-s", Op: "<=", Value: 60, Spec: "crash ≤ 60 s (p90)"},
				{Bench: "^BenchmarkB9Detection/errors 5%$", Metric: "alarm-p90-s", Op: "<=", Value: 90, Spec: "5 % errors ≤ 90 s (p90)"},
				{Bench: "^BenchmarkB9Detection/errors 0.3%$", Metric: "alarm-fired", Op: "<=", Value: 0, Spec: "0.3 % skew never fires"},
				{Bench: "^BenchmarkB9Detection/latency 3%$", Metric: "alarm-fired", Op: "<=", Value: 0, Spec: "no fire (az-health.md)"},
				{Bench: "^BenchmarkB9Detection/telemetry loss 30%$", Metric: "alarm-fired", Op: "<=", Value: 0, Spec: "no alarm (az-health.md)"},
			},
		},
		{
			ID: "TESTBED", Title: "collector testbed: the azlens-collector process fed over loopback at stepped rates, vs its own OTLP receiver",
			Note: "CPU and RSS of the collector process only; x_otlp = invocations per CPU-second through the pipeline ÷ the same invocations as OTLP through the otlp receiver, same process, same step",
			Runs: []RunSpec{{Pkg: "./cmd/azlens-collector/", Bench: "^BenchmarkTestbed$",
				Benchtime: "1x", Count: 3, QuickBenchtime: "1x", QuickCount: 1}},
			Show:    []string{"events/s", "events/cpu-s", "invocations/cpu-s", "x_otlp", "cores", "rss-MiB", "rss-first-MiB", "rss-last-MiB", "rss-growth-MiB"},
			Derived: testbedDerived(),
			Targets: []Target{
				{Bench: "^BenchmarkTestbed/rate=200000/path=pipeline$", Metric: "events/cpu-s", Op: ">=", Value: 500e3, Spec: "≥ 500k events/CPU-s end to end"},
				{Bench: "^BenchmarkTestbed/rate=200000/path=pipeline$", Metric: "x_otlp", Op: ">=", Value: 1, Spec: "≥ 1× the OTLP floor"},
				{Bench: "^BenchmarkTestbed/steady$", Metric: "rss-growth-MiB", Op: "<=", Value: 2, Spec: "memory flat at a steady rate"},
			},
		},
		{
			ID: "COST", Title: "cost curves: the detector and the receiver's correlation table as the fleet grows",
			Note: "functions × 3 zones × 10 environments, 3 series each, 10 s tick; heap is the live heap once the 5-minute window is full (detector) or the table is filled (correlation)",
			Runs: []RunSpec{
				{Pkg: "./processor/azhealthprocessor/internal/detector/", Bench: "^BenchmarkCostCurve$",
					Benchtime: "3x", Count: 3, QuickBenchtime: "1x", QuickCount: 1},
				{Pkg: "./processor/azhealthprocessor/", Bench: "^BenchmarkCostCurveObserve$",
					Benchtime: "3x", Count: 3, QuickBenchtime: "1x", QuickCount: 1},
				{Pkg: "./receiver/lambdatelemetryreceiver/internal/mapping/", Bench: "^BenchmarkCostCurveCorrelation$",
					Benchtime: "20x", Count: 3, QuickBenchtime: "2x", QuickCount: 1},
			},
			Show: []string{"series", "heap-B/series", "heap-MiB", "tick-ns/series", "tick-ms", "core-share", "heap-B/open", "sweep-ns/open"},
			Targets: []Target{
				{Bench: "^BenchmarkCostCurve/functions=10000$", Metric: "heap-MiB", Op: "<=", Value: 1024, Spec: "10,000 functions × 3 zones ≤ 1 GiB"},
				{Bench: "^BenchmarkCostCurve/functions=10000$", Metric: "core-share", Op: "<=", Value: 1, Spec: "within one core at a 10 s tick"},
				{Bench: "^BenchmarkCostCurveObserve/functions=10000$", Metric: "core-share", Op: "<=", Value: 1, Spec: "within one core at a 10 s tick (with pdata conversion)"},
			},
		},
		{
			ID: "EMU", Title: "embedded runtime: Invoke round trip ÷ a direct call of the same handler",
			Runs: []RunSpec{
				{Pkg: "./emulator/", Bench: "^BenchmarkInvoke", Benchtime: "2000x", Count: 5, QuickBenchtime: "50x", QuickCount: 1},
				{Pkg: "./emulator/region/", Bench: "^BenchmarkFrontDoor", Benchtime: "2000x", Count: 5, QuickBenchtime: "50x", QuickCount: 1}},
			Show:   []string{"p50-ns", "p50-ratio", "p99-ratio", "invocations/s"},
			Limits: []string{"http", "exec"},
		},
		{
			ID: "HUB", Title: "Telemetry API hub delivery vs encoding + synchronous POSTs (GOMAXPROCS=1)",
			Runs: []RunSpec{{Pkg: "./emulator/internal/telemetry/", Bench: ".",
				Benchtime: "1s", Count: 5, QuickBenchtime: "1000x", QuickCount: 1, Env: []string{"GOMAXPROCS=1"}}},
			Show: []string{"cpu-ns/event", "events/s", "ns/op"},
		},
		{
			ID: "LOKI", Title: "Loki push encoding ÷ plain protobuf marshalling of the same request",
			Runs: []RunSpec{{Pkg: "./exporter/lokiexporter/", Bench: "^BenchmarkPushEncoding$",
				Benchtime: "1s", Count: 5, QuickBenchtime: "20x", QuickCount: 1}},
			Show: []string{"entries/s", "x_reference", "snappy_ratio"},
		},
	}
}

// testbedDerived pairs each rate's pipeline with the OTLP anchor of the same step.
func testbedDerived() []Derived {
	var out []Derived
	for _, rate := range []string{"25000", "50000", "100000", "200000"} {
		p := "BenchmarkTestbed/rate=" + rate + "/path="
		out = append(out, Derived{Bench: p + "pipeline", Metric: "x_otlp", Op: "/",
			A: Ref{p + "pipeline", "invocations/cpu-s"}, B: Ref{p + "otlp", "invocations/cpu-s"}})
	}
	return out
}
