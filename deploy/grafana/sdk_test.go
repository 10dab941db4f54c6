package grafana_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestDashboardDecodesStrictly decodes the dashboard with grafana-foundation-sdk's Go types
// (github.com/grafana/grafana-foundation-sdk/go, Apache-2.0, generated from Grafana's own schema),
// in strict mode: a field of the wrong type, an unknown dashboard, panel or target field, or a
// panel whose options or fieldConfig.defaults.custom do not fit its panel type's schema fails. What
// the SDK does not check — unknown keys directly under fieldConfig.defaults, enum values — the
// other tests in this package cover where it matters (value mappings, data sources, grid).
func TestDashboardDecodesStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d sdk.Dashboard
	if err := noErrors(d.UnmarshalJSONStrict(raw)); err != nil {
		t.Fatalf("%s does not decode strictly:\n%v", dashboardFile, err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
}

// TestStrictDecodeCatchesMistakes: the strict decode above can fail — an unknown target field, an
// unknown panel option, a wrong type and an unknown panel field in a copy of the dashboard are each
// reported, with their path. (v0.0.22 reports through its error list only: on success its strict
// decoder returns an empty list as a typed-nil error, and keeps neither panels, options nor
// targets, so what it decoded cannot be inspected.)
func TestStrictDecodeCatchesMistakes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(p map[string]any)
	}{
		{"unknown target field", "targets[0]", func(p map[string]any) { p["targets"].([]any)[0].(map[string]any)["exprr"] = "up" }},
		{"unknown option", "options", func(p map[string]any) { p["options"].(map[string]any)["legendd"] = true }},
		{"wrong type", "gridPos", func(p map[string]any) { p["gridPos"] = "wide" }},
		{"unknown panel field", "panels[0]", func(p map[string]any) { p["targetz"] = []any{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			tc.mutate(d["panels"].([]any)[0].(map[string]any))
			bad, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var out sdk.Dashboard
			err = noErrors(out.UnmarshalJSONStrict(bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("strict decode of a dashboard with an %s: %v, want an error naming %s", tc.name, err, tc.want)
			}
		})
	}
}

// noErrors turns the SDK's empty error list into nil: v0.0.22's UnmarshalJSONStrict returns its
// cog.BuildErrors slice as an error even when the slice is empty (a typed nil).
func noErrors(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}
