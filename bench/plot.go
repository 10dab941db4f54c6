package main

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The cost curves (entry COST) are also drawn, as an SVG next to the rendered markdown: four
// log-log panels, where linear growth is a straight line of slope 1 and a target is a dashed
// horizontal line. Written by hand, in a few lines, because the figure is four polylines and a
// charting dependency for it would outweigh the bench tool.

type plotLine struct {
	label string
	dash  bool
	pts   [][2]float64 // x, y; both > 0
}

type plotPanel struct {
	title, xlabel, ylabel string
	lines                 []plotLine
	target                float64 // a horizontal target line; 0: none
	targetLabel           string
}

var costParam = regexp.MustCompile(`^BenchmarkCostCurve(Observe|Correlation)?/(?:functions=(\d+)|envs=(\d+)/open=(\d+))$`)

// PlotCostCurves draws the COST entry of the reports (the last one with it wins); nil if none
// has it.
func PlotCostCurves(reps []*Report) []byte {
	var er *EntryResult
	for _, r := range reps {
		for i := range r.Entries {
			if r.Entries[i].ID == "COST" {
				er = &r.Entries[i]
			}
		}
	}
	if er == nil {
		return nil
	}
	var heap, tickDet, tickProc, corrHeapN, corrHeap10, sweepN, sweep10 plotLine
	heap.label, tickDet.label, tickProc.label = "detector", "detector", "processor (pdata → series)"
	corrHeapN.label, corrHeap10.label, sweepN.label, sweep10.label = "one environment each", "10 environments", "one environment each", "10 environments"
	tickProc.dash, corrHeap10.dash, sweep10.dash = true, true, true
	for _, b := range er.Benches {
		m := costParam.FindStringSubmatch(b.Name)
		if m == nil {
			continue
		}
		med := b.Median
		switch m[1] {
		case "":
			f, _ := strconv.ParseFloat(m[2], 64)
			heap.pts = append(heap.pts, [2]float64{f, med["heap-MiB"]})
			tickDet.pts = append(tickDet.pts, [2]float64{f, med["tick-ms"]})
		case "Observe":
			f, _ := strconv.ParseFloat(m[2], 64)
			tickProc.pts = append(tickProc.pts, [2]float64{f, med["tick-ms"]})
		case "Correlation":
			envs, _ := strconv.Atoi(m[3])
			open, _ := strconv.ParseFloat(m[4], 64)
			h, sw := [2]float64{open, med["heap-MiB"]}, [2]float64{open, med["sweep-ns/open"] * open / 1e6}
			if envs == 10 {
				corrHeap10.pts, sweep10.pts = append(corrHeap10.pts, h), append(sweep10.pts, sw)
			} else {
				corrHeapN.pts, sweepN.pts = append(corrHeapN.pts, h), append(sweepN.pts, sw)
			}
		}
	}
	panels := []plotPanel{
		{title: "detector heap, window full", xlabel: "functions (× 3 zones × 10 environments)", ylabel: "MiB",
			lines: []plotLine{heap}, target: 1024, targetLabel: "target 1 GiB"},
		{title: "CPU per 10 s tick", xlabel: "functions (× 3 zones × 10 environments)", ylabel: "ms",
			lines: []plotLine{tickDet, tickProc}, target: 10000, targetLabel: "one core"},
		{title: "correlation table heap", xlabel: "open invocations", ylabel: "MiB", lines: []plotLine{corrHeapN, corrHeap10}},
		{title: "one sweep, nothing due", xlabel: "open invocations", ylabel: "ms", lines: []plotLine{sweepN, sweep10}},
	}
	const pw, ph = 460, 300
	var w strings.Builder
	fmt.Fprintf(&w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", 2*pw, 2*ph+24)
	fmt.Fprintf(&w, `<rect width="100%%" height="100%%" fill="white"/><text x="8" y="16" font-size="13">azlens cost curves (go run ./bench -filter COST), medians; log-log: linear growth is a slope-1 line</text>`+"\n")
	for i, p := range panels {
		drawPanel(&w, p, float64(i%2*pw), float64(24+i/2*ph), pw, ph)
	}
	w.WriteString("</svg>\n")
	return []byte(w.String())
}

func drawPanel(w *strings.Builder, p plotPanel, ox, oy float64, pw, ph int) {
	left, right, top, bottom := ox+60, ox+float64(pw)-16, oy+28, oy+float64(ph)-44
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range p.lines {
		for _, pt := range l.pts {
			if pt[0] > 0 && pt[1] > 0 {
				xmin, xmax = math.Min(xmin, pt[0]), math.Max(xmax, pt[0])
				ymin, ymax = math.Min(ymin, pt[1]), math.Max(ymax, pt[1])
			}
		}
	}
	if p.target > 0 {
		ymax = math.Max(ymax, p.target)
	}
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" font-size="12" font-weight="bold">%s</text>`+"\n", left, oy+16, p.title)
	if math.IsInf(xmin, 1) {
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f">no data</text>`+"\n", left, top+20)
		return
	}
	lx0, lx1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if lx1 == lx0 {
		lx1++
	}
	if ly1 == ly0 {
		ly1++
	}
	sx := func(x float64) float64 { return left + (math.Log10(x)-lx0)/(lx1-lx0)*(right-left) }
	sy := func(y float64) float64 { return bottom - (math.Log10(y)-ly0)/(ly1-ly0)*(bottom-top) }
	fmt.Fprintf(w, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, top, right-left, bottom-top)
	for d := lx0; d <= lx1; d++ {
		x := sx(math.Pow(10, d))
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, top, x, bottom, x, bottom+14, decade(d))
	}
	for d := ly0; d <= ly1; d++ {
		y := sy(math.Pow(10, d))
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left, y, right, y, left-4, y+4, decade(d))
	}
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", (left+right)/2, bottom+30, p.xlabel)
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle" transform="rotate(-90 %.0f %.0f)">%s</text>`+"\n", ox+14, (top+bottom)/2, ox+14, (top+bottom)/2, p.ylabel)
	if p.target > 0 {
		y := sy(p.target)
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#c00" stroke-dasharray="6 4"/><text x="%.0f" y="%.1f" fill="#c00" text-anchor="end">%s</text>`+"\n", left, y, right, y, right-4, y-4, p.targetLabel)
	}
	colours := []string{"#1f5fbf", "#d9730d"}
	for i, l := range p.lines {
		pts := append([][2]float64(nil), l.pts...)
		sort.Slice(pts, func(a, b int) bool { return pts[a][0] < pts[b][0] })
		var coords []string
		for _, pt := range pts {
			if pt[0] > 0 && pt[1] > 0 {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", sx(pt[0]), sy(pt[1])))
			}
		}
		dash := ""
		if l.dash {
			dash = ` stroke-dasharray="4 3"`
		}
		c := colours[i%len(colours)]
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), c, dash)
		for _, xy := range coords {
			x, y, _ := strings.Cut(xy, ",")
			fmt.Fprintf(w, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, c)
		}
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			left+8, top+14+float64(i)*14, left+28, top+14+float64(i)*14, c, dash, left+32, top+18+float64(i)*14, l.label)
	}
}

// decade labels 10^d compactly: 0.001 … 1 … 10k, 100k, 1M.
func decade(d float64) string {
	v := math.Pow(10, d)
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
