package console

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/console/chromiumtest"
)

// These tests load the console and the report in Debian's headless Chromium. The run's data is
// made up here (the loop's test internal/loop TestLiveConsoleInChromium loads a real run's); the
// zonal shift and experiment APIs the forms call are the emulator's real ones.

var zones = []string{"use1-az1", "use1-az2", "use1-az3"}

// rehearsal records a made-up az-errors run: fault at 20 s, ALARM at 50 s, shift at 52 s,
// fail-back from 80 s, full traffic at 95 s, a blocked guard decision at 60 s.
func rehearsal(c *Console, upTo float64) {
	var events []Event
	add := func(at float64, ev, zone, detail string) {
		if at <= upTo {
			events = append(events, Event{At: at, Event: ev, Zone: zone, Detail: detail})
		}
	}
	add(20, "fault start: az-errors", "use1-az2", "for 1m0s")
	add(44, "PENDING", "use1-az2", "")
	add(50, "ALARM", "use1-az2", "")
	add(52, "zonal shift: traffic away", "use1-az2", "")
	add(60, "guard blocked a shift", "", "zone_change_cooldown (+1, 1 in all)")
	add(80, "fault end", "use1-az2", "")
	add(82, "fail-back 25%", "use1-az2", "")
	add(95, "recovered: full traffic", "use1-az2", "")
	var ok, total [3]uint64
	for t := 2.0; t <= upTo; t += 2 {
		f := Frame{At: t}
		for i, z := range zones {
			zf := ZoneFrame{Zone: z, Rate: 10, P50ms: 3, P99ms: 12, Weight: 1}
			total[i] += 20
			ok[i] += 20
			if z == "use1-az2" {
				switch {
				case t >= 20 && t < 52:
					zf.ErrorPct = 5
					ok[i]--
				case t >= 52 && t < 82:
					zf.Rate, zf.Weight = 0, 0
				case t >= 82 && t < 95:
					zf.Rate, zf.Weight = 2.5, 0.25
				}
				switch {
				case t >= 50 && t < 95:
					zf.Alarm = 2
				case t >= 44 && t < 50:
					zf.Alarm = 1
				}
			}
			zf.CanaryOK, zf.CanaryTotal = ok[i], total[i]
			f.Zones = append(f.Zones, zf)
		}
		c.Record(f, events, []Guard{{Reason: "zone_change_cooldown", Blocked: 1, At: 60}}, map[string]any{
			"scenario": "az-errors", "faulted_zone": "use1-az2", "alarm_zone": "use1-az2", "evacuated_zone": "use1-az2",
			"time_to_alarm_s": 30.0, "time_to_shift_s": 32.0, "failed_before_shift": 17, "failed_after_shift": 0,
			"false_alarms": 0, "invocations": 2880,
		})
	}
}

func newTestConsole() *Console {
	return New(Config{
		Function: "hello", Zones: zones, Scenario: "az-errors", FaultedZone: "use1-az2",
		Scenarios: experiment.ScenarioNames(), Interval: 200 * time.Millisecond,
		Settings:        []Setting{{Name: "user load", Value: "30 invocations/s"}},
		CollectorConfig: "receivers:\n  lambdatelemetry: {}\n",
	})
}

func TestReportInChromium(t *testing.T) {
	c := newTestConsole()
	rehearsal(c, 120)
	c.Finish(map[string]any{"scenario": "az-errors", "time_to_alarm_s": 30.0, "time_to_shift_s": 32.0,
		"alarm_zone": "use1-az2", "evacuated_zone": "use1-az2", "failed_before_shift": 17, "failed_after_shift": 0,
		"false_alarms": 0, "invocations": 2880}, c.state(0).Events)
	path := filepath.Join(t.TempDir(), "report.html")
	if err := c.WriteReportFile(path); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{`src="`, `href="http`, `href="/`, "static/"} {
		if strings.Contains(string(html), ref) {
			t.Errorf("the report still references %q: it would need a server", ref)
		}
	}

	b := chromiumtest.Start(t, 2*time.Minute)
	// Offline: the report is opened from a file, and every request other than the file fails.
	b.Navigate("file://" + path)
	b.WaitFor("the report to draw", `document.body.dataset.ready === "true"`, 30*time.Second)
	AssertRehearsal(t, b, true)
	if n := chromiumtest.Eval[int](b, `performance.getEntriesByType("resource").length`); n != 0 {
		t.Errorf("the report loaded %d resources; it must be self-contained", n)
	}
	if got := chromiumtest.Eval[string](b, `document.querySelector("#collector-config").textContent`); !strings.Contains(got, "lambdatelemetry") {
		t.Errorf("collector configuration missing from the report: %q", got)
	}
	chromiumtest.Eval[chromedpVoid](b, `document.querySelector("#chart-error details").open = true`)
	b.WaitFor("the error table to fill", `document.querySelectorAll("#chart-error details table tbody tr").length > 0`, 10*time.Second)
	if got := chromiumtest.Eval[int](b, `document.querySelectorAll("#chart-error details table tbody tr").length`); got != 60 {
		t.Errorf("the report's error table has %d rows, want every period (60)", got)
	}
	b.Screenshot("report.png")
	b.NoErrors()
}

// AssertRehearsal checks what a page showing an az-errors rehearsal in use1-az2 must show.
func AssertRehearsal(t *testing.T, b *chromiumtest.Browser, finished bool) {
	t.Helper()
	cards := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#zones article")].map(a => a.dataset.zone + "=" + a.dataset.state)`)
	if len(cards) != 3 || !strings.HasPrefix(cards[0], "use1-az1=") || !strings.HasPrefix(cards[1], "use1-az2=") {
		t.Errorf("zone cards = %v, want the three zones in order", cards)
	}
	kinds := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#timeline tbody tr")].map(r => r.dataset.kind)`)
	for _, want := range []string{"fault", "alarm", "shift"} {
		if !contains(kinds, want) {
			t.Errorf("timeline kinds %v lack %q", kinds, want)
		}
	}
	// Every chart has points for every zone, and the faulted zone's error curve rose.
	points := chromiumtest.Eval[map[string][]int](b, `Object.fromEntries(Object.entries(azlens.charts).map(([k, c]) => [k, c.u.data.slice(1).map(s => s.filter(v => v != null).length)]))`)
	for _, id := range []string{"rate", "error", "p50", "p99", "canary", "alarm", "weight"} {
		p := points[id]
		if len(p) != 3 || p[0] == 0 || p[1] == 0 || p[2] == 0 {
			t.Errorf("chart %s has points per zone %v, want some in each of 3", id, p)
		}
	}
	if maxErr := chromiumtest.Eval[float64](b, `Math.max(...azlens.charts.error.u.data[2].filter(v => v != null))`); maxErr <= 0 {
		t.Errorf("the faulted zone's error curve never rose (max %v)", maxErr)
	}
	// The fault window and markers are drawn: some canvas pixels have the shading's hue.
	shaded := chromiumtest.Eval[int](b, `(() => { const c = document.querySelector("#chart-error canvas"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 245 && d[i+1] > 150 && d[i+1] < 190 && d[i+2] < 15 && d[i+3] > 25 && d[i+3] < 60) n++; return n; })()`)
	if shaded < 100 {
		t.Errorf("only %d pixels of the error chart are shaded: the fault window is not drawn", shaded)
	}
	// Accessibility: every chart has a table of its figures, and states are words, not colours.
	if n := chromiumtest.Eval[int](b, `document.querySelectorAll(".chart details table").length`); n != 7 {
		t.Errorf("%d charts have a figures table, want 7", n)
	}
	if n := chromiumtest.Eval[int](b, `document.querySelectorAll(".plot[role=img][aria-label]").length`); n != 7 {
		t.Errorf("%d charts have a text label, want 7", n)
	}
	states := chromiumtest.Eval[string](b, `document.querySelector("#zones").innerText`)
	if !strings.Contains(states, "OK") || !strings.Contains(states, "traffic") {
		t.Errorf("zone cards do not name their state in words: %q", states)
	}
	if finished {
		figs := chromiumtest.Eval[string](b, `document.querySelector("#summary").innerText`)
		for _, want := range []string{"time to alarm", "time to shift", "failed before shift", "false alarms"} {
			if !strings.Contains(figs, want) {
				t.Errorf("summary lacks %q: %q", want, figs)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestConsoleLiveUpdatesAndActionsInChromium serves the console beside the emulator's real zonal
// shift and experiment APIs, as the front door does, and drives the page: it must pick up new
// periods while open, show a posted trace as a waterfall, and its forms must start and cancel a
// zonal shift and start and stop an experiment through those APIs.
func TestConsoleLiveUpdatesAndActionsInChromium(t *testing.T) {
	c := newTestConsole()
	rehearsal(c, 30)
	shifts := zonalshift.New(zonalshift.Config{})
	defer shifts.Close()
	shifts.SetZones("hello", zones)
	exps := experiment.New(experiment.Config{Zones: zones})
	defer exps.Close()
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", c.Handler(nil, func(name, zone string, d time.Duration) (any, error) {
		return experiment.Scenario(name, zones, zone, d)
	})))
	mux.Handle("/zonalshift/", http.StripPrefix("/zonalshift", shifts.Handler()))
	mux.Handle("/fis/", http.StripPrefix("/fis", exps.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	postTrace(t, srv.URL+"/ui/otlp/v1/traces")

	b := chromiumtest.Start(t, 2*time.Minute)
	b.Navigate(srv.URL + "/ui/")
	b.WaitFor("the page to load", `document.body.dataset.ready === "true"`, 30*time.Second)
	if got := chromiumtest.Eval[string](b, `document.body.dataset.frames`); got != "15" {
		t.Fatalf("frames on the page = %s, want 15", got)
	}
	// New periods reach the open page.
	rehearsal(c, 60)
	b.WaitFor("the page to poll new periods", `Number(document.body.dataset.frames) > 15`, 30*time.Second)
	b.WaitFor("the ALARM to show", `document.querySelector('#zones article[data-zone="use1-az2"]').dataset.state === "ALARM"`, 30*time.Second)
	AssertRehearsal(t, b, false)
	if got := chromiumtest.Eval[string](b, `document.querySelector('#zones article[data-zone="use1-az2"]').innerText`); !strings.Contains(got, "SHIFTED AWAY") || !strings.Contains(got, "ALARM") {
		t.Errorf("faulted zone card = %q, want ALARM and SHIFTED AWAY in words", got)
	}

	// Recent invocations and the waterfall.
	b.WaitFor("the trace list", `document.querySelectorAll("#traces tbody tr").length > 0`, 30*time.Second)
	chromiumtest.Eval[chromedpVoid](b, `document.querySelector("#traces tbody tr button").click()`)
	b.WaitFor("the waterfall", `document.querySelectorAll("#waterfall .wf-row").length === 3`, 30*time.Second)
	rows := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#waterfall .wf-row")].map(r => r.dataset.span)`)
	if strings.Join(rows, ",") != "hello,invoke,extensionOverhead" {
		t.Errorf("waterfall rows = %v, want the invocation then its children", rows)
	}
	b.Screenshot("console-live.png")

	// A manual zonal shift through the form, listed, then cancelled.
	chromiumtest.Eval[chromedpVoid](b, `(() => { document.querySelector("#shift-zone").value = "use1-az3"; document.querySelector("#shift-form button").click(); })()`)
	b.WaitFor("the shift to be listed", `[...document.querySelectorAll("#shifts tbody tr")].some(r => r.innerText.includes("use1-az3"))`, 30*time.Second)
	if w := shifts.Weights("hello", zones); w["use1-az3"] != 0 {
		t.Errorf("after the form's shift, weights = %v, want use1-az3 at 0", w)
	}
	chromiumtest.Eval[chromedpVoid](b, `document.querySelector("#shifts tbody tr button").click()`)
	b.WaitFor("the shift to be cancelled", `document.querySelectorAll("#shifts tbody tr").length === 0`, 30*time.Second)
	if w := shifts.Weights("hello", zones); w["use1-az3"] != 1 {
		t.Errorf("after cancel, weights = %v, want use1-az3 back at 1", w)
	}

	// An experiment through the form, then stopped.
	chromiumtest.Eval[chromedpVoid](b, `(() => { document.querySelector("#exp-scenario").value = "az-latency"; document.querySelector("#experiment-form button").click(); })()`)
	b.WaitFor("the experiment to start", `document.querySelector("#action-result").innerText.includes("experiment")`, 30*time.Second)
	if got := chromiumtest.Eval[string](b, `document.querySelector("#action-result").innerText`); !strings.Contains(got, "started") {
		t.Fatalf("experiment form: %q", got)
	}
	b.WaitFor("the experiment to be listed", `[...document.querySelectorAll("#experiments tbody tr")].some(r => r.innerText.includes("az-latency"))`, 30*time.Second)
	b.WaitFor("a stop button", `document.querySelector("#experiments tbody tr button") !== null`, 30*time.Second)
	chromiumtest.Eval[chromedpVoid](b, `document.querySelector("#experiments tbody tr button").click()`)
	b.WaitFor("the experiment to stop", `[...document.querySelectorAll("#experiments tbody tr")].every(r => !r.querySelector("button"))`, 30*time.Second)
	b.Screenshot("console-actions.png")
	b.NoErrors()
}

type chromedpVoid = chromedp.Void
