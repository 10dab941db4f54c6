package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/render-golden.md from the current renderer")

// sampleReport is a report as the driver builds it, from the real go test output of
// testdata/gotest-bench.txt, on a fixed machine and date, written to JSON and read back (the
// renderer must work from the JSON alone).
func sampleReport(t testing.TB, date string) *Report {
	t.Helper()
	prefix := map[string]string{"B1": "BenchmarkB1", "B2": "BenchmarkIngest", "B3": "BenchmarkB3", "B9": "BenchmarkB9", "LOKI": "BenchmarkPushEncoding"}
	rep := &Report{
		Date:    date,
		Command: "go run ./bench -filter B1,B2,B3,B9,LOKI -render docs/benchmarks.md",
		Machine: Machine{GoVersion: "go version go1.26.0 linux/amd64", NProc: 2, CPU: "AMD EPYC 7B13", GOOS: "linux", GOARCH: "amd64",
			LoadStart: [3]float64{0.61, 0.5, 0.4}, LoadEnd: [3]float64{1.35, 0.8, 0.5}},
		Limits: LimitsReport{
			Start: Limits{MemcpyGBps: 9.1, FastjsonMBps: 812, TCPMBps: 2400, HTTPReqps: 7.5e6 / 100, ExecMs: 1.2},
			End:   Limits{MemcpyGBps: 9.0, FastjsonMBps: 790, TCPMBps: 2350, HTTPReqps: 2.6e6 / 100, ExecMs: 1.3},
		},
	}
	for _, e := range Suite() {
		p, ok := prefix[e.ID]
		if !ok {
			continue
		}
		var mine []*Bench
		for _, b := range parseSampleTB(t).Benches {
			if strings.HasPrefix(b.Name, p) {
				mine = append(mine, b)
			}
		}
		for _, rs := range e.Runs {
			if rs.Expand != nil {
				mine = rs.Expand(mine)
			}
		}
		applyDerived(mine, e.Derived)
		er := EntryResult{ID: e.ID, Title: e.Title, Note: e.Note, Commands: []string{"go test … " + e.ID}, Seconds: 12.5,
			Benches: mine, Verdicts: Check(mine, e.Targets)}
		rep.Entries = append(rep.Entries, er)
	}
	rep.Summary = summarize(rep.Entries)
	rep.Warnings = TrustWarnings(rep)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func parseSampleTB(t testing.TB) *Output {
	t.Helper()
	b, err := os.ReadFile("testdata/gotest-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseOutput(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRenderGolden: the same JSON renders a byte-identical file, equal to the golden one.
func TestRenderGolden(t *testing.T) {
	in := readFile(t, "testdata/render-in.md")
	got, err := RenderDoc(in, []*Report{sampleReport(t, "2026-12-05T08:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := RenderDoc(in, []*Report{sampleReport(t, "2026-12-05T08:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Fatal("two renders of the same JSON differ")
	}
	if *update {
		if err := os.WriteFile("testdata/render-golden.md", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, "testdata/render-golden.md"); !bytes.Equal(got, want) {
		t.Errorf("render differs from testdata/render-golden.md (go test -run TestRenderGolden -update ./bench/ after checking):\n%s", got)
	}
	// What the golden file must show, so that -update cannot silently bless a regression.
	s := string(got)
	for _, want := range []string{
		"| B1/platform/n=100 | 2 |",
		"7.284 (7.222…7.346) ≥ 8 **MISS**",  // x_json: median (range), target, verdict
		"| B9Detection/crash | 2 |",         // B9's scenario rows
		"null net/http 75000 → 26000 req/s", // B2's physical limits in the stamp
		"**Untrustworthy run:** physical limit null net/http drifted -65 %",
		"Not generated yet: run `go run ./bench -filter B4 -render docs/benchmarks.md`.",
		"`^BenchmarkB3Pipeline$` events/cpu-s ≥ 200000", // a target whose benchmark did not run: n/a, listed
		"hand-written B5 row that no run replaced",
		"Generated from `go run ./bench -filter B1,B2,B3,B9,LOKI -render docs/benchmarks.md`, 2026-12-05T08:00:00Z: AMD EPYC 7B13, linux/amd64, go1.26.0, 2 cores, load average 0.61 → 1.35",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("render lacks %q", want)
		}
	}
	if strings.Contains(s, "old hand-typed B1 figure") {
		t.Error("the B1 block kept its old content")
	}
}

// outside returns the text of doc outside its blocks' contents (markers included).
func outside(t testing.TB, doc []byte) []string {
	t.Helper()
	bs, err := parseBlocks(doc)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	last := 0
	for _, b := range bs {
		parts = append(parts, string(doc[last:b.contentFrom]))
		last = b.contentTo
	}
	return append(parts, string(doc[last:]))
}

func TestRenderKeepsTextOutsideBlocks(t *testing.T) {
	in := readFile(t, "testdata/render-in.md")
	reps := []*Report{sampleReport(t, "2026-12-05T08:00:00Z")}
	out, err := RenderDoc(in, reps)
	if err != nil {
		t.Fatal(err)
	}
	a, b := outside(t, in), outside(t, out)
	if strings.Join(a, "\x00") != strings.Join(b, "\x00") {
		t.Errorf("text outside the blocks changed:\nbefore %q\nafter  %q", a, b)
	}
	// Rendering what was rendered changes nothing.
	out2, err := RenderDoc(out, reps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Error("rendering twice is not idempotent")
	}
	// With no results, every block keeps its content (the empty B4 gets the placeholder).
	none, err := RenderDoc(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(none, []byte("old hand-typed B1 figure")) || !bytes.Contains(none, []byte("Not generated yet: run `go run ./bench -filter B4")) {
		t.Errorf("render without results:\n%s", none)
	}
}

func TestRenderMergesLaterWins(t *testing.T) {
	first := sampleReport(t, "2026-12-01T00:00:00Z")
	second := sampleReport(t, "2026-12-02T00:00:00Z")
	second.Entries = second.Entries[:1] // B1 only
	out, err := RenderDoc(readFile(t, "testdata/render-in.md"), []*Report{first, second})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := parseBlocks(out)
	if err != nil {
		t.Fatal(err)
	}
	stamp := map[string]string{}
	for _, b := range bs {
		c := string(out[b.contentFrom:b.contentTo])
		switch {
		case strings.Contains(c, "2026-12-02"):
			stamp[b.id] = "second"
		case strings.Contains(c, "2026-12-01"):
			stamp[b.id] = "first"
		}
	}
	if stamp["B1"] != "second" || stamp["B3"] != "first" || stamp["B9"] != "first" {
		t.Errorf("blocks by source: %v (want B1 from the second report, B3 and B9 from the first)", stamp)
	}
}

func TestRenderMarkerErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
	}{
		{"missing end", "# t\n<!-- bench:begin B1 -->\nx\n", "line 2: bench:begin B1 has no bench:end B1"},
		{"end without begin", "a\n\n<!-- bench:end B3 -->\n", "line 3: bench:end B3 without bench:begin B3"},
		{"nested", "<!-- bench:begin B1 -->\n<!-- bench:begin B3 -->\n<!-- bench:end B3 -->\n<!-- bench:end B1 -->\n",
			"line 2: bench:begin B3 inside block B1 opened at line 1"},
		{"crossed", "<!-- bench:begin B1 -->\n<!-- bench:end B3 -->\n", "line 2: bench:end B3 closes block B1 opened at line 1"},
		{"twice", "<!-- bench:begin B1 -->\n<!-- bench:end B1 -->\n<!-- bench:begin B1 -->\n<!-- bench:end B1 -->\n",
			"line 3: second block B1 (the first begins at line 1)"},
		{"no id", "x\n<!-- bench:begin -->\n", "line 2: malformed marker"},
		{"unknown id", "<!-- bench:begin B10 -->\n<!-- bench:end B10 -->\n", "line 1: block B10 names no entry of the suite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := RenderDoc([]byte(c.doc), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// A marker quoted in prose (not alone on its line) is text.
	doc := "Blocks look like `<!-- bench:begin ID -->`.\n"
	if out, err := RenderDoc([]byte(doc), nil); err != nil || string(out) != doc {
		t.Errorf("prose mentioning a marker: %q, %v", out, err)
	}
}

func TestRenderFileLeavesFileOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	const doc = "<!-- bench:begin B1 -->\nkeep me\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := RenderFile(path, []*Report{sampleReport(t, "2026-12-05T08:00:00Z")})
	if err == nil || !strings.Contains(err.Error(), "doc.md") || !strings.Contains(err.Error(), "B1") {
		t.Errorf("error %v: want the file, the ID and the line", err)
	}
	if got := readFile(t, path); string(got) != doc {
		t.Errorf("file changed on error: %q", got)
	}

	// A good file is rewritten; entries with results but no block are named.
	const good = "intro\n<!-- bench:begin B3 -->\n<!-- bench:end B3 -->\n"
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	unplaced, err := RenderFile(path, []*Report{sampleReport(t, "2026-12-05T08:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(unplaced, ",") != "B1,B2,B9,LOKI" {
		t.Errorf("unplaced = %q, want B1,B2,B9,LOKI", unplaced)
	}
	if got := string(readFile(t, path)); !strings.HasPrefix(got, "intro\n<!-- bench:begin B3 -->\n_Generated from") {
		t.Errorf("rendered file:\n%s", got)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestTrustWarnings(t *testing.T) {
	quiet := &Report{Machine: Machine{NProc: 2, LoadStart: [3]float64{0.7}},
		Limits: LimitsReport{Start: Limits{HTTPReqps: 100, MemcpyGBps: 10}, End: Limits{HTTPReqps: 80, MemcpyGBps: 12}}}
	if w := TrustWarnings(quiet); len(w) != 0 {
		t.Errorf("quiet run flagged: %q", w)
	}
	loaded := &Report{Machine: Machine{NProc: 2, LoadStart: [3]float64{1.2}},
		Limits: LimitsReport{Start: Limits{HTTPReqps: 100, ExecMs: 1}, End: Limits{HTTPReqps: 60, ExecMs: 1.3}}}
	w := strings.Join(TrustWarnings(loaded), "\n")
	for _, want := range []string{"load average at start 1.20 > cores/2 (2 cores)", "null net/http drifted -40 %", "exec hello-world drifted +30 %"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	// A limit that was not measured (zero) at one end is not a drift.
	if w := TrustWarnings(&Report{Limits: LimitsReport{Start: Limits{TCPMBps: 100}}}); len(w) != 0 {
		t.Errorf("unmeasured limit flagged: %q", w)
	}
}

// FuzzRenderDoc: any document either fails with an error or renders so that the text outside
// the blocks is unchanged and a second render changes nothing.
func FuzzRenderDoc(f *testing.F) {
	f.Add(readFile(f, "testdata/render-in.md"))
	f.Add([]byte("<!-- bench:begin B1 -->\n<!-- bench:end B1 -->"))
	f.Add([]byte("\r\n  <!-- bench:begin B4 -->  \r\nx\r\n<!-- bench:end B4 -->\r\n"))
	reps := []*Report{sampleReport(f, "2026-12-05T08:00:00Z")}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := RenderDoc(doc, reps)
		if err != nil {
			return
		}
		if strings.Join(outside(t, doc), "\x00") != strings.Join(outside(t, out), "\x00") {
			t.Fatalf("text outside blocks changed:\n%q\n%q", doc, out)
		}
		out2, err := RenderDoc(out, reps)
		if err != nil {
			t.Fatalf("rendered document does not render: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("not idempotent:\n%q\n%q", out, out2)
		}
	})
}

// TestRenderFrom is `go run ./bench -from a.json,b.json -filter … -render doc.md`: saved reports
// merged by entry (later wins), only the filtered entries rendered, nothing run.
func TestRenderFrom(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r *Report) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.json", sampleReport(t, "2026-12-01T00:00:00Z"))
	b := write("b.json", sampleReport(t, "2026-12-02T00:00:00Z"))
	doc := filepath.Join(dir, "doc.md")
	const in = "<!-- bench:begin B1 -->\nold B1\n<!-- bench:end B1 -->\n<!-- bench:begin B3 -->\nold B3\n<!-- bench:end B3 -->\n"
	if err := os.WriteFile(doc, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := RenderFrom(t.Context(), Options{From: a + "," + b, Render: doc, Filter: "B3"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := string(readFile(t, doc))
	if !strings.Contains(got, "old B1") {
		t.Errorf("B1 is not in -filter but was rendered:\n%s", got)
	}
	if strings.Contains(got, "old B3") || !strings.Contains(got, "2026-12-02T00:00:00Z") || strings.Contains(got, "2026-12-01") {
		t.Errorf("B3 should come from the later report:\n%s", got)
	}
	if err := RenderFrom(t.Context(), Options{From: a}, &out, io.Discard); err == nil {
		t.Error("-from without -render accepted")
	}
	if err := RenderFrom(t.Context(), Options{From: filepath.Join(dir, "missing.json"), Render: doc}, &out, io.Discard); err == nil {
		t.Error("a missing report accepted")
	}
}

func TestPlotCostCurves(t *testing.T) {
	if PlotCostCurves([]*Report{{}}) != nil {
		t.Error("a report without COST drew a figure")
	}
	med := func(kv ...any) map[string]float64 {
		m := map[string]float64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(float64)
		}
		return m
	}
	rep := &Report{Entries: []EntryResult{{ID: "COST", Benches: []*Bench{
		{Name: "BenchmarkCostCurve/functions=1", Median: med("heap-MiB", 0.025, "tick-ms", 0.03)},
		{Name: "BenchmarkCostCurve/functions=100", Median: med("heap-MiB", 2.5, "tick-ms", 2.0)},
		{Name: "BenchmarkCostCurveObserve/functions=100", Median: med("tick-ms", 9.0)},
		{Name: "BenchmarkCostCurveCorrelation/envs=100/open=100", Median: med("heap-MiB", 0.4, "sweep-ns/open", 30.0)},
		{Name: "BenchmarkCostCurveCorrelation/envs=10/open=1000", Median: med("heap-MiB", 0.9, "sweep-ns/open", 1.0)},
	}}}}
	svg := string(PlotCostCurves([]*Report{rep}))
	for _, want := range []string{"<svg", "detector heap, window full", "CPU per 10 s tick", "correlation table heap",
		"one sweep, nothing due", "target 1 GiB", "one core", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the figure lacks %q", want)
		}
	}
	// Two points on the detector's heap line, one on the processor's, one on each correlation line.
	if n := strings.Count(svg, "<circle"); n != 2+2+1+1+1+1+1 {
		t.Errorf("%d points drawn, want 9:\n%s", n, svg)
	}
}
