package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/azlens/azlens/internal/testbin"
)

// builtCollector is the collector binary TestMain builds once, before any test runs, so no
// test's deadline includes a build a busy machine can stretch to minutes.
var builtCollector string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, "azlens-collector-test-", func(dir string) error {
		if os.Getenv("AZLENS_COLLECTOR_BIN") != "" {
			return nil
		}
		builtCollector = filepath.Join(dir, "azlens-collector")
		return testbin.Build("-o", builtCollector, "github.com/azlens/azlens/cmd/azlens-collector")
	}))
}
