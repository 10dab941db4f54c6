package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/azlens/azlens/emulator/emulatortest"
	"github.com/azlens/azlens/internal/testbin"
)

// Binaries built once for the whole test binary.
var (
	agentPath    string // the stripped azlens-agent, as shipped in the layer
	functionPath string // the emulator's aws-lambda-go test function
	biglinePath  string // testdata/bigline, for 300 KB log lines
	noopPath     string // testdata/noop, the benchmarks' reference extension, built the same way
	helloPath    string // examples/hello: aws-lambda-go with the OTel SDK and otellambda
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, "azlens-agent-e2e-", buildAll)) }

func buildAll(dir string) error {
	var err error
	if functionPath, err = emulatortest.BuildFunction(filepath.Join(dir, "fn")); err != nil {
		return err
	}
	agentPath = filepath.Join(dir, "extensions", "azlens-agent")
	if err := testbin.BuildAgent(agentPath); err != nil {
		return err
	}
	noopPath = filepath.Join(dir, "noop", "extensions", "noop")
	if err := goBuild(noopPath, "./testdata/noop"); err != nil {
		return err
	}
	helloPath = filepath.Join(dir, "hello", "bootstrap")
	if err := goBuild(helloPath, "../../examples/hello"); err != nil {
		return err
	}
	biglinePath = filepath.Join(dir, "bigline", "bootstrap")
	return goBuild(biglinePath, "./testdata/bigline")
}

// goBuild builds pkg static, trimmed and stripped like the layer's agent (testbin.BuildAgent),
// without the agent's build tag.
func goBuild(out, pkg string) error {
	return testbin.Build("-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
}
