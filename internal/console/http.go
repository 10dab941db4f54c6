package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// assets are the page, its script and style, and the vendored uPlot (assets/vendor/uplot:
// version, origin and licence in PROVENANCE and LICENSE there; scripts/vendor-uplot.sh).
//
//go:embed assets
var assets embed.FS

// ScenarioTemplate returns the FIS experiment template of a built-in scenario, for the page's
// experiment form (the loop passes experiment.Scenario). The form then calls the same FIS API
// `azlens experiment start` does.
type ScenarioTemplate func(name, zone string, d time.Duration) (any, error)

// Handler serves the console with its paths relative to where it is mounted (the loop mounts it
// at /ui on the front door):
//
//	GET  /                  the page
//	GET  /static/...        its script, style and uPlot
//	GET  /api/state?since=N the run so far (frames after the N-th when since is given)
//	GET  /api/traces?zone=Z recent invocations, newest first
//	GET  /api/traces/{id}   one invocation's spans
//	GET  /api/scenario?name=&zone=&duration=  an experiment template for the form
//	GET  /metrics           the console's own counters (Prometheus text)
//	POST /otlp/v1/traces    OTLP/HTTP trace export (protobuf or JSON, gzip or not)
func (c *Console) Handler(log *slog.Logger, scenario ScenarioTemplate) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := fs.ReadFile(static, "index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		since := 0
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "since: want a non-negative integer, got "+strconv.Quote(v), http.StatusBadRequest)
				return
			}
			since = n
		}
		writeJSON(w, c.state(since))
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"traces":             nonNil(c.traces.list(r.URL.Query().Get("zone"))),
			"rejected_exports":   c.traces.rejected.Load(),
			"spans_without_zone": c.traces.noZone.Load(),
		})
	})
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := c.traces.get(r.PathValue("id"))
		if !ok {
			http.Error(w, "trace "+strconv.Quote(r.PathValue("id"))+" is not (or no longer) in the buffer", http.StatusNotFound)
			return
		}
		writeJSON(w, t)
	})
	mux.HandleFunc("GET /api/scenario", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var d time.Duration
		if v := q.Get("duration"); v != "" && v != "0" {
			var err error
			if d, err = time.ParseDuration(v); err != nil || d < 0 {
				http.Error(w, "duration: want a Go duration such as 2m, got "+strconv.Quote(v), http.StatusBadRequest)
				return
			}
		}
		if scenario == nil {
			http.Error(w, "no scenarios in this run", http.StatusNotFound)
			return
		}
		t, err := scenario(q.Get("name"), q.Get("zone"), d)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, t)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP azlens_console_otlp_rejected_total OTLP trace exports the console refused (bad body).\n# TYPE azlens_console_otlp_rejected_total counter\nazlens_console_otlp_rejected_total %d\n", c.traces.rejected.Load())
		fmt.Fprintf(w, "# HELP azlens_console_spans_without_zone_total Spans dropped because their resource named no cloud.availability_zone.\n# TYPE azlens_console_spans_without_zone_total counter\nazlens_console_spans_without_zone_total %d\n", c.traces.noZone.Load())
	})
	mux.HandleFunc("POST /otlp/v1/traces", c.otlpHandler(log, &sync.Once{}))
	return mux
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
