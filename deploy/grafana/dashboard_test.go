// Package grafana_test keeps the shipped Grafana dashboard honest: its JSON is what Grafana
// provisions, every query parses with the real PromQL parser, and every metric it names is one the
// collector really exports — derived here by running the real components (receiver golden output,
// the agent's wire counters, the canary runner, the azhealth processor) through the name
// translation the collector's prometheus exporter applies.
package grafana_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

const dashboardFile = "azlens-az-health.json"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// contract lists every Prometheus series name the collector exports (prometheus exporter with
// default suffixes and resource_constant_labels included: ["*"]), mapped to whether its series carry
// cloud_availability_zone. TestContractMatchesComponents derives the same table from the real
// components, so a renamed metric or a changed unit fails there, and a typo in the dashboard fails
// TestDashboardMetricNames.
var contract = map[string]bool{
	// lambdatelemetry receiver, per execution environment (resource: faas.name, faas.instance,
	// cloud.availability_zone, cloud.region, …).
	"faas_invocations_total":                       true,
	"faas_errors_total":                            true,
	"faas_timeouts_total":                          true,
	"faas_coldstarts_total":                        true,
	"faas_invoke_duration_seconds_bucket":          true,
	"faas_invoke_duration_seconds_sum":             true,
	"faas_invoke_duration_seconds_count":           true,
	"faas_init_duration_seconds_bucket":            true,
	"faas_init_duration_seconds_sum":               true,
	"faas_init_duration_seconds_count":             true,
	"faas_mem_usage_bytes_bucket":                  true,
	"faas_mem_usage_bytes_sum":                     true,
	"faas_mem_usage_bytes_count":                   true,
	"aws_lambda_billed_duration_seconds_bucket":    true,
	"aws_lambda_billed_duration_seconds_sum":       true,
	"aws_lambda_billed_duration_seconds_count":     true,
	"aws_lambda_response_latency_seconds_bucket":   true,
	"aws_lambda_response_latency_seconds_sum":      true,
	"aws_lambda_response_latency_seconds_count":    true,
	"aws_lambda_extension_overhead_seconds_bucket": true,
	"aws_lambda_extension_overhead_seconds_sum":    true,
	"aws_lambda_extension_overhead_seconds_count":  true,
	"aws_lambda_produced_bytes_total":              true,
	"aws_lambda_telemetry_dropped_records_total":   true,
	"azlens_agent_events_received_total":           true,
	"azlens_agent_events_forwarded_total":          true,
	"azlens_agent_events_spooled_total":            true,
	"azlens_agent_events_replayed_total":           true,
	"azlens_agent_events_dropped_total":            true,
	"azlens_agent_batches_sent_total":              true,
	"azlens_agent_batches_failed_total":            true,
	"azlens_agent_flush_duration_ms_sum_total":     true,
	"azlens_agent_flush_count_total":               true,
	"azlens_agent_otlp_received_total":             true,
	"azlens_agent_otlp_rejected_total":             true,
	// Canary runner, one resource per zone.
	"azlens_canary_invocations_total":       true,
	"azlens_canary_duration_seconds_bucket": true,
	"azlens_canary_duration_seconds_sum":    true,
	"azlens_canary_duration_seconds_count":  true,
	// azhealth processor, one resource per function. Its state and flag gauges have no unit, so
	// the exporter adds no suffix (with unit "1" it would append _ratio).
	"azlens_az_p_value":                             true,
	"azlens_az_breach":                              true,
	"azlens_az_alarm_state":                         true,
	"azlens_az_alarm_state_since_timestamp_seconds": true,
	"azlens_az_telemetry_age_seconds":               true,
	"azlens_az_telemetry_stale":                     true,
	"azlens_az_traffic_weight":                      true,
	"azlens_az_evacuate":                            true,
	"azlens_az_shift_blocked_total":                 false, // by reason only
	"azlens_region_alert":                           false, // kind="regional", per function
}

// grafanaVariables stand in for Grafana's built-in interval variables, which appear where PromQL
// expects a duration and would not parse as they are. The dashboard's own variables ($function,
// $zone) only appear inside label matcher strings, so they are left alone and checked as written.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"${__rate_interval}", "1m",
	"$__interval", "1m",
	"${__interval}", "1m",
	"$__range", "1h",
	"${__range}", "1h",
)

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *datasourceRef `json:"datasource"`
}

type valueMapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text string `json:"text"`
	} `json:"options"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []target       `json:"targets"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Mappings []valueMapping `json:"mappings"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []json.RawMessage `json:"panels"` // rows nest panels; this dashboard has none
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *datasourceRef  `json:"datasource"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the dashboard object", dashboardFile)
	}
	return d
}

func wantDatasource(t *testing.T, where string, ds *datasourceRef) {
	t.Helper()
	// ${DS_PROMETHEUS} is a datasource variable rather than an __inputs entry: __inputs are only
	// substituted by the UI's import, and file provisioning would leave the literal string.
	if ds == nil || ds.Type != "prometheus" || ds.UID != "${DS_PROMETHEUS}" {
		t.Errorf("%s: datasource = %+v, want {prometheus ${DS_PROMETHEUS}}", where, ds)
	}
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want ≥ 39", d.SchemaVersion)
	}
	if d.UID == "" || len(d.UID) > 40 || d.Title == "" {
		t.Errorf("uid %q / title %q: both required, uid at most 40 characters", d.UID, d.Title)
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		if _, dup := vars[v.Name]; dup {
			t.Errorf("template variable %q defined twice", v.Name)
		}
		vars[v.Name] = v
	}
	if ds, ok := vars["DS_PROMETHEUS"]; !ok || ds.Type != "datasource" || string(ds.Query) != `"prometheus"` {
		t.Errorf("DS_PROMETHEUS must be a datasource variable over prometheus, got %+v", ds)
	}
	for name, label := range map[string]string{"function": "faas_name", "zone": "cloud_availability_zone"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("template variable %q missing", name)
			continue
		}
		wantDatasource(t, "variable "+name, v.Datasource)
		gotLabel, selector := parseLabelValues(t, v.Definition)
		if gotLabel != label {
			t.Errorf("variable %q lists label %q, want %q", name, gotLabel, label)
		}
		ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
		if err != nil {
			t.Errorf("variable %q selector %q: %v", name, selector, err)
			continue
		}
		for _, m := range ms {
			if m.Name == labels.MetricName && !contractHas(m.Value) {
				t.Errorf("variable %q queries %q, not in the metric contract", name, m.Value)
			}
		}
		// The query (a string: the form every Grafana release reads) must say the same as the
		// definition shown in the UI.
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil || q != v.Definition {
			t.Errorf("variable %q: query %s differs from definition %q", name, v.Query, v.Definition)
		}
	}

	ids := map[int]string{}
	var rects []panel
	for _, p := range d.Panels {
		where := p.Title
		if p.ID <= 0 {
			t.Errorf("panel %q: id %d, want a positive id", where, p.ID)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panel %q: id %d already used by %q", where, p.ID, other)
		}
		ids[p.ID] = p.Title
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel id %d has no title", p.ID)
		}
		if p.Type == "row" {
			// A heading only: expanded, so the panels under it sit at the top level and get the
			// checks below.
			if len(p.Panels) > 0 || len(p.Targets) > 0 || p.GridPos.W != 24 || p.GridPos.H != 1 {
				t.Errorf("row %q: want an expanded heading (no nested panels or targets, 24×1), got %d panels, %d targets, gridPos %+v",
					where, len(p.Panels), len(p.Targets), p.GridPos)
			}
			rects = append(rects, p)
			continue
		}
		if len(p.Panels) > 0 {
			t.Errorf("panel %q: nested panels are not expected (the checks below assume flat panels)", where)
		}
		wantDatasource(t, "panel "+where, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", where)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			wantDatasource(t, "panel "+where+" target "+tg.RefID, tg.Datasource)
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", where, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", where, tg.RefID)
			}
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside Grafana's 24-column grid", where, g)
		}
		for _, o := range rects {
			h := o.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", where, o.Title)
			}
		}
		rects = append(rects, p)
	}
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func parseLabelValues(t *testing.T, def string) (label, selector string) {
	t.Helper()
	m := labelValuesRE.FindStringSubmatch(def)
	if m == nil {
		t.Errorf("variable definition %q is not label_values(<selector>, <label>)", def)
		return "", ""
	}
	return m[2], m[1]
}

func contractHas(name string) bool {
	_, ok := contract[name]
	return ok
}

// query is one parsed target with where it came from.
type query struct {
	panel panel
	ref   string
	expr  parser.Expr
}

func parseQueries(t *testing.T, d dashboard) []query {
	t.Helper()
	var qs []query
	p := parser.NewParser(parser.Options{})
	for _, pn := range d.Panels {
		for _, tg := range pn.Targets {
			e, err := p.ParseExpr(grafanaVariables.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %q target %s: %v\n%s", pn.Title, tg.RefID, err, tg.Expr)
				continue
			}
			qs = append(qs, query{pn, tg.RefID, e})
		}
	}
	return qs
}

func selectors(e parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

func hasMatcher(vs *parser.VectorSelector, name string, typ labels.MatchType, value string) bool {
	return slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
		return m.Name == name && m.Type == typ && m.Value == value
	})
}

// TestDashboardMetricNames: every selector names a contract metric, and applies the dashboard's
// variables — $function always, $zone wherever the metric has a zone label — so the selectors at
// the top of the dashboard really filter every panel.
func TestDashboardMetricNames(t *testing.T) {
	d := loadDashboard(t)
	used := map[string]bool{}
	for _, q := range parseQueries(t, d) {
		where := q.panel.Title + " " + q.ref
		for _, vs := range selectors(q.expr) {
			if vs.Name == "" {
				t.Errorf("%s: selector %s has no metric name", where, vs)
				continue
			}
			zoned, ok := contract[vs.Name]
			if !ok {
				zoned, ok = groundTruthContract[vs.Name]
			}
			if !ok {
				t.Errorf("%s: metric %q is not in the metric contract", where, vs.Name)
				continue
			}
			used[vs.Name] = true
			if !hasMatcher(vs, "faas_name", labels.MatchRegexp, "$function") {
				t.Errorf(`%s: %s does not filter faas_name=~"$function"`, where, vs)
			}
			if zoned && !hasMatcher(vs, "cloud_availability_zone", labels.MatchRegexp, "$zone") {
				t.Errorf(`%s: %s does not filter cloud_availability_zone=~"$zone"`, where, vs)
			}
		}
	}
	// What the dashboard exists to show.
	for _, name := range []string{
		"faas_invocations_total", "faas_invoke_duration_seconds_bucket", "faas_coldstarts_total",
		"aws_lambda_extension_overhead_seconds_bucket", "azlens_az_alarm_state",
		"azlens_az_evacuate", "azlens_az_traffic_weight", "azlens_az_shift_blocked_total",
		"azlens_az_telemetry_age_seconds", "azlens_agent_events_dropped_total",
		"azlens_canary_invocations_total",
		// Ground truth beside what was detected.
		"azlens_emulator_zone_faulted", "azlens_emulator_zonal_shift_active",
		"azlens_emulator_invocations_total",
	} {
		if !used[name] {
			t.Errorf("no panel queries %s", name)
		}
	}
}

// TestDashboardQueryShapes pins the PromQL rules the spec sets: per-zone quantiles aggregate the
// buckets by (le, cloud_availability_zone) before histogram_quantile; a ratio sums numerator and
// denominator separately, then divides (never averages per-series ratios); and counters are only
// read through rate/increase.
func TestDashboardQueryShapes(t *testing.T) {
	d := loadDashboard(t)
	for _, q := range parseQueries(t, d) {
		where := q.panel.Title + " " + q.ref
		parser.Inspect(q.expr, func(n parser.Node, path []parser.Node) error {
			switch n := n.(type) {
			case *parser.Call:
				if n.Func.Name != "histogram_quantile" {
					return nil
				}
				agg, ok := n.Args[1].(*parser.AggregateExpr)
				if !ok || agg.Op != parser.SUM || agg.Without ||
					!slices.Equal(sorted(agg.Grouping), []string{"cloud_availability_zone", "le"}) {
					t.Errorf("%s: histogram_quantile over %s, want sum by (le, cloud_availability_zone) (…)", where, n.Args[1])
				}
			case *parser.BinaryExpr:
				if n.Op != parser.DIV {
					return nil
				}
				for _, side := range []parser.Expr{n.LHS, n.RHS} {
					side = unparen(side)
					if _, ok := side.(*parser.NumberLiteral); ok {
						continue
					}
					if agg, ok := side.(*parser.AggregateExpr); !ok || agg.Op != parser.SUM {
						t.Errorf("%s: division operand %s is not a sum: sum numerator and denominator separately, then divide", where, side)
					}
				}
			case *parser.VectorSelector:
				if !isCounter(n.Name) {
					return nil
				}
				if !underRate(path) {
					t.Errorf("%s: counter %s is read raw; use rate() or increase()", where, n.Name)
				}
			}
			return nil
		})
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

func isCounter(name string) bool {
	return strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_bucket") ||
		strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_sum")
}

// underRate: the selector's nearest enclosing call is rate or increase (through its range).
func underRate(path []parser.Node) bool {
	for i := len(path) - 1; i >= 0; i-- {
		switch n := path[i].(type) {
		case *parser.MatrixSelector, *parser.ParenExpr:
			continue
		case *parser.Call:
			return n.Func.Name == "rate" || n.Func.Name == "increase"
		default:
			return false
		}
	}
	return false
}

// TestDashboardValueMappings: the state panels must show names, not 0/1/2.
func TestDashboardValueMappings(t *testing.T) {
	d := loadDashboard(t)
	want := map[string]map[string]string{
		"azlens_az_alarm_state": {"0": "OK", "1": "PENDING", "2": "ALARM"},
		"azlens_az_evacuate":    {"0": "serving", "1": "EVACUATE"},
	}
	found := map[string]bool{}
	for _, q := range parseQueries(t, d) {
		for _, vs := range selectors(q.expr) {
			texts, ok := want[vs.Name]
			if !ok {
				continue
			}
			found[vs.Name] = true
			got := map[string]string{}
			for _, m := range q.panel.FieldConfig.Defaults.Mappings {
				if m.Type == "value" {
					for k, o := range m.Options {
						got[k] = o.Text
					}
				}
			}
			for k, text := range texts {
				if got[k] != text {
					t.Errorf("panel %q: value %s maps to %q, want %q", q.panel.Title, k, got[k], text)
				}
			}
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// TestProvisioning: the provisioning files are valid YAML of the shape Grafana reads, the
// dashboard provider points at a directory (by variable) holding this dashboard, and the data source
// is a Prometheus one that the DS_PROMETHEUS variable can select.
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, UID, Access, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("provisioning", "datasources", "azlens.yaml"), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources provisioning: apiVersion %d, %d data sources; want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	if s := ds.Datasources[0]; s.Type != "prometheus" || s.Access != "proxy" || s.URL == "" || s.Name == "" {
		t.Errorf("data source %+v: want a named prometheus data source with access proxy and a url", s)
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("provisioning", "dashboards", "azlens.yaml"), &dp)
	if dp.APIVersion != 1 || len(dp.Providers) != 1 {
		t.Fatalf("dashboards provisioning: apiVersion %d, %d providers; want 1 and 1", dp.APIVersion, len(dp.Providers))
	}
	p := dp.Providers[0]
	if p.Type != "file" || p.Name == "" {
		t.Errorf("provider %+v: want a named file provider", p)
	}
	// Resolve the path as Grafana would with the README's AZLENS_GRAFANA_DASHBOARDS=deploy/grafana.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Expand(p.Options.Path, func(k string) string {
		if k == "AZLENS_GRAFANA_DASHBOARDS" {
			return wd
		}
		return "$" + k
	})
	if _, err := os.Stat(filepath.Join(dir, dashboardFile)); err != nil {
		t.Errorf("provider path %q does not lead to %s: %v", p.Options.Path, dashboardFile, err)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
