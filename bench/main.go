// Command bench runs azlens's benchmark suite (docs/benchmark-suite.md), prints a table grouped by
// B-number with the spec's targets and a PASS/MISS verdict, prints physical-limit references
// measured in the same run, and writes everything as JSON.
//
//	go run ./bench [-quick] [-out bench/results.json] [-filter B1,B9] [-v] [-render docs/benchmarks.md]
//	go run ./bench -from bench/results.json[,other.json] -render docs/benchmarks.md
//
// -render rewrites the file's generated blocks (render.go) from the run's results, or with -from
// from saved reports without running anything.
//
// Every benchmark runs as `go test -run '^$' -bench … -benchtime … -count … -benchmem -v pkg`
// from the module root; the figures are medians over the -count runs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

func main() {
	var o Options
	flag.BoolVar(&o.Quick, "quick", false, "tiny benchtimes and -count 1: a smoke run, figures are not meaningful")
	flag.StringVar(&o.Out, "out", "bench/results.json", "where to write the JSON report (empty: nowhere)")
	flag.StringVar(&o.Filter, "filter", "", "comma-separated entries to run, e.g. B1,B9 (default: all)")
	flag.BoolVar(&o.Verbose, "v", false, "stream the output of go test to stderr")
	flag.DurationVar(&o.Timeout, "timeout", 0, "go test -timeout per invocation (default 10m, 30m without -quick)")
	flag.StringVar(&o.Render, "render", "", "markdown file whose bench:begin/bench:end blocks are rewritten from the results")
	flag.StringVar(&o.From, "from", "", "comma-separated JSON reports to render from instead of running (later files win per entry)")
	flag.Parse()
	o.Command = commandLine(nil, append([]string{"run", "./bench"}, os.Args[1:]...))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	run := RunSuite
	if o.From != "" {
		run = RenderFrom
	}
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Options are the command's flags.
type Options struct {
	Quick   bool
	Out     string
	Filter  string
	Verbose bool
	Timeout time.Duration
	Render  string // markdown file to render, relative to the module root (empty: none)
	From    string // comma-separated reports to render from, without running
	Command string // the command line, recorded in the report and in rendered stamps
}

// Report is the JSON written by the driver.
type Report struct {
	Date      string        `json:"date"` // start, UTC, RFC 3339
	Command   string        `json:"command,omitempty"`
	Quick     bool          `json:"quick"`
	Warnings  []string      `json:"warnings,omitempty"` // why the figures cannot be trusted (TrustWarnings)
	Machine   Machine       `json:"machine"`
	Limits    LimitsReport  `json:"limits"`
	Entries   []EntryResult `json:"entries"`
	Summary   Summary       `json:"summary"`
	DurationS float64       `json:"duration_s"`
}

// LimitsReport holds the physical limits measured before and after the suite.
type LimitsReport struct {
	Start Limits `json:"start"`
	End   Limits `json:"end"`
}

// Machine describes where the figures come from.
type Machine struct {
	GoVersion string     `json:"go_version"`
	NProc     int        `json:"nproc"`
	CPU       string     `json:"cpu,omitempty"`
	GOOS      string     `json:"goos"`
	GOARCH    string     `json:"goarch"`
	LoadStart [3]float64 `json:"loadavg_start"`
	LoadEnd   [3]float64 `json:"loadavg_end"`
}

// EntryResult is one entry of the suite after running.
type EntryResult struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Note     string    `json:"note,omitempty"`
	Commands []string  `json:"commands"`
	Seconds  float64   `json:"seconds"`
	Errors   []string  `json:"errors,omitempty"`
	Benches  []*Bench  `json:"benchmarks"`
	Verdicts []Verdict `json:"verdicts"`
	entry    Entry     // for printing
	limits   *LimitsReport
}

// Summary counts the verdicts.
type Summary struct {
	Pass    int      `json:"pass"`
	Miss    int      `json:"miss"`
	NA      int      `json:"na"`
	Missing []string `json:"entries_without_benchmarks,omitempty"`
	Failed  []string `json:"entries_failed,omitempty"`
}

// RunSuite runs the (filtered) suite, prints the table to w and progress to logw, and writes the report.
func RunSuite(ctx context.Context, o Options, w, logw io.Writer) error {
	entries, err := filterSuite(Suite(), o.Filter)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Minute
		if o.Quick {
			o.Timeout = 10 * time.Minute
		}
	}
	t0 := time.Now()
	rep := &Report{Date: t0.UTC().Format(time.RFC3339), Command: o.Command, Quick: o.Quick, Machine: machineInfo(ctx)}
	rep.Machine.LoadStart = loadAvg()
	if m := rep.Machine; m.NProc > 0 && m.LoadStart[0] > float64(m.NProc)/2 {
		fmt.Fprintf(logw, "bench: WARNING load average %.2f > cores/2 (%d cores): the figures will not be trustworthy\n", m.LoadStart[0], m.NProc)
	}

	lcfg := FullLimits
	if o.Quick {
		lcfg = QuickLimits
	}
	tmp, err := os.MkdirTemp("", "azlens-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	hello, err := BuildHello(ctx, tmp)
	if err != nil {
		fmt.Fprintln(logw, "bench: limits:", err)
	}
	fmt.Fprintln(logw, "bench: physical limits (start)")
	rep.Limits.Start = MeasureLimits(lcfg, hello)

	cache := map[string]*runResult{}
	for _, e := range entries {
		er := EntryResult{ID: e.ID, Title: e.Title, Note: e.Note, entry: e, limits: &rep.Limits}
		start := time.Now()
		var benches []*Bench
		for _, rs := range e.Runs {
			if rs.Long && o.Quick {
				continue // minutes of wall time: not part of a smoke run
			}
			timeout := max(o.Timeout, rs.Timeout)
			procs := 1
			if rs.Parallel > 1 && !o.Quick {
				procs = rs.Parallel
				rs.Count = max(rs.Count/procs, 1)
			}
			args := goTestArgs(rs, o.Quick, timeout)
			key := strings.Join(append(slices.Clone(rs.Env), args...), " ")
			line := commandLine(rs.Env, args)
			if procs > 1 {
				line = fmt.Sprintf("%d concurrent × %s", procs, line)
			}
			er.Commands = append(er.Commands, line)
			r, ok := cache[key]
			if !ok {
				fmt.Fprintf(logw, "bench: %s: %s\n", e.ID, line)
				r = runGoTests(ctx, root, rs, args, procs, o.Verbose, logw)
				cache[key] = r
			}
			er.Errors = append(er.Errors, r.errors...)
			benches = append(benches, r.benches...)
		}
		applyDerived(benches, e.Derived)
		er.Benches = benches
		er.Verdicts = Check(benches, e.Targets)
		er.Seconds = time.Since(start).Seconds()
		rep.Entries = append(rep.Entries, er)
		if ctx.Err() != nil {
			break
		}
	}

	fmt.Fprintln(logw, "bench: physical limits (end)")
	rep.Limits.End = MeasureLimits(lcfg, hello)
	rep.Machine.LoadEnd = loadAvg()
	rep.DurationS = time.Since(t0).Seconds()
	rep.Summary = summarize(rep.Entries)
	rep.Warnings = TrustWarnings(rep)

	PrintReport(w, rep)
	if o.Out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		out := o.Out
		if !filepath.IsAbs(out) {
			out = filepath.Join(root, out)
		}
		if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(w, "wrote", out)
	}
	if o.Render != "" && ctx.Err() == nil {
		path := o.Render
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		unplaced, err := RenderFile(path, []*Report{rep})
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "rendered", path)
		if len(unplaced) > 0 {
			fmt.Fprintf(w, "no bench:begin block for %s in %s: those figures are only in the JSON\n", strings.Join(unplaced, ","), path)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rep.Summary.Failed) > 0 {
		return fmt.Errorf("benchmarks failed to run in %s (see ERROR lines)", strings.Join(rep.Summary.Failed, ","))
	}
	return nil
}

// RenderFrom renders o.Render from the saved reports o.From (merged by entry, later files win),
// restricted to o.Filter's entries when given; nothing runs.
func RenderFrom(ctx context.Context, o Options, w, _ io.Writer) error {
	if o.Render == "" {
		return fmt.Errorf("-from needs -render FILE")
	}
	keep, err := filterSuite(Suite(), o.Filter)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	var reps []*Report
	for _, f := range strings.Split(o.From, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := LoadReport(abs(f))
		if err != nil {
			return err
		}
		r.Entries = slices.DeleteFunc(r.Entries, func(er EntryResult) bool {
			return !slices.ContainsFunc(keep, func(e Entry) bool { return e.ID == er.ID })
		})
		reps = append(reps, r)
	}
	unplaced, err := RenderFile(abs(o.Render), reps)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "rendered", abs(o.Render))
	if len(unplaced) > 0 {
		fmt.Fprintf(w, "no bench:begin block for %s in %s: those figures are not rendered\n", strings.Join(unplaced, ","), o.Render)
	}
	return nil
}

func filterSuite(all []Entry, filter string) ([]Entry, error) {
	if strings.TrimSpace(filter) == "" {
		return all, nil
	}
	var out []Entry
	for _, id := range strings.Split(filter, ",") {
		id = strings.TrimSpace(id)
		i := slices.IndexFunc(all, func(e Entry) bool { return strings.EqualFold(e.ID, id) })
		if i < 0 {
			ids := make([]string, len(all))
			for k, e := range all {
				ids[k] = e.ID
			}
			return nil, fmt.Errorf("unknown entry %q (have %s)", id, strings.Join(ids, ","))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func goTestArgs(rs RunSpec, quick bool, timeout time.Duration) []string {
	bt, count := rs.Benchtime, rs.Count
	if quick {
		bt, count = rs.QuickBenchtime, rs.QuickCount
	}
	args := []string{"test", "-run", "^$", "-bench", rs.Bench, "-benchmem", "-v", "-count", strconv.Itoa(max(count, 1)),
		"-timeout", timeout.String()}
	if bt != "" {
		args = append(args, "-benchtime", bt)
	}
	return append(args, rs.Pkg)
}

func commandLine(env, args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " ^$|*()[]?\\'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.TrimSpace(strings.Join(env, " ") + " go " + strings.Join(q, " "))
}

type runResult struct {
	benches []*Bench
	errors  []string
}

// runGoTests runs procs identical go test invocations at once and parses their outputs as one
// (repeated benchmark lines are counts, as with -count).
func runGoTests(ctx context.Context, root string, rs RunSpec, args []string, procs int, verbose bool, logw io.Writer) *runResult {
	if procs <= 1 {
		return runGoTest(ctx, root, rs, args, verbose, logw)
	}
	results := make([]*runResult, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runGoTest(ctx, root, rs, args, verbose, logw)
		}()
	}
	wg.Wait()
	merged := &runResult{}
	for _, r := range results {
		merged.errors = append(merged.errors, r.errors...)
		merged.benches = append(merged.benches, r.benches...)
	}
	merged.benches = mergeBenches(merged.benches)
	return merged
}

// mergeBenches joins benchmarks of the same name from several processes: their runs together,
// and the medians, minima and maxima over them.
func mergeBenches(bs []*Bench) []*Bench {
	var out []*Bench
	byName := map[string]*Bench{}
	for _, b := range bs {
		if m, ok := byName[b.Name]; ok {
			m.Runs = append(m.Runs, b.Runs...)
			continue
		}
		c := *b
		c.Runs = slices.Clone(b.Runs)
		byName[b.Name] = &c
		out = append(out, &c)
	}
	for _, b := range out {
		b.summarize()
	}
	return out
}

// runGoTest runs one go test invocation and parses its output. Failures (build errors, a
// failing benchmark, a missing package) become errors of the entry; the suite goes on.
func runGoTest(ctx context.Context, root string, rs RunSpec, args []string, verbose bool, logw io.Writer) *runResult {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), rs.Env...)
	var sink io.Writer = &buf
	if verbose {
		sink = io.MultiWriter(&buf, logw)
	}
	cmd.Stdout, cmd.Stderr = sink, sink
	runErr := cmd.Run()
	res := &runResult{}
	out, err := ParseOutput(bytes.NewReader(buf.Bytes()))
	if err != nil {
		res.errors = append(res.errors, "parse: "+err.Error())
		out = &Output{}
	}
	if runErr != nil {
		res.errors = append(res.errors, fmt.Sprintf("%s: %v", commandLine(rs.Env, args), runErr))
		res.errors = append(res.errors, tail(buf.String(), 8)...)
	}
	res.benches = out.Benches
	if rs.Expand != nil {
		res.benches = rs.Expand(res.benches)
	}
	return res
}

func tail(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run from the azlens repository")
	}
	return filepath.Dir(gomod), nil
}

func machineInfo(ctx context.Context) Machine {
	m := Machine{NProc: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.NProc = n
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if sm := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); sm != nil {
			m.CPU = strings.TrimSpace(string(sm[1]))
		}
	}
	return m
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(b)) {
		if i == 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

func summarize(ers []EntryResult) Summary {
	var s Summary
	for _, er := range ers {
		for _, v := range er.Verdicts {
			switch v.Result {
			case "PASS":
				s.Pass++
			case "MISS":
				s.Miss++
			default:
				s.NA++
			}
		}
		if len(er.Errors) > 0 {
			s.Failed = append(s.Failed, er.ID)
		} else if len(er.Benches) == 0 {
			s.Missing = append(s.Missing, er.ID)
		}
	}
	return s
}

// PrintReport prints the table: one group per entry, one row per benchmark and shown metric,
// with the target and verdict where the spec gives one; then the physical limits.
func PrintReport(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "azlens benchmarks  %s  %s  nproc %d  %s  load %.2f → %.2f  %.0f s%s\n",
		rep.Date, m.GoVersion, m.NProc, m.CPU, m.LoadStart[0], m.LoadEnd[0], rep.DurationS, map[bool]string{true: "  QUICK (smoke run: figures not meaningful)"}[rep.Quick])
	fmt.Fprintln(w, "Figures are medians over -count runs; ratios and deltas are to a reference measured in the same run.")
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "WARNING untrustworthy run: %s\n", warn)
	}
	for _, er := range rep.Entries {
		fmt.Fprintf(w, "\n%s  %s\n", er.ID, er.entry.Title)
		if er.Note != "" {
			fmt.Fprintf(w, "    note: %s\n", er.Note)
		}
		if ls := limitNotes(er.entry.Limits, rep.Limits.Start); ls != "" {
			fmt.Fprintf(w, "    physical limits: %s\n", ls)
		}
		for _, e := range er.Errors {
			fmt.Fprintf(w, "    ERROR %s\n", e)
		}
		if len(er.Benches) == 0 {
			if len(er.Errors) == 0 {
				fmt.Fprintln(w, "    no benchmark matches yet")
			}
			for _, v := range er.Verdicts {
				fmt.Fprintf(w, "    %s %s  target %s (%s)  n/a\n", v.Bench, v.Metric, v.Target, v.Spec)
			}
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    benchmark\tmetric\tmedian\tmin…max\ttarget\t\t")
		printed := map[[2]string]bool{}
		for _, b := range er.Benches {
			for _, metric := range shownMetrics(er.entry, b) {
				v, ok := b.Median[metric]
				if !ok {
					continue
				}
				rng := ""
				if len(b.Runs) > 1 {
					rng = fmtNum(b.Min[metric]) + "…" + fmtNum(b.Max[metric])
				}
				target, spec, verdict := "", "", ""
				for _, vd := range er.Verdicts {
					if vd.Bench == b.Name && vd.Metric == metric {
						target, spec, verdict = vd.Target, vd.Spec, vd.Result
						printed[[2]string{b.Name, metric}] = true
					}
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimPrefix(b.Name, "Benchmark"), metric, fmtNum(v), rng, target, verdict, spec)
			}
		}
		for _, vd := range er.Verdicts {
			if !printed[[2]string{vd.Bench, vd.Metric}] {
				fmt.Fprintf(tw, "    %s\t%s\t%s\t\t%s\t%s\t%s\n", strings.TrimPrefix(vd.Bench, "Benchmark"), vd.Metric, "-", vd.Target, vd.Result, vd.Spec)
			}
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nPhysical limits (measured by the driver, start / end of the run)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	s, e := rep.Limits.Start, rep.Limits.End
	row := func(name string, a, b float64, unit string) {
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", name, fmtNum(a), fmtNum(b), unit)
	}
	row(fmt.Sprintf("memcpy, copy() of %d MiB", s.Config.MemcpyBytes>>20), s.MemcpyGBps, e.MemcpyGBps, "GB/s")
	row(fmt.Sprintf("fastjson Parser.ParseBytes, Telemetry batch of %d KB", s.FastjsonBytes/1000), s.FastjsonMBps, e.FastjsonMBps, "MB/s")
	row(fmt.Sprintf("loopback TCP, %d MiB transfers (median of 3 after a warm-up)", s.Config.TCPBytes>>20), s.TCPMBps, e.TCPMBps, "MB/s")
	row(fmt.Sprintf("net/http null handler, keep-alive, %d conns, %s", s.Config.HTTPConns, s.Config.HTTPFor), s.HTTPReqps, e.HTTPReqps, "req/s")
	row(fmt.Sprintf("exec static hello-world, median of %d", s.Config.Execs), s.ExecMs, e.ExecMs, "ms")
	tw.Flush()
	for _, err := range append(s.Errors, e.Errors...) {
		fmt.Fprintf(w, "    ERROR %s\n", err)
	}
	sum := rep.Summary
	fmt.Fprintf(w, "\ntargets: %d PASS, %d MISS, %d n/a", sum.Pass, sum.Miss, sum.NA)
	if len(sum.Missing) > 0 {
		fmt.Fprintf(w, "; no benchmark yet: %s", strings.Join(sum.Missing, ","))
	}
	if len(sum.Failed) > 0 {
		fmt.Fprintf(w, "; errors in: %s", strings.Join(sum.Failed, ","))
	}
	fmt.Fprintln(w)
}

// shownMetrics is the entry's Show list (or every metric of b), plus the metrics with a target.
func shownMetrics(e Entry, b *Bench) []string {
	ms := slices.Clone(e.Show)
	if len(ms) == 0 {
		ms = sortedKeys(b.Median)
	}
	for _, t := range e.Targets {
		if !slices.Contains(ms, t.Metric) {
			ms = append(ms, t.Metric)
		}
	}
	return ms
}

func limitNotes(keys []string, l Limits) string {
	var parts []string
	for _, k := range keys {
		switch k {
		case "fastjson":
			parts = append(parts, "fastjson parse "+fmtNum(l.FastjsonMBps)+" MB/s")
		case "tcp":
			parts = append(parts, "loopback TCP "+fmtNum(l.TCPMBps/1.048576)+" MiB/s")
		case "http":
			parts = append(parts, "null net/http "+fmtNum(l.HTTPReqps)+" req/s")
		case "exec":
			parts = append(parts, "exec hello-world "+fmtNum(l.ExecMs)+" ms")
		case "memcpy":
			parts = append(parts, "memcpy "+fmtNum(l.MemcpyGBps)+" GB/s")
		}
	}
	return strings.Join(parts, ", ")
}
