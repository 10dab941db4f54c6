package loop

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/console/chromiumtest"
)

// consoleURL is a view writer that hands over the console's URL from the run's first line.
type consoleURL struct {
	mu   sync.Mutex
	buf  strings.Builder
	url  chan string
	sent bool
}

var consoleLine = regexp.MustCompile(`web console (http://\S+/ui/)`)

func (w *consoleURL) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := consoleLine.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.url <- m[1]
	}
	return len(p), nil
}

func (w *consoleURL) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestLiveConsoleInChromium runs an az-errors rehearsal with the real binaries, opens its web
// console in headless Chromium while it runs — the zones, their states, the timeline, charts with
// data, recent invocations from the collector's own trace pipeline as a waterfall — and then opens
// the report the run wrote, offline.
func TestLiveConsoleInChromium(t *testing.T) {
	view := &consoleURL{url: make(chan string, 1)}
	report := filepath.Join(t.TempDir(), "report.html")
	cfg := Config{
		Function: bins.function, Agent: bins.agent, Collector: bins.collector, Name: "hello",
		Listen: "127.0.0.1:0", Rate: 60, Timing: Fast, Scenario: "az-errors", Warmup: 12 * time.Second,
		Duration: 90 * time.Second, Interval: time.Second, View: view, WorkDir: t.TempDir(),
		Report: report,
	}
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := Run(context.Background(), cfg)
		done <- result{sum, err}
	}()
	var url string
	select {
	case url = <-view.url:
	case r := <-done:
		t.Fatalf("the run ended before printing the console URL: %v\n%s", r.err, view.String())
	}
	if !strings.HasPrefix(view.String(), "azlens up: web console http://") {
		t.Errorf("the console URL is not the first line:\n%s", view.String())
	}

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		select {
		case r := <-done:
			t.Logf("the run had ended: %v", r.err)
		default:
		}
		t.Logf("view:\n%s\ncollector and sandbox output: %s", view.String(), tail(filepath.Join(cfg.WorkDir, "azlens.log")))
	})
	b := chromiumtest.Start(t, 5*time.Minute)
	b.Navigate(url)
	b.WaitFor("the console to load", `document.body.dataset.ready === "true"`, time.Minute)
	if got := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#zones article")].map(a => a.dataset.zone)`); strings.Join(got, ",") != "use1-az1,use1-az2,use1-az3" {
		t.Errorf("zones on the page = %v", got)
	}
	b.WaitFor("invocations from the collector's trace pipeline", `document.querySelectorAll("#traces tbody tr").length > 0`, time.Minute)
	chromiumtest.Eval[struct{}](b, `document.querySelector("#traces tbody tr button").click()`)
	b.WaitFor("a waterfall", `document.querySelectorAll("#waterfall .wf-row").length > 0`, 30*time.Second)
	spans := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#waterfall .wf-row")].map(r => r.dataset.span)`)
	t.Logf("waterfall spans: %v", spans)

	// Whether and when the detector alarms and shifts depends on the machine's load; the scenario
	// tests assert that. This test asserts that the page shows what the run observed: live, the
	// fault and the faulted zone's errors; in the report, every entry of the run's own timeline and
	// its summary figures.
	b.WaitFor("the fault in the live timeline", `[...document.querySelectorAll("#timeline tbody tr")].some(r => r.dataset.kind === "fault")`, 80*time.Second)
	b.WaitFor("the faulted zone's errors in its chart", `Math.max(0, ...azlens.charts.error.u.data[2].filter(v => v != null)) > 0`, 80*time.Second)
	if got := chromiumtest.Eval[string](b, `document.querySelector('#zones article[data-zone="use1-az2"]').dataset.state`); got != "OK" && got != "PENDING" && got != "ALARM" {
		t.Errorf("faulted zone state on the page = %q", got)
	}
	assertChartPoints(t, b)
	b.Screenshot("console-run.png")
	b.NoErrors()
	// Leave the live page before the run ends: its polls would fail once the front door closes.
	b.Navigate("about:blank")

	r := <-done
	if r.err != nil {
		t.Fatalf("loop: %v\n%s", r.err, view.String())
	}
	if !strings.Contains(view.String(), "report written to "+report) {
		t.Errorf("the run did not say where the report is:\n%s", view.String())
	}
	if _, err := os.Stat(report); err != nil {
		t.Fatal(err)
	}
	b.ClearErrors()
	b.Navigate("file://" + report)
	b.WaitFor("the report to draw", `document.body.dataset.ready === "true"`, 30*time.Second)
	rows := chromiumtest.Eval[[]string](b, `[...document.querySelectorAll("#timeline tbody tr")].map(r => r.cells[1].innerText + "|" + r.cells[2].innerText)`)
	i := 0
	for _, e := range r.sum.Timeline {
		want := e.Event + "|" + e.Zone
		for i < len(rows) && rows[i] != want {
			i++
		}
		if i == len(rows) {
			t.Errorf("the report's timeline %q lacks the run's %q (in order)", rows, want)
			break
		}
	}
	assertChartPoints(t, b)
	figs := chromiumtest.Eval[string](b, `document.querySelector("#summary").innerText`)
	for _, want := range []string{"evacuated zone\n" + derefOr(r.sum.EvacuatedZone, "none"), "alarm zone\n" + derefOr(r.sum.AlarmZone, "none"),
		fmt.Sprintf("false alarms\n%d", r.sum.FalseAlarms), fmt.Sprintf("invocations\n%d", r.sum.Invocations)} {
		if !strings.Contains(figs, want) {
			t.Errorf("report summary lacks %q:\n%s", want, figs)
		}
	}
	t.Logf("run summary: alarm %s after %v s, shift %s after %v s; %d timeline entries",
		derefOr(r.sum.AlarmZone, "none"), derefF(r.sum.TimeToAlarm), derefOr(r.sum.EvacuatedZone, "none"), derefF(r.sum.TimeToShift), len(r.sum.Timeline))
	if got := chromiumtest.Eval[string](b, `document.querySelector("#collector-config").textContent`); !strings.Contains(got, "otlphttp/console") {
		t.Errorf("the report's collector configuration: %q", got)
	}
	if n := chromiumtest.Eval[int](b, `performance.getEntriesByType("resource").length`); n != 0 {
		t.Errorf("the report loaded %d resources; it must be self-contained", n)
	}
	b.Screenshot("report-run.png")
	b.NoErrors()
}

func assertChartPoints(t *testing.T, b *chromiumtest.Browser) {
	t.Helper()
	points := chromiumtest.Eval[map[string][]int](b, `Object.fromEntries(Object.entries(azlens.charts).map(([k, c]) => [k, c.u.data.slice(1).map(s => s.filter(v => v != null).length)]))`)
	for _, id := range []string{"rate", "error", "p50", "p99", "canary", "alarm", "weight"} {
		if p := points[id]; len(p) != 3 || p[0] == 0 || p[1] == 0 || p[2] == 0 {
			t.Errorf("chart %s has points per zone %v, want some in each of 3", id, p)
		}
	}
	if maxErr := chromiumtest.Eval[float64](b, `Math.max(...azlens.charts.error.u.data[2].filter(v => v != null))`); maxErr <= 0 {
		t.Errorf("the faulted zone's error curve never rose (max %v)", maxErr)
	}
}

func derefOr(p *string, or string) string {
	if p == nil {
		return or
	}
	return *p
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestGuardScraperReadsBlockedDecisions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP azlens_az_shift_blocked_total Decisions to shift a zone that a guard blocked, by reason.
# TYPE azlens_az_shift_blocked_total counter
azlens_az_shift_blocked_total{faas_name="hello",reason="zone_change_cooldown"} 3
azlens_az_shift_blocked_total{faas_name="hello",reason="regional"} 1
# TYPE azlens_az_alarm_state gauge
azlens_az_alarm_state{cloud_availability_zone="use1-az1",faas_name="hello"} 2
`)
	}))
	defer srv.Close()
	got, err := (&guardScraper{url: srv.URL, client: srv.Client()}).blocked(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["zone_change_cooldown"] != 3 || got["regional"] != 1 {
		t.Errorf("blocked = %v", got)
	}
}

// assertReportShowsEvacuation opens the report of a run that alarmed and shifted its faulted zone
// in headless Chromium, offline, and checks its picture says so: the fault window, the ALARM and
// the shift of the faulted zone in the timeline and as chart marks, the faulted zone's alarm
// state reaching ALARM and its traffic weight falling to 0 in the charts, and the summary's
// figures. The screenshot is kept as report-az-errors.png (`make test` keeps artifacts).
func assertReportShowsEvacuation(t *testing.T, report string, sum *Summary) {
	t.Helper()
	b := chromiumtest.Start(t, 2*time.Minute)
	b.Navigate("file://" + report)
	b.WaitFor("the report to draw", `document.body.dataset.ready === "true"`, 30*time.Second)
	zone := sum.FaultedZone
	rows := chromiumtest.Eval[[][]string](b, `[...document.querySelectorAll("#timeline tbody tr")].map(r => [r.dataset.kind, r.cells[2].innerText])`)
	for _, kind := range []string{"fault", "alarm", "shift"} {
		found := false
		for _, r := range rows {
			found = found || (r[0] == kind && r[1] == zone)
		}
		if !found {
			t.Errorf("the report's timeline has no %s entry for %s: %v", kind, zone, rows)
		}
	}
	// The charts draw from these series (one per zone, in the page's zone order); the marks
	// from the same timeline rows.
	zones := chromiumtest.Eval[[]string](b, `azlens.run.zones`)
	peak := chromiumtest.Eval[[]float64](b, `azlens.charts.alarm.u.data.slice(1).map(s => Math.max(...s.filter(v => v != null)))`)
	low := chromiumtest.Eval[[]float64](b, `azlens.charts.weight.u.data.slice(1).map(s => Math.min(...s.filter(v => v != null)))`)
	if slicesIndex(zones, zone) < 0 || len(peak) != len(zones) || len(low) != len(zones) {
		t.Fatalf("report zones %v, alarm peaks %v, weight minima %v; faulted zone %s", zones, peak, low, zone)
	}
	for i, z := range zones {
		switch {
		case z == zone && peak[i] != 2:
			t.Errorf("the faulted zone's alarm-state curve peaks at %v, want 2 (ALARM)", peak[i])
		case z == zone && low[i] != 0:
			t.Errorf("the faulted zone's traffic weight never fell to 0 (min %v)", low[i])
		case z != zone && peak[i] == 2:
			t.Errorf("healthy zone %s's alarm-state curve reaches %v in the report", z, peak[i])
		}
	}
	figs := chromiumtest.Eval[string](b, `document.querySelector("#summary").innerText`)
	for _, want := range []string{"alarm zone\n" + zone, "evacuated zone\n" + zone} {
		if !strings.Contains(figs, want) {
			t.Errorf("report summary lacks %q:\n%s", want, figs)
		}
	}
	b.Screenshot("report-az-errors.png")
	b.NoErrors()
}

func slicesIndex(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}
