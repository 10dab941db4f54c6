package main

// Rendering the driver's JSON into a markdown file (docs/benchmarks.md): only the blocks delimited
// by marker lines
//
//	<!-- bench:begin B3 -->
//	…generated…
//	<!-- bench:end B3 -->
//
// are rewritten, each from the results of the suite entry it names, so that no figure in the
// document is typed by hand. Everything outside the blocks is copied byte for byte. The output
// depends only on the reports (no clock, no map order), so the same JSON renders the same file.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// block is one generated region of a document: the marker lines and the byte range between them.
type block struct {
	id                     string
	beginLine              int // 1-based line number of the begin marker
	contentFrom, contentTo int // byte offsets of what lies between the marker lines
}

const markerPrefix = "<!-- bench:"

var markerLine = regexp.MustCompile(`^<!-- bench:(begin|end) ([A-Za-z0-9_-]+) -->$`)

// parseBlocks finds the blocks of doc. Marker lines must stand alone (surrounding blanks
// allowed); a line that starts like a marker but is malformed, a nested or unclosed block, an end
// that closes another block and a block that appears twice are errors naming the ID and line.
func parseBlocks(doc []byte) ([]block, error) {
	var out []block
	var open *block
	seen := map[string]int{}
	line, off := 0, 0
	for off < len(doc) {
		line++
		end := bytes.IndexByte(doc[off:], '\n')
		next := len(doc)
		if end >= 0 {
			next = off + end + 1
		}
		text := strings.TrimSpace(string(doc[off:next]))
		lineStart := off
		off = next
		if !strings.HasPrefix(text, markerPrefix) {
			continue
		}
		sm := markerLine.FindStringSubmatch(text)
		if sm == nil {
			return nil, fmt.Errorf("line %d: malformed marker %q: want <!-- bench:begin ID --> or <!-- bench:end ID -->", line, text)
		}
		kind, id := sm[1], sm[2]
		switch kind {
		case "begin":
			if open != nil {
				return nil, fmt.Errorf("line %d: bench:begin %s inside block %s opened at line %d (missing bench:end %s)", line, id, open.id, open.beginLine, open.id)
			}
			if first, dup := seen[id]; dup {
				return nil, fmt.Errorf("line %d: second block %s (the first begins at line %d)", line, id, first)
			}
			seen[id] = line
			open = &block{id: id, beginLine: line, contentFrom: next}
		case "end":
			if open == nil {
				return nil, fmt.Errorf("line %d: bench:end %s without bench:begin %s", line, id, id)
			}
			if open.id != id {
				return nil, fmt.Errorf("line %d: bench:end %s closes block %s opened at line %d", line, id, open.id, open.beginLine)
			}
			open.contentTo = lineStart
			out = append(out, *open)
			open = nil
		}
	}
	if open != nil {
		return nil, fmt.Errorf("line %d: bench:begin %s has no bench:end %s", open.beginLine, open.id, open.id)
	}
	return out, nil
}

// sourced is an entry's results with the report (run) they come from.
type sourced struct {
	er  EntryResult
	rep *Report
}

// mergeReports indexes the entries of several reports by ID; a later report wins.
func mergeReports(reps []*Report) map[string]sourced {
	out := map[string]sourced{}
	for _, r := range reps {
		for _, er := range r.Entries {
			out[er.ID] = sourced{er, r}
		}
	}
	return out
}

// LoadReport reads a JSON report written by the driver.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return &r, nil
}

// RenderDoc rewrites the blocks of doc whose entry has results in reps; a block of an entry
// without results keeps its content, or says how to generate it when it is empty. Block IDs must
// name entries of the suite.
func RenderDoc(doc []byte, reps []*Report) ([]byte, error) {
	blocks, err := parseBlocks(doc)
	if err != nil {
		return nil, err
	}
	entries := map[string]Entry{}
	var ids []string
	for _, e := range Suite() {
		entries[e.ID] = e
		ids = append(ids, e.ID)
	}
	results := mergeReports(reps)
	var out bytes.Buffer
	last := 0
	for _, b := range blocks {
		e, ok := entries[b.id]
		if !ok {
			return nil, fmt.Errorf("line %d: block %s names no entry of the suite (have %s)", b.beginLine, b.id, strings.Join(ids, ","))
		}
		out.Write(doc[last:b.contentFrom])
		content := doc[b.contentFrom:b.contentTo]
		if s, ok := results[b.id]; ok {
			out.WriteString(renderEntry(e, s.er, s.rep))
		} else if len(bytes.TrimSpace(content)) == 0 {
			fmt.Fprintf(&out, "Not generated yet: run `go run ./bench -filter %s -render docs/benchmarks.md`.\n", b.id)
		} else {
			out.Write(content)
		}
		last = b.contentTo
	}
	out.Write(doc[last:])
	return out.Bytes(), nil
}

// RenderFile renders path in place (through a temporary file, so a failure leaves it whole). It
// returns the IDs of entries with results but no block in the file, in report order: their
// figures are only in the JSON.
func RenderFile(path string, reps []*Report) (unplaced []string, err error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	out, err := RenderDoc(doc, reps)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", path, err)
	}
	blocks, _ := parseBlocks(doc) // RenderDoc parsed it without error
	for _, r := range reps {
		for _, er := range r.Entries {
			placed := slices.ContainsFunc(blocks, func(b block) bool { return b.id == er.ID })
			if !placed && !slices.Contains(unplaced, er.ID) {
				unplaced = append(unplaced, er.ID)
			}
		}
	}
	if svg := PlotCostCurves(reps); svg != nil {
		// The figure the COST block's text refers to, beside the markdown.
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "cost-curves.svg"), svg, 0o644); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
	}
	if bytes.Equal(out, doc) {
		return unplaced, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("render: %w", err)
	}
	return unplaced, nil
}

// renderEntry is the content of one block: the stamp, the warnings, one table row per
// benchmark with a column per shown metric, then what could not be checked.
func renderEntry(e Entry, er EntryResult, rep *Report) string {
	var w strings.Builder
	w.WriteString(stampLine(e, er, rep))
	w.WriteString("\n")
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(&w, "\n**Untrustworthy run:** %s.\n", strings.Join(rep.Warnings, "; "))
	}
	for _, msg := range er.Errors {
		fmt.Fprintf(&w, "\nERROR %s\n", cell(msg))
	}
	if len(er.Benches) == 0 {
		w.WriteString("\nNo benchmark results in this run.\n")
	} else {
		w.WriteString("\n")
		w.WriteString(entryTable(e, er))
	}
	var unchecked []string
	for _, v := range er.Verdicts {
		if v.Result == "n/a" {
			unchecked = append(unchecked, fmt.Sprintf("`%s` %s %s (%s)", v.Bench, v.Metric, v.Target, v.Spec))
		}
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(&w, "\nNot measured in this run (n/a): %s.\n", strings.Join(unchecked, "; "))
	}
	return w.String()
}

// stampLine says where the figures come from: command, date, machine, load and, for the entry's
// physical-limit references, their start → end drift.
func stampLine(e Entry, er EntryResult, rep *Report) string {
	m := rep.Machine
	cmd := rep.Command
	if cmd == "" {
		cmd = "go run ./bench (command not recorded)"
	}
	cpu := m.CPU
	if cpu == "" {
		cpu = "CPU unknown"
	}
	gov := strings.TrimPrefix(m.GoVersion, "go version ") // "go1.26.0 linux/amd64": the platform is printed apart
	if f := strings.Fields(gov); len(f) > 0 {
		gov = f[0]
	}
	s := fmt.Sprintf("_Generated from `%s`, %s: %s, %s/%s, %s, %d cores, load average %.2f → %.2f (start → end).",
		cmd, rep.Date, cpu, m.GOOS, m.GOARCH, gov, m.NProc, m.LoadStart[0], m.LoadEnd[0])
	if rep.Quick {
		s += " QUICK run: figures not meaningful."
	}
	if ls := limitDrift(e.Limits, rep.Limits); ls != "" {
		s += " Physical limits, start → end: " + ls + "."
	}
	s += " Cells: median (min…max over the runs); targets checked on the median._"
	return s
}

// limitDrift prints the entry's physical-limit references at the start and end of the run.
func limitDrift(keys []string, l LimitsReport) string {
	var parts []string
	for _, k := range keys {
		lim, ok := limitByKey(k)
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s %s", lim.name, fmtNum(lim.get(l.Start)), fmtNum(lim.get(l.End)), lim.unit))
	}
	return strings.Join(parts, ", ")
}

// entryTable is one row per benchmark; a column per shown metric any benchmark has, in the
// entry's order; "runs" is the number of -count runs behind the medians.
func entryTable(e Entry, er EntryResult) string {
	var cols []string
	for _, b := range er.Benches {
		for _, metric := range shownMetrics(e, b) {
			if _, ok := b.Median[metric]; ok && !slices.Contains(cols, metric) {
				cols = append(cols, metric)
			}
		}
	}
	var w strings.Builder
	w.WriteString("| benchmark | runs |")
	for _, c := range cols {
		w.WriteString(" " + cell(c) + " |")
	}
	w.WriteString("\n|---|---|")
	for range cols {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	for _, b := range er.Benches {
		fmt.Fprintf(&w, "| %s | %d |", cell(strings.TrimPrefix(b.Name, "Benchmark")), len(b.Runs))
		for _, c := range cols {
			v, ok := b.Median[c]
			if !ok {
				w.WriteString(" – |")
				continue
			}
			txt := fmtNum(v)
			if lo, hi := b.Min[c], b.Max[c]; len(b.Runs) > 1 && lo != hi {
				txt += " (" + fmtNum(lo) + "…" + fmtNum(hi) + ")"
			}
			for _, vd := range er.Verdicts {
				if vd.Bench == b.Name && vd.Metric == c {
					r := vd.Result
					if r == "MISS" {
						r = "**MISS**"
					}
					txt += " " + vd.Target + " " + r
				}
			}
			w.WriteString(" " + cell(txt) + " |")
		}
		w.WriteString("\n")
	}
	return w.String()
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
