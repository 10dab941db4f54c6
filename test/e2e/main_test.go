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
	"path/filepath"
	"testing"

	"github.com/azlens/azlens/internal/testbin"
)

// Binaries built once, in TestMain, from this module.
var (
	helloPath     string // examples/hello: an aws-lambda-go function ("bootstrap")
	agentPath     string // extension-agent/cmd/azlens-agent; its file name is its extension name
	collectorPath string // cmd/azlens-collector
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, "azlens-e2e-", buildAll)) }

// buildAll builds the three binaries in one `go build` (static, as `make build` does; the
// collector with the same flags as cmd/azlens-collector's own end-to-end test, so the build cache
// is shared).
func buildAll(dir string) error {
	if err := testbin.Build("-o", dir+string(filepath.Separator),
		"github.com/azlens/azlens/examples/hello",
		"github.com/azlens/azlens/cmd/azlens-collector",
	); err != nil {
		return err
	}
	helloPath = filepath.Join(dir, "hello")
	agentPath = filepath.Join(dir, "azlens-agent")
	if err := testbin.BuildAgent(agentPath); err != nil {
		return err
	}
	collectorPath = filepath.Join(dir, "azlens-collector")
	for _, p := range []string{helloPath, agentPath, collectorPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	return nil
}
