package backends

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardVars stand for the dashboard's variables as a user first sees it: this function, every
// zone, and the rate interval Grafana computes for a 1 s scrape interval (4 × scrape interval,
// rounded up here to a minute, within this run's length).
var dashboardVars = strings.NewReplacer(
	"$function", functionName,
	"$zone", ".*",
	"${__rate_interval}", "1m",
	"$__rate_interval", "1m",
)

// groupingRE finds the labels an aggregation keeps: "by (a, b)".
var groupingRE = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)

// checkDashboard runs every target of every panel of the shipped dashboard on the real Prometheus
// while the run is live, and requires series labelled as the panel's legend and grouping expect:
// the outermost aggregation's labels (less le, which histogram_quantile consumes) each present,
// zones among the run's, the function's name where it is kept.
func checkDashboard(t *testing.T, prom *prometheus) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "azlens-az-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		for _, tg := range p.Targets {
			queries++
			expr := dashboardVars.Replace(tg.Expr)
			where := p.Title + " " + tg.RefID
			ss, err := prom.query(expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if len(ss) == 0 {
				t.Errorf("%s: no series from a real run\n%s", where, expr)
				continue
			}
			var want []string
			if m := groupingRE.FindStringSubmatch(expr); m != nil {
				for _, l := range strings.Split(m[1], ",") {
					if l = strings.TrimSpace(l); l != "le" && l != "" {
						want = append(want, l)
					}
				}
			}
			for _, s := range ss {
				for _, l := range want {
					v := s.Metric[l]
					switch {
					case v == "":
						t.Errorf("%s: series %v lacks %s", where, s.Metric, l)
					case l == "cloud_availability_zone" && !slices.Contains(zones, v):
						t.Errorf("%s: zone %q not one of %v", where, v, zones)
					case l == "faas_name" && v != functionName:
						t.Errorf("%s: faas_name %q", where, v)
					}
				}
			}
		}
	}
	t.Logf("dashboard: %d queries checked against the live run", queries)
}
