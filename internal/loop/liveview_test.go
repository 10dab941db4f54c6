package loop

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// screen is the part of a terminal the live view relies on: lines, the cursor's line, cursor up
// (ESC [ n A), carriage return and clear to the end of the screen (ESC [ J).
type screen struct {
	lines []string
	row   int
}

var csi = regexp.MustCompile(`^\x1b\[([0-9]*)([A-Za-z])`)

func (s *screen) Write(p []byte) (int, error) {
	text := string(p)
	for len(text) > 0 {
		if m := csi.FindStringSubmatch(text); m != nil {
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				s.row = max(0, s.row-max(n, 1))
			case "J":
				s.lines = s.lines[:min(s.row, len(s.lines))]
			}
			text = text[len(m[0]):]
			continue
		}
		switch c := text[0]; c {
		case '\r':
		case '\n':
			s.row++
		default:
			for len(s.lines) <= s.row {
				s.lines = append(s.lines, "")
			}
			s.lines[s.row] += string(c)
		}
		text = text[1:]
	}
	return len(p), nil
}

func (s *screen) String() string { return strings.Join(s.lines, "\n") }

func testFrame(elapsed time.Duration, events ...Event) frame {
	f := frame{
		Elapsed: elapsed,
		Plan:    faultPlan{Scenario: "az-errors", Zones: []string{"use1-az2"}, At: 3 * time.Minute, Duration: time.Minute},
		Events:  events,
	}
	if elapsed >= 3*time.Minute {
		f.FaultStarted, f.FaultAt = true, 3*time.Minute
	}
	for _, z := range []string{"use1-az1", "use1-az2", "use1-az3"} {
		f.Rows = append(f.Rows, zoneRow{Zone: z, Rate: 10, Alarm: "OK", Weight: 1, Canaries: "10/10 ok",
			Faulted: z == "use1-az2" && f.faultRunning()})
	}
	return f
}

// TestLiveViewRedrawsInPlaceOnATerminal: on a terminal the screen holds one frame, the latest, with
// the timeline so far (before, every 2 s appended a new block).
func TestLiveViewRedrawsInPlaceOnATerminal(t *testing.T) {
	var scr screen
	scr.lines = []string{"azlens up: started"}
	scr.row = 1
	v := newLiveView(&scr, true)
	alarm := Event{At: 200.5, Event: "ALARM", Zone: "use1-az2"}
	v.show(testFrame(2 * time.Second))
	v.show(testFrame(4 * time.Second))
	v.show(testFrame(3*time.Minute+20*time.Second, Event{At: 180, Event: "fault start: az-errors", Zone: "use1-az2"}, alarm))
	got := scr.String()
	if n := strings.Count(got, "inv/s"); n != 1 {
		t.Fatalf("screen shows %d tables, want 1:\n%s", n, got)
	}
	if !strings.HasPrefix(got, "azlens up: started\nt=3m20s  FAULT az-errors in use1-az2 since t=3m0s, ends in 40s\n") {
		t.Errorf("screen:\n%s", got)
	}
	if !regexp.MustCompile(`use1-az2 .*<- FAULT`).MatchString(got) || strings.Count(got, "<- FAULT") != 1 {
		t.Errorf("the faulted zone is not marked (only it):\n%s", got)
	}
	if !strings.Contains(got, "timeline so far:\n") || !strings.Contains(got, "200.5s  ALARM") {
		t.Errorf("no timeline so far on screen:\n%s", got)
	}
	// At the end the frame stays, without the partial timeline: the whole one is printed after.
	v.finish()
	if got := scr.String(); strings.Contains(got, "timeline so far") || !strings.Contains(got, "inv/s") {
		t.Errorf("after finish:\n%s", got)
	}
}

// TestLiveViewAppendsPlainBlocksWhenPiped: into a pipe or file (tee), blocks are appended with no
// terminal control codes, and each timeline event is printed once, when it happens.
func TestLiveViewAppendsPlainBlocksWhenPiped(t *testing.T) {
	var out strings.Builder
	v := newLiveView(&out, false)
	start := Event{At: 180, Event: "fault start: az-errors", Zone: "use1-az2", Detail: "for 1m0s"}
	alarm := Event{At: 200.5, Event: "ALARM", Zone: "use1-az2"}
	v.show(testFrame(2 * time.Second))
	v.show(testFrame(3*time.Minute+2*time.Second, start))
	v.show(testFrame(3*time.Minute+22*time.Second, start, alarm))
	got := out.String()
	if strings.Contains(got, "\x1b") {
		t.Errorf("control codes in piped output: %q", got)
	}
	if n := strings.Count(got, "inv/s"); n != 3 {
		t.Errorf("%d blocks, want 3:\n%s", n, got)
	}
	if strings.Count(got, "fault start: az-errors") != 1 || strings.Count(got, "ALARM") != 1 {
		t.Errorf("events not printed exactly once:\n%s", got)
	}
	// Each event comes before the block of the period it happened in.
	if i, j := strings.Index(got, "event 200.5s  ALARM"), strings.Index(got, "t=3m22s"); i < 0 || j < i {
		t.Errorf("ALARM event not printed as it happened:\n%s", got)
	}
}

// TestLiveViewHeadline: the headline says what is planned and counts down to it (before, a run
// with no scenario said `scenario "none" in use1-az2 after 3m0s`), marks the fault while it runs,
// and says when it was.
func TestLiveViewHeadline(t *testing.T) {
	none := testFrame(10 * time.Second)
	none.Plan = faultPlan{Scenario: "none"}
	two := testFrame(40 * time.Second)
	two.Plan.Scenario, two.Plan.Zones = "two-az-errors", []string{"use1-az2", "use1-az3"}
	forever := testFrame(5 * time.Minute)
	forever.Plan.Duration = 0
	for _, tc := range []struct {
		f    frame
		want string
	}{
		{none, "t=10s  no fault planned (--scenario none)"},
		{testFrame(100 * time.Second), "t=1m40s  scenario az-errors in use1-az2 starts in 1m20s (at t=3m0s)"},
		{two, "t=40s  scenario two-az-errors in use1-az2 and use1-az3 starts in 2m20s (at t=3m0s)"},
		{testFrame(3*time.Minute + 10*time.Second), "t=3m10s  FAULT az-errors in use1-az2 since t=3m0s, ends in 50s"},
		{forever, "t=5m0s  FAULT az-errors in use1-az2 since t=3m0s, until the run ends"},
		{testFrame(5 * time.Minute), "t=5m0s  fault az-errors in use1-az2 was t=3m0s–4m0s"},
	} {
		if got := tc.f.headline(); got != tc.want {
			t.Errorf("headline %q, want %q", got, tc.want)
		}
	}
	if p := (faultPlan{Scenario: "none"}).String(); strings.Contains(p, "use1-az") {
		t.Errorf("start-up line for no scenario names a zone: %q", p)
	}
}
