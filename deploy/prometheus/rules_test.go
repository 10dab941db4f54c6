// Package prometheus_test checks the shipped Prometheus rules with the real promtool: syntax,
// lint, and the unit tests under tests/. CI installs promtool with scripts/install-prometheus.sh.
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

const rulesFile = "azlens-rules.yaml"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// promtool fails the test (never skips it) when promtool is missing: untested rules must not look
// green.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH (%v): run scripts/install-prometheus.sh", err)
	}
	out, err := exec.CommandContext(t.Context(), path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesCheck(t *testing.T) {
	out := promtool(t, "check", "rules", "--lint=all", "--lint-fatal", rulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules did not report SUCCESS:\n%s", out)
	}
}

func TestRulesUnitTests(t *testing.T) {
	files, err := filepath.Glob("tests/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files under tests/ (%v)", err)
	}
	out := promtool(t, append([]string{"test", "rules"}, files...)...)
	if strings.Count(out, "SUCCESS") != len(files) {
		t.Errorf("promtool test rules: want SUCCESS for each of %d files:\n%s", len(files), out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type testFile struct {
	Tests []struct {
		AlertRuleTest []struct {
			AlertName string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// levelMetricOps is Prometheus's recording rule naming: level:metric:operations.
var levelMetricOps = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`)

// TestEveryAlertFiresAndStaysQuiet holds the test files to the rules: each alert has at least
// one case where it must fire and one where it must not, and recording rules follow the naming
// convention.
func TestEveryAlertFiresAndStaysQuiet(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("parse %s: %v", rulesFile, err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob("tests/*.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf testFile
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.AlertName] = true
				} else {
					quiet[a.AlertName] = true
				}
			}
		}
	}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" && !levelMetricOps.MatchString(r.Record) {
				t.Errorf("recording rule %q is not named level:metric:operations", r.Record)
			}
			if r.Alert == "" {
				continue
			}
			alerts++
			if !fires[r.Alert] {
				t.Errorf("alert %s has no test where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("alert %s has no test where it must stay quiet", r.Alert)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerting rules found")
	}
}
