package main

import (
	"bytes"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testdata/gotest-bench.txt is real `go test -v -benchmem -bench` output of B1 (GOMAXPROCS=1,
// -count 2), the Loki exporter, B3, B2 (-count 2) and B9 (-count 2, with its log rows).
func parseSample(t *testing.T) *Output {
	t.Helper()
	f, err := os.Open("testdata/gotest-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := ParseOutput(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func find(t *testing.T, benches []*Bench, name string) *Bench {
	t.Helper()
	for _, b := range benches {
		if b.Name == name {
			return b
		}
	}
	var names []string
	for _, b := range benches {
		names = append(names, b.Name)
	}
	t.Fatalf("no benchmark %q in %q", name, names)
	return nil
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestParseSample(t *testing.T) {
	out := parseSample(t)
	if len(out.Failures) != 0 {
		t.Errorf("failures: %q", out.Failures)
	}
	wantNames := []string{
		"BenchmarkB1/platform/n=100",
		"BenchmarkPushEncoding/reference=proto_marshal",
		"BenchmarkPushEncoding/exporter=encode+marshal+snappy",
		"BenchmarkPushEncoding/ratio",
		"BenchmarkB3Receiver/path=floor",
		"BenchmarkB3Receiver/path=decode",
		"BenchmarkB3Receiver/path=mapping",
		"BenchmarkIngest/256KiB",
		"BenchmarkIngest/1MiB",
		"BenchmarkIngest/2MiB",
		"BenchmarkB9Detection",
		"BenchmarkB9Tick/tick",
		"BenchmarkB9Tick/observe_300_envs_and_tick",
	}
	var got []string
	for _, b := range out.Benches {
		got = append(got, b.Name)
		if len(b.Runs) != 2 {
			t.Errorf("%s: %d runs, want 2 (-count 2)", b.Name, len(b.Runs))
		}
	}
	if !slices.Equal(got, wantNames) {
		t.Fatalf("names:\n got %q\nwant %q", got, wantNames)
	}

	b1 := find(t, out.Benches, "BenchmarkB1/platform/n=100")
	for metric, want := range map[string]float64{
		"x_json":       (7.346 + 7.222) / 2, // median of two = their mean
		"x_raw":        (0.4099 + 0.5410) / 2,
		"allocs/event": 0,
		"MB/s":         (645.72 + 646.80) / 2,
	} {
		if got := b1.Median[metric]; !near(got, want) {
			t.Errorf("B1 median %s = %v, want %v", metric, got, want)
		}
	}
	if _, ok := b1.Median["ns/op"]; ok {
		t.Error("B1 reports ns/op 0, which go test leaves out; the parser invented one")
	}
	if b1.Min["x_json"] != 7.222 || b1.Max["x_json"] != 7.346 {
		t.Errorf("x_json range %v…%v", b1.Min["x_json"], b1.Max["x_json"])
	}
	if b1.Runs[0].N != 3 {
		t.Errorf("B1 N = %d, want 3", b1.Runs[0].N)
	}

	loki := find(t, out.Benches, "BenchmarkPushEncoding/reference=proto_marshal")
	if loki.Runs[1].Metrics["B/op"] != 409878 || loki.Runs[1].Metrics["allocs/op"] != 1 || loki.Runs[0].Metrics["ns/op"] != 466319 {
		t.Errorf("loki run metrics: %v", loki.Runs)
	}
	if got := find(t, out.Benches, "BenchmarkB9Tick/tick").Median["ns/op"]; got != (13441+11828)/2.0 {
		t.Errorf("tick median ns/op = %v", got)
	}

	det := find(t, out.Benches, "BenchmarkB9Detection")
	for i, r := range det.Runs {
		if len(r.Log) != 11 {
			t.Errorf("B9 run %d: %d log lines, want 11 (one per scenario)", i, len(r.Log))
		}
	}
	if tick := find(t, out.Benches, "BenchmarkB9Tick/tick"); len(tick.Runs[0].Log) != 0 {
		t.Errorf("logs of B9Detection leaked into B9Tick: %q", tick.Runs[0].Log)
	}
}

func TestExpandB9(t *testing.T) {
	benches := expandB9(parseSample(t).Benches)
	rows := 0
	for _, b := range benches {
		if strings.HasPrefix(b.Name, "BenchmarkB9Detection/") {
			rows++
			if len(b.Runs) != 2 {
				t.Errorf("%s: %d runs, want 2", b.Name, len(b.Runs))
			}
		}
	}
	if rows != 11 {
		t.Fatalf("%d scenario rows, want 11", rows)
	}
	crash := find(t, benches, "BenchmarkB9Detection/crash")
	for metric, want := range map[string]float64{"alarm-fired": 1, "alarm-p50-s": 53, "alarm-p90-s": 57, "shift-p90-s": 57, "wrong-shift-count": 0} {
		if got := crash.Median[metric]; got != want {
			t.Errorf("crash %s = %v, want %v", metric, got, want)
		}
	}
	if got := find(t, benches, "BenchmarkB9Detection/low traffic 2 rps, 10% errors").Median["alarm-p90-s"]; got != 148 {
		t.Errorf("low traffic p90 = %v, want 148 (2m28s)", got)
	}
	never := find(t, benches, "BenchmarkB9Detection/errors 0.3%")
	if never.Median["alarm-fired"] != 0 {
		t.Errorf("0.3%%: alarm-fired = %v", never.Median["alarm-fired"])
	}
	if _, ok := never.Median["alarm-p90-s"]; ok {
		t.Error(`0.3%: a p90 of "-" (never fired) became a number`)
	}
	find(t, benches, "BenchmarkB9Detection/flapping 5% every 30 s")
}

// verdicts checks an entry of the suite against the parsed sample, as the driver does.
func verdicts(t *testing.T, id string, benches []*Bench) map[string]string {
	t.Helper()
	suite, err := filterSuite(Suite(), id)
	if err != nil {
		t.Fatal(err)
	}
	e := suite[0]
	for _, rs := range e.Runs {
		if rs.Expand != nil {
			benches = rs.Expand(benches)
		}
	}
	applyDerived(benches, e.Derived)
	got := map[string]string{}
	for _, v := range Check(benches, e.Targets) {
		got[v.Bench+" "+v.Metric] = v.Result
	}
	return got
}

func TestTargetsOnSample(t *testing.T) {
	cases := map[string]map[string]string{
		"B1": {
			"BenchmarkB1/platform/n=100 x_json":       "MISS", // 7.28 < 8
			"BenchmarkB1/platform/n=100 x_raw":        "MISS", // 0.475 < 0.5
			"BenchmarkB1/platform/n=100 allocs/event": "PASS",
		},
		"B2": {
			"BenchmarkIngest/256KiB ratio": "PASS", // 0.682
			"BenchmarkIngest/1MiB ratio":   "PASS", // 0.647
			"BenchmarkIngest/2MiB ratio":   "MISS", // 0.305
		},
		"B3": { // the sample has only BenchmarkB3Receiver, which has no target
			"^BenchmarkB3Pipeline$ events/cpu-s": "n/a",
			"^BenchmarkB3Pipeline$ x_floor":      "n/a",
		},
		"B9": {
			"BenchmarkB9Detection/crash alarm-p90-s":              "PASS",
			"BenchmarkB9Detection/errors 5% alarm-p90-s":          "PASS",
			"BenchmarkB9Detection/errors 0.3% alarm-fired":        "PASS",
			"BenchmarkB9Detection/latency 3% alarm-fired":         "PASS",
			"BenchmarkB9Detection/telemetry loss 30% alarm-fired": "PASS",
		},
		"B6": {"^BenchmarkReadyTime$ delta-ready-ms": "n/a", "^BenchmarkReadyTime$ agent-binary-MiB": "n/a"},
	}
	for id, want := range cases {
		got := verdicts(t, id, parseSample(t).Benches)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s = %q, want %q (all: %v)", id, k, got[k], w, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d verdicts, want %d: %v", id, len(got), len(want), got)
		}
	}
}

func TestDerivedPairsRunByRun(t *testing.T) {
	out := parseSample(t)
	applyDerived(out.Benches, []Derived{{Bench: "BenchmarkB3Receiver/path=mapping", Metric: "x_floor", Op: "/",
		A: Ref{"BenchmarkB3Receiver/path=mapping", "events/cpu-s"}, B: Ref{"BenchmarkB3Receiver/path=floor", "events/cpu-s"}}})
	m := find(t, out.Benches, "BenchmarkB3Receiver/path=mapping")
	want := (312411.0/3828973 + 417900.0/4184100) / 2 // median of the per-run ratios
	if got := m.Median["x_floor"]; !near(got, want) {
		t.Errorf("x_floor = %v, want %v", got, want)
	}

	b := &Bench{Name: "BenchmarkInvokeOverhead", Runs: []Run{
		{N: 1, Metrics: map[string]float64{"agent-resp-p99-ms": 1.5, "noop-resp-p99-ms": 1.2}},
		{N: 1, Metrics: map[string]float64{"agent-resp-p99-ms": 1.0, "noop-resp-p99-ms": 1.1}},
		{N: 1, Metrics: map[string]float64{"agent-resp-p99-ms": 3.0, "noop-resp-p99-ms": 1.0}},
	}}
	applyDerived([]*Bench{b}, Suite()[3].Derived) // B4
	if got := b.Median["resp-dp99-ms"]; !near(got, 0.3) {
		t.Errorf("resp-dp99-ms = %v, want 0.3 (median of 0.3, -0.1, 2)", got)
	}
	v := Check([]*Bench{b}, Suite()[3].Targets)
	if len(v) != 2 || v[0].Result != "PASS" || v[1].Result != "n/a" {
		t.Errorf("B4 verdicts: %+v", v)
	}
}

func TestParseSplitAndFailures(t *testing.T) {
	const text = `goos: linux
BenchmarkReadyTime-2   	rss: no process runs /tmp/x/noop
       5	  123 ns/op	         4.500 delta-ready-ms
BenchmarkOther-2        	      10	         7.000 ns/op
BenchmarkOther-2        	      10	         9.000 ns/op
BenchmarkOther-2        	      10	         8.000 ns/op
--- FAIL: BenchmarkBroken
    x_test.go:12: boom
FAIL
exit status 1
FAIL	github.com/azlens/azlens/x	0.1s
`
	out, err := ParseOutput(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Benches) != 2 {
		t.Fatalf("benches: %+v", out.Benches)
	}
	rt := out.Benches[0]
	if rt.Name != "BenchmarkReadyTime" || rt.Runs[0].N != 5 || rt.Median["delta-ready-ms"] != 4.5 {
		t.Errorf("split result: %+v", rt)
	}
	if got := out.Benches[1].Median["ns/op"]; got != 8 {
		t.Errorf("median of 7, 9, 8 = %v", got)
	}
	if len(out.Failures) != 3 {
		t.Errorf("failures: %q", out.Failures)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing should be NaN")
	}
}

func TestSuiteIsWellFormed(t *testing.T) {
	ids := map[string]bool{}
	for _, e := range Suite() {
		if ids[e.ID] {
			t.Errorf("duplicate entry %s", e.ID)
		}
		ids[e.ID] = true
		if len(e.Runs) == 0 {
			t.Errorf("%s: no runs", e.ID)
		}
		for _, rs := range e.Runs {
			if rs.Count < 1 || rs.QuickCount < 1 || rs.Benchtime == "" || rs.QuickBenchtime == "" || !strings.HasPrefix(rs.Pkg, "./") {
				t.Errorf("%s: incomplete run %+v", e.ID, rs)
			}
			if _, err := regexp.Compile(rs.Bench); err != nil {
				t.Errorf("%s: -bench %q: %v", e.ID, rs.Bench, err)
			}
			if _, err := os.Stat("../" + rs.Pkg); err != nil {
				t.Errorf("%s: package %s: %v", e.ID, rs.Pkg, err)
			}
		}
		for _, tg := range e.Targets {
			if _, err := regexp.Compile(tg.Bench); err != nil {
				t.Errorf("%s: target %q: %v", e.ID, tg.Bench, err)
			}
			if tg.Op != ">=" && tg.Op != "<=" {
				t.Errorf("%s: target op %q", e.ID, tg.Op)
			}
		}
	}
	for i := 1; i <= 9; i++ {
		if id := "B" + string(rune('0'+i)); !ids[id] {
			t.Errorf("the suite has no %s", id)
		}
	}
	got, err := filterSuite(Suite(), "b9, B1")
	if err != nil || len(got) != 2 || got[0].ID != "B9" || got[1].ID != "B1" {
		t.Errorf("filter: %v %v", got, err)
	}
	if _, err := filterSuite(Suite(), "B10"); err == nil {
		t.Error("unknown entry accepted")
	}
	args := goTestArgs(Suite()[0].Runs[0], true, time.Minute)
	want := []string{"test", "-run", "^$", "-bench", "^BenchmarkB1$", "-benchmem", "-v", "-count", "1", "-timeout", "1m0s", "-benchtime", "1x", "./internal/telemetryevent/"}
	if !slices.Equal(args, want) {
		t.Errorf("quick args %q, want %q", args, want)
	}
}

func TestPrintReport(t *testing.T) {
	var ers []EntryResult
	for _, e := range Suite() {
		if e.ID != "B1" && e.ID != "B8" && e.ID != "B9" {
			continue
		}
		benches := parseSample(t).Benches
		var mine []*Bench
		for _, b := range benches {
			if strings.HasPrefix(b.Name, "Benchmark"+e.ID) {
				mine = append(mine, b)
			}
		}
		for _, rs := range e.Runs {
			if rs.Expand != nil {
				mine = rs.Expand(mine)
			}
		}
		ers = append(ers, EntryResult{ID: e.ID, entry: e, Benches: mine, Verdicts: Check(mine, e.Targets)})
	}
	rep := &Report{Date: "2026-11-26T00:00:00Z", Entries: ers, Summary: summarize(ers), Warnings: []string{"load average at start 3.00 > cores/2 (2 cores)"}}
	var buf bytes.Buffer
	PrintReport(&buf, rep)
	s := buf.String()
	for _, want := range []string{"B1  decode", "x_json", "≥ 8", "MISS", "PASS", "B9Detection/crash", "B8  overload",
		"no benchmark matches yet", "no benchmark yet: B8", "Physical limits",
		"WARNING untrustworthy run: load average at start 3.00 > cores/2 (2 cores)"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if rep.Summary.Pass == 0 || rep.Summary.Miss == 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
}

// TestLimitsQuick measures every limit in a bounded quick mode: only that each gives a
// positive figure (no timing assertions: the machine is shared).
func TestLimitsQuick(t *testing.T) {
	hello, err := BuildHello(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := LimitConfig{MemcpyBytes: 1 << 20, MemcpyReps: 2, ParseFor: 20 * time.Millisecond,
		TCPBytes: 4 << 20, HTTPFor: 50 * time.Millisecond, HTTPConns: 2, Execs: 2}
	l := MeasureLimits(cfg, hello)
	if len(l.Errors) > 0 {
		t.Fatalf("errors: %q", l.Errors)
	}
	for name, v := range map[string]float64{"memcpy": l.MemcpyGBps, "fastjson": l.FastjsonMBps, "tcp": l.TCPMBps,
		"http": l.HTTPReqps, "exec": l.ExecMs} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if l.FastjsonBytes < 100_000 {
		t.Errorf("Telemetry corpus of %d bytes", l.FastjsonBytes)
	}
}

func TestTelemetryCorpusIsValidJSON(t *testing.T) {
	body := TelemetryCorpus(60)
	if _, err := FastjsonMBps(body, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(body), `{"time":"`); n != 63 {
		t.Errorf("%d events, want 63 (3 init + 10 invocations × 6)", n)
	}
}

func TestMergeBenchesJoinsProcesses(t *testing.T) {
	mk := func(name string, vs ...float64) *Bench {
		b := &Bench{Name: name}
		for _, v := range vs {
			b.Runs = append(b.Runs, Run{N: 1, Metrics: map[string]float64{"alarm-s": v}})
		}
		b.summarize()
		return b
	}
	got := mergeBenches([]*Bench{mk("BenchmarkE2E/az-errors", 60), mk("BenchmarkE2E/none", 999),
		mk("BenchmarkE2E/az-errors", 80, 70), mk("BenchmarkE2E/az-errors", 50)})
	if len(got) != 2 || got[0].Name != "BenchmarkE2E/az-errors" || len(got[0].Runs) != 4 {
		t.Fatalf("merged %+v", got)
	}
	if m := got[0].Median["alarm-s"]; m != 65 || got[0].Min["alarm-s"] != 50 || got[0].Max["alarm-s"] != 80 {
		t.Errorf("median %v min %v max %v, want 65, 50, 80", m, got[0].Min["alarm-s"], got[0].Max["alarm-s"])
	}
}
