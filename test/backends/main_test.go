// Package backends runs azlens against the real backends its users query, each built or installed
// by the project's own scripts: Jaeger v2 (OTLP in, its query APIs out), VictoriaLogs (the Loki push
// protocol in, LogsQL out; Loki itself is AGPL and not used) and Prometheus, with the real loop —
// emulator, hello function, azlens-agent, azlens-collector — in between.
//
// It is a Go module of its own so the backends' test-only needs never reach the product module's
// dependencies; it builds the product from the repository through a replace directive.
//
//	scripts/install-test-deps.sh   # Prometheus, docker-compose (Debian packages)
//	scripts/build-backends.sh      # Jaeger and VictoriaLogs, cached under ~/.cache/azlens/backends
//	make test-backends             # or: cd test/backends && go test -race -count=1 -v ./...
package backends

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azlens/azlens/internal/testbin"
)

// repoRoot is the repository, seen from this package's directory (where go test runs it).
const repoRoot = "../.."

// Executables: the product's, built in TestMain, and the backends'.
var (
	helloPath     string // examples/hello
	agentPath     string // extension-agent/cmd/azlens-agent
	collectorPath string // cmd/azlens-collector
	jaegerPath    string // scripts/build-backends.sh
	vlogsPath     string // scripts/build-backends.sh
	promPath      string // Debian's prometheus (scripts/install-test-deps.sh)
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, "azlens-backends-", setup)) }

func setup(dir string) error {
	// -C: the binaries are built in the product module, with its own dependency versions.
	if err := testbin.Build("-C", repoRoot, "-o", dir+string(filepath.Separator),
		"github.com/azlens/azlens/examples/hello",
		"github.com/azlens/azlens/cmd/azlens-collector",
	); err != nil {
		return err
	}
	helloPath = filepath.Join(dir, "hello")
	agentPath = filepath.Join(dir, "azlens-agent")
	if err := testbin.BuildAgent(agentPath, "-C", repoRoot); err != nil {
		return err
	}
	collectorPath = filepath.Join(dir, "azlens-collector")

	// The script prints the cached binaries' paths, building whatever is not cached yet (the cold
	// Jaeger build takes about 15 minutes; CI runs the script before the tests).
	script := filepath.Join(repoRoot, "scripts", "build-backends.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(script, "jaeger", "victoria-logs")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", script, err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		switch p := strings.TrimSpace(sc.Text()); filepath.Base(p) {
		case "jaeger":
			jaegerPath = p
		case "victoria-logs":
			vlogsPath = p
		}
	}
	if jaegerPath == "" || vlogsPath == "" {
		return fmt.Errorf("%s printed no jaeger and victoria-logs paths:\n%s", script, out)
	}
	if promPath, err = exec.LookPath("prometheus"); err != nil {
		return fmt.Errorf("the prometheus server is not installed (%v): run scripts/install-test-deps.sh", err)
	}
	return nil
}
