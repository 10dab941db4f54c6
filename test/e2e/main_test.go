// Package e2e is azlens's full end-to-end test: the real sample function and the real azlens-agent
// run in a process-mode emulator region, the real azlens-collector binary turns their telemetry into
// traces, logs and metrics, and a real Prometheus server scrapes the collector.
//
//	scripts/install-test-deps.sh   # Debian's prometheus package (`make test` runs it first)
//	go test -race -count=1 -v ./test/e2e/
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// Binaries built once, in TestMain, from this module.
var (
	helloPath     string // examples/hello: an aws-lambda-go function ("bootstrap")
	agentPath     string // extension-agent/cmd/azlens-agent; its file name is its extension name
	collectorPath string // cmd/azlens-collector
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "azlens-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := buildAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildAll builds the three binaries in one `go build` (static, as `make build` does; the
// collector with the same flags as cmd/azlens-collector's own end-to-end test, so the build cache
// is shared).
func buildAll(dir string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator),
		"github.com/azlens/azlens/examples/hello",
		"github.com/azlens/azlens/extension-agent/cmd/azlens-agent",
		"github.com/azlens/azlens/cmd/azlens-collector",
	)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	helloPath = filepath.Join(dir, "hello")
	agentPath = filepath.Join(dir, "azlens-agent")
	collectorPath = filepath.Join(dir, "azlens-collector")
	for _, p := range []string{helloPath, agentPath, collectorPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	return nil
}
