package loop

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/azlens/azlens/internal/loadgen"
)

// The live view of `azlens up`: what the run knows is gathered into a frame (data only, so another
// front — a web console — can show the same), and a liveView renders frames for a terminal,
// redrawing in place, or for a pipe or file, as appended blocks.

// frame is one refresh of the live view.
type frame struct {
	Elapsed time.Duration
	Plan    faultPlan
	// FaultAt is when the fault started, since the load started; meaningful if FaultStarted.
	FaultAt      time.Duration
	FaultStarted bool
	Rows         []zoneRow
	// Events is the timeline so far.
	Events []Event
}

// faultPlan is the scenario the run will inject, as configured.
type faultPlan struct {
	Scenario string
	Zones    []string      // every zone the scenario's experiment targets
	At       time.Duration // after the load starts
	Duration time.Duration // 0: until the run ends
}

// zoneRow is one zone's line of the view, over the last period.
type zoneRow struct {
	Zone     string
	Rate     float64 // user invocations per second
	ErrPct   float64
	P99ms    float64
	Alarm    string
	Weight   float64 // traffic share the router gives the zone (0: shifted away)
	Canaries string
	Faulted  bool // the fault runs in this zone now
}

// faultRunning says whether the fault is in its window at the frame's time.
func (f frame) faultRunning() bool {
	if !f.FaultStarted {
		return false
	}
	return f.Plan.Duration == 0 || f.Elapsed < f.FaultAt+f.Plan.Duration
}

// headline is the frame's first line: the time, and where the planned fault stands.
func (f frame) headline() string {
	t := "t=" + f.Elapsed.Round(time.Second).String()
	p := f.Plan
	what := p.Scenario + " in " + strings.Join(p.Zones, " and ")
	switch {
	case p.Scenario == "" || p.Scenario == "none":
		return t + "  no fault planned (--scenario none)"
	case !f.FaultStarted:
		left := max(0, p.At-f.Elapsed).Round(time.Second)
		return fmt.Sprintf("%s  scenario %s starts in %s (at t=%s)", t, what, left, p.At)
	case f.faultRunning() && p.Duration == 0:
		return fmt.Sprintf("%s  FAULT %s since t=%s, until the run ends", t, what, f.FaultAt.Round(100*time.Millisecond))
	case f.faultRunning():
		left := (f.FaultAt + p.Duration - f.Elapsed).Round(time.Second)
		return fmt.Sprintf("%s  FAULT %s since t=%s, ends in %s", t, what, f.FaultAt.Round(100*time.Millisecond), left)
	default:
		return fmt.Sprintf("%s  fault %s was t=%s–%s", t, what, f.FaultAt.Round(100*time.Millisecond),
			(f.FaultAt + p.Duration).Round(100*time.Millisecond))
	}
}

// table writes the per-zone rows.
func (f frame) table(w io.Writer) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  zone\tinv/s\terr %%\tp99 ms\talarm\ttraffic\tcanaries\t\n")
	for _, r := range f.Rows {
		traffic := fmt.Sprintf("%.0f%%", 100*r.Weight)
		if r.Weight == 0 {
			traffic = "SHIFTED AWAY"
		}
		mark := ""
		if r.Faulted {
			mark = "<- FAULT"
		}
		fmt.Fprintf(tw, "  %s\t%.1f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\n", r.Zone, r.Rate, r.ErrPct, r.P99ms, r.Alarm, traffic, r.Canaries, mark)
	}
	tw.Flush()
	// The mark column is empty in most rows: no padding left at the ends of lines.
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func formatEvent(e Event) string {
	return strings.TrimRight(fmt.Sprintf("  %7.1fs  %-28s %s %s", e.At, e.Event, e.Zone, e.Detail), " ")
}

// redrawnEvents is how many of the latest timeline events a redrawn frame shows.
const redrawnEvents = 8

// liveView renders frames: in place on a terminal, as appended blocks elsewhere (a pipe into tee,
// a file), each event printed once as it happens.
type liveView struct {
	w      io.Writer
	redraw bool
	drawn  int // lines of the frame on screen (redraw)
	shown  int // events already printed (appended blocks)
	last   frame
}

func newLiveView(w io.Writer, redraw bool) *liveView { return &liveView{w: w, redraw: redraw} }

// show draws f.
func (v *liveView) show(f frame) {
	v.last = f
	var b strings.Builder
	if !v.redraw {
		for _, e := range f.Events[min(v.shown, len(f.Events)):] {
			fmt.Fprintf(&b, "event %s\n", strings.TrimLeft(formatEvent(e), " "))
		}
		v.shown = len(f.Events)
		b.WriteString(f.headline() + "\n")
		f.table(&b)
		_, _ = io.WriteString(v.w, b.String())
		return
	}
	b.WriteString(f.headline() + "\n")
	f.table(&b)
	if n := len(f.Events); n > 0 {
		b.WriteString("timeline so far:\n")
		if n > redrawnEvents {
			fmt.Fprintf(&b, "  (%d earlier)\n", n-redrawnEvents)
		}
		for _, e := range f.Events[max(0, n-redrawnEvents):] {
			b.WriteString(formatEvent(e) + "\n")
		}
	}
	v.draw(b.String())
}

// draw replaces the frame on screen with text: cursor up over the old one, clear to the end of the
// screen, print.
func (v *liveView) draw(text string) {
	var out strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA\r\x1b[J", v.drawn)
	}
	out.WriteString(text)
	v.drawn = strings.Count(text, "\n")
	_, _ = io.WriteString(v.w, out.String())
}

// finish leaves the last frame without its partial timeline, for the whole timeline printed after.
func (v *liveView) finish() {
	if !v.redraw || v.drawn == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(v.last.headline() + "\n")
	v.last.table(&b)
	v.draw(b.String())
}

// frame gathers what the run knows now.
func (l *run) frame(elapsed time.Duration, period []loadgen.ZoneStats) frame {
	alarm, weight := l.timeline.states()
	faultAt, faulted := l.timeline.faultState()
	f := frame{Elapsed: elapsed, Plan: l.plan, Events: l.timeline.eventsSoFar()}
	if !faultAt.IsZero() {
		f.FaultStarted, f.FaultAt = true, faultAt.Sub(l.timeline.startTime())
		if l.plan.Duration > 0 && !f.faultRunning() {
			f.Events = insertEvent(f.Events, Event{At: round1((f.FaultAt + l.plan.Duration).Seconds()), Event: "fault end", Zone: strings.Join(l.plan.Zones, ",")})
		}
	}
	byZone := map[string]loadgen.ZoneStats{}
	for _, z := range period {
		byZone[z.Zone] = z
	}
	canaries := map[string]string{}
	for _, r := range l.canaries.Results() {
		c := fmt.Sprintf("%d/%d ok", r.Success, r.Total())
		if r.Last != "" && r.Last != "success" {
			c += " (last: " + string(r.Last) + ")"
		}
		canaries[r.Zone] = c
	}
	for _, zid := range l.cfg.Zones {
		z := byZone[zid]
		n := z.Total()
		errPct := 0.0
		if n > 0 {
			errPct = 100 * float64(n-z.Count[loadgen.Success]) / float64(n)
		}
		f.Rows = append(f.Rows, zoneRow{
			Zone: zid, Rate: float64(n) / l.cfg.Interval.Seconds(), ErrPct: errPct,
			P99ms: float64(z.Quantile(0.99).Microseconds()) / 1000, Alarm: alarmNames[alarm[zid]],
			Weight: weight[zid], Canaries: canaries[zid], Faulted: faulted[zid] && f.faultRunning(),
		})
	}
	return f
}

// The timeline's state the view reads, each under the timeline's lock.

func (t *timeline) faultState() (at time.Time, zones map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	zones = map[string]bool{}
	for z, v := range t.faulted {
		zones[z] = v
	}
	return t.faultAt, zones
}

func (t *timeline) eventsSoFar() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.events...)
}

func (t *timeline) startTime() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.start
}
