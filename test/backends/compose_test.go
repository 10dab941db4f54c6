package backends

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var composeDir = filepath.Join(repoRoot, "deploy", "compose")

// dockerCompose runs Debian's docker-compose (installed by scripts/install-test-deps.sh). Its
// `config` validates against the Compose file schema and resolves paths without a Docker engine.
func dockerCompose(t *testing.T, file string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed (%v): run scripts/install-test-deps.sh", err)
	}
	out, err := exec.Command(bin, append([]string{"-f", file}, args...)...).CombinedOutput()
	return string(out), err
}

// TestComposeFileValid: deploy/compose/compose.yaml is a valid Compose file, every file it mounts
// exists in the repository, and the check can fail (a copy with an unknown key is refused).
func TestComposeFileValid(t *testing.T) {
	file := filepath.Join(composeDir, "compose.yaml")
	out, err := dockerCompose(t, file, "config")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	for _, svc := range []string{"jaeger:", "victorialogs:", "prometheus:", "grafana:"} {
		if !strings.Contains(out, "\n  "+svc) {
			t.Errorf("service %s missing from the resolved file:\n%s", svc, out)
		}
	}
	// Bind mounts resolve to absolute host paths; each must exist.
	mounts := regexp.MustCompile(`(?m)^\s+- (/[^:]+):[^:]+:ro$`).FindAllStringSubmatch(out, -1)
	if len(mounts) < 4 {
		t.Errorf("want the four read-only mounts (prometheus.yml, rules, provisioning, dashboards), found %v", mounts)
	}
	for _, m := range mounts {
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("mounted path: %v", err)
		}
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "compose.yaml")
	writeFile(t, bad, strings.Replace(string(raw), "    image: jaegertracing/", "    imagee: jaegertracing/", 1))
	if out, err := dockerCompose(t, bad, "config", "-q"); err == nil || !strings.Contains(out, "imagee") {
		t.Errorf("a compose file with an unknown key passed: %v\n%s", err, out)
	}
}

// TestComposePrometheusConfig: the Prometheus config the compose file mounts passes promtool, with
// the rule file at the path it is mounted to replaced by the repository's.
func TestComposePrometheusConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (%v): run scripts/install-test-deps.sh", err)
	}
	raw, err := os.ReadFile(filepath.Join(composeDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(filepath.Join(repoRoot, "deploy", "prometheus", "azlens-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	writeFile(t, cfg, strings.Replace(string(raw), "/etc/prometheus/azlens-rules.yaml", rules, 1))
	if out, err := exec.Command(promtool, "check", "config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
