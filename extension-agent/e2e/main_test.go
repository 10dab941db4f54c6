package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator/emulatortest"
)

// Binaries built once for the whole test binary.
var (
	agentPath    string // the stripped azlens-agent, as shipped in the layer
	functionPath string // the emulator's aws-lambda-go test function
	biglinePath  string // testdata/bigline, for 300 KB log lines
	noopPath     string // testdata/noop, the benchmarks' reference extension, built the same way
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "azlens-agent-e2e-")
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

func buildAll(dir string) error {
	var err error
	if functionPath, err = emulatortest.BuildFunction(filepath.Join(dir, "fn")); err != nil {
		return err
	}
	agentPath = filepath.Join(dir, "extensions", "azlens-agent")
	if err := goBuild(agentPath, "../cmd/azlens-agent"); err != nil {
		return err
	}
	noopPath = filepath.Join(dir, "noop", "extensions", "noop")
	if err := goBuild(noopPath, "./testdata/noop"); err != nil {
		return err
	}
	biglinePath = filepath.Join(dir, "bigline", "bootstrap")
	return goBuild(biglinePath, "./testdata/bigline")
}

// goBuild builds pkg the way the layer does: static, trimmed, stripped.
func goBuild(out, pkg string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
