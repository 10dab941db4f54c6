// Package testbin builds this module's real binaries for end-to-end tests and wraps TestMain
// around them: build once into a temporary directory, run the tests, check for leaked goroutines,
// clean up. Only tests import it.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// Main runs m after build has filled dir (a new temporary directory, removed afterwards) and
// returns the exit code for os.Exit: non-zero when the build fails, a test fails, or goroutines
// leak.
func Main(m *testing.M, prefix string, build func(dir string) error) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
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
	return code
}

// Build runs `go build` with args (flags, -o, packages) statically (CGO off), with the go of the
// running toolchain so tests need no go on PATH.
func Build(args ...string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %w\n%s", args, err, out)
	}
	return nil
}

// AgentPackage is azlens-agent's main package.
const AgentPackage = "github.com/azlens/azlens/extension-agent/cmd/azlens-agent"

// AgentFlags build azlens-agent as the layer ships it (the Makefile's agent target and
// extension-agent/build-layer.sh use the same): trimmed, stripped, and without net/http's HTTP/2
// (build tag nethttpomithttp2). The agent speaks HTTP/1.1 to every peer it has — the Lambda APIs,
// the function's OTLP exporter, the collector — and HTTP/2's code is ≈ 0.5 MiB of binary, which
// the kernel maps in whole and counts in the idle RSS the agent is budgeted.
var AgentFlags = []string{"-trimpath", "-tags", "nethttpomithttp2", "-ldflags", "-s -w"}

// BuildAgent builds azlens-agent with AgentFlags into out; flags (e.g. -C dir) come first.
func BuildAgent(out string, flags ...string) error {
	return Build(slices.Concat(flags, AgentFlags, []string{"-o", out, AgentPackage})...)
}
