package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bench is one benchmark of a `go test -bench` output: every -count run of it, and the median
// of each metric over those runs.
type Bench struct {
	Name   string             `json:"name"` // as printed, without the -GOMAXPROCS suffix
	Runs   []Run              `json:"runs"`
	Median map[string]float64 `json:"median"`
	Min    map[string]float64 `json:"min"`
	Max    map[string]float64 `json:"max"`
}

// Run is one result line: b.N and every "value unit" pair (ns/op, B/op, allocs/op and what the
// benchmark reported with b.ReportMetric), plus what it logged before it.
type Run struct {
	N       int64              `json:"n"`
	Metrics map[string]float64 `json:"metrics"`
	Log     []string           `json:"log,omitempty"`
}

// Output is a parsed `go test -v -bench` output.
type Output struct {
	Benches  []*Bench
	Failures []string // "--- FAIL", "FAIL", "panic:" lines
}

var (
	logLine    = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)
	procSuffix = regexp.MustCompile(`-\d+$`)
	resultOnly = regexp.MustCompile(`^\s*(\d+)\s+(-?[0-9.]+(?:e[+-]?\d+)?\s+\S+.*)$`)
)

// ParseOutput reads the text of `go test -v -bench …` (one package or several). With -v the
// name of a benchmark is printed alone when it starts and again with its results; what it logs
// comes in between and is attached to the next result line. Without -v, output of the benchmark
// can split the name from its results; both forms are understood.
func ParseOutput(r io.Reader) (*Output, error) {
	out := &Output{}
	byName := map[string]*Bench{}
	known := map[string]bool{} // names printed alone: exact, without a -GOMAXPROCS suffix
	var logs []string
	pending := "" // a name whose results were split off by other output
	add := func(name string, n int64, rest string) error {
		m, err := parseMetrics(rest)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !known[name] {
			name = procSuffix.ReplaceAllString(name, "")
		}
		b := byName[name]
		if b == nil {
			b = &Bench{Name: name}
			byName[name] = b
			out.Benches = append(out.Benches, b)
		}
		b.Runs = append(b.Runs, Run{N: n, Metrics: m, Log: logs})
		logs = nil
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) == 1 {
				known[f[0]] = true
				pending = ""
				continue
			}
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && len(f) >= 4 && add(f[0], n, strings.Join(f[2:], " ")) == nil {
				pending = ""
				continue
			}
			pending = f[0] // the name, then whatever the benchmark wrote on the same line
		case pending != "" && resultOnly.MatchString(line):
			sm := resultOnly.FindStringSubmatch(line)
			n, _ := strconv.ParseInt(sm[1], 10, 64)
			if add(pending, n, sm[2]) == nil {
				pending = ""
			}
		case logLine.MatchString(line):
			logs = append(logs, logLine.FindStringSubmatch(line)[1])
		case strings.HasPrefix(line, "--- FAIL"), trimmed == "FAIL", strings.HasPrefix(line, "FAIL\t"),
			strings.HasPrefix(line, "panic:"):
			out.Failures = append(out.Failures, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, b := range out.Benches {
		b.summarize()
	}
	return out, nil
}

// parseMetrics reads "123 ns/op   4.5 MB/s   0 allocs/event".
func parseMetrics(s string) (map[string]float64, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("odd number of fields in %q", s)
	}
	m := make(map[string]float64, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", f[i+1], err)
		}
		m[f[i+1]] = v
	}
	return m, nil
}

// summarize computes the median, min and max of every metric over the runs that have it.
func (b *Bench) summarize() {
	vals := map[string][]float64{}
	for _, r := range b.Runs {
		for k, v := range r.Metrics {
			vals[k] = append(vals[k], v)
		}
	}
	b.Median, b.Min, b.Max = map[string]float64{}, map[string]float64{}, map[string]float64{}
	for k, vs := range vals {
		b.Median[k] = median(vs)
		b.Min[k] = slices.Min(vs)
		b.Max[k] = slices.Max(vs)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// applyDerived adds the derived metrics run by run (the i-th -count run of A with the i-th of B,
// from the same `go test` process) and recomputes the summaries.
func applyDerived(benches []*Bench, ds []Derived) {
	find := func(name string) *Bench {
		for _, b := range benches {
			if b.Name == name {
				return b
			}
		}
		return nil
	}
	for _, d := range ds {
		dst, a, b := find(d.Bench), find(d.A.Bench), find(d.B.Bench)
		if dst == nil || a == nil || b == nil {
			continue
		}
		for i := range min(len(dst.Runs), len(a.Runs), len(b.Runs)) {
			x, okA := a.Runs[i].Metrics[d.A.Metric]
			y, okB := b.Runs[i].Metrics[d.B.Metric]
			if !okA || !okB {
				continue
			}
			var v float64
			switch d.Op {
			case "/":
				if y == 0 {
					continue
				}
				v = x / y
			case "-":
				v = x - y
			default:
				continue
			}
			dst.Runs[i].Metrics[d.Metric] = v
		}
		dst.summarize()
	}
}

// Verdict is one target checked against one benchmark's median.
type Verdict struct {
	Bench  string  `json:"bench"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Target string  `json:"target"` // e.g. "≥ 8"
	Spec   string  `json:"spec"`
	Result string  `json:"result"` // PASS, MISS, or "n/a" (no such benchmark or metric in this run)
}

// Check evaluates the targets against the medians. A target whose benchmark is absent gives one
// "n/a" verdict, so that a missing benchmark shows in the table rather than silently passing.
func Check(benches []*Bench, targets []Target) []Verdict {
	var out []Verdict
	for _, t := range targets {
		re := regexp.MustCompile(t.Bench)
		matched := false
		for _, b := range benches {
			if !re.MatchString(b.Name) {
				continue
			}
			matched = true
			v := Verdict{Bench: b.Name, Metric: t.Metric, Target: targetText(t), Spec: t.Spec, Result: "n/a"}
			if m, ok := b.Median[t.Metric]; ok && !math.IsNaN(m) {
				v.Value = m
				v.Result = "MISS"
				if meets(m, t.Op, t.Value) {
					v.Result = "PASS"
				}
			}
			out = append(out, v)
		}
		if !matched {
			out = append(out, Verdict{Bench: t.Bench, Metric: t.Metric, Target: targetText(t), Spec: t.Spec, Result: "n/a"})
		}
	}
	return out
}

func targetText(t Target) string {
	op := map[string]string{">=": "≥", "<=": "≤"}[t.Op]
	if op == "" {
		op = t.Op
	}
	return op + " " + fmtNum(t.Value)
}

func meets(v float64, op string, target float64) bool {
	switch op {
	case ">=":
		return v >= target
	case "<=":
		return v <= target
	}
	return false
}

// b9Row is one line that BenchmarkB9Detection logs per scenario, e.g.
//
//	crash    expected ~50 s    alarm 100/100 median 53s    p90 57s    | shift 100/100 median 53s    p90 57s    | wrong shift count 0, fail-back during fault 0
var b9Row = regexp.MustCompile(`^(.+?)\s+expected (.+?)\s+alarm\s+(\d+)/(\d+) median (\S+)\s+p90 (\S+)\s+\| shift\s+(\d+)/(\d+) median (\S+)\s+p90 (\S+)\s+\| wrong shift count (\d+), fail-back during fault (\d+)`)

// expandB9 turns each scenario row logged by BenchmarkB9Detection into a benchmark
// "BenchmarkB9Detection/<scenario>" with metrics alarm-fired (fraction of seeds), alarm-p50-s,
// alarm-p90-s, shift-p50-s, shift-p90-s (absent when nothing fired), wrong-shift-count and
// failback-count.
func expandB9(benches []*Bench) []*Bench {
	var out []*Bench
	byName := map[string]*Bench{}
	for _, b := range benches {
		out = append(out, b)
		if b.Name != "BenchmarkB9Detection" {
			continue
		}
		for _, r := range b.Runs {
			for _, l := range r.Log {
				sm := b9Row.FindStringSubmatch(l)
				if sm == nil {
					continue
				}
				name := b.Name + "/" + sm[1]
				m := map[string]float64{}
				fired, _ := strconv.ParseFloat(sm[3], 64)
				seeds, _ := strconv.ParseFloat(sm[4], 64)
				if seeds > 0 {
					m["alarm-fired"] = fired / seeds
				}
				for key, s := range map[string]string{"alarm-p50-s": sm[5], "alarm-p90-s": sm[6], "shift-p50-s": sm[9], "shift-p90-s": sm[10]} {
					if d, err := time.ParseDuration(s); err == nil {
						m[key] = d.Seconds()
					}
				}
				m["wrong-shift-count"], _ = strconv.ParseFloat(sm[11], 64)
				m["failback-count"], _ = strconv.ParseFloat(sm[12], 64)
				nb := byName[name]
				if nb == nil {
					nb = &Bench{Name: name}
					byName[name] = nb
					out = append(out, nb)
				}
				nb.Runs = append(nb.Runs, Run{N: int64(seeds), Metrics: m})
			}
		}
	}
	for _, b := range byName {
		b.summarize()
	}
	return out
}

// fmtNum prints a figure with 4 significant digits, or as an integer from 10,000 up.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
