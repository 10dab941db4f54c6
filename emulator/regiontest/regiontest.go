// Package regiontest starts an emulated region for a test, in the style of net/http/httptest: one
// call creates and starts it, t.Cleanup shuts it down. The emulator's own package tests cannot use
// it (it imports the emulator); every other package's tests do.
package regiontest

import (
	"context"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/internal/testdeadline"
)

// StartLimit bounds a region's start (every environment's init): far more than a busy 2-core
// machine needs, so only a hang fails the test, and with a message saying so.
const StartLimit = 5 * time.Minute

// ShutdownLimit bounds the shutdown at cleanup.
const ShutdownLimit = time.Minute

// Start creates the region cfg describes and starts it. At cleanup the region is shut down and a
// shutdown error fails the test: an environment that would not stop is a finding, not noise.
func Start(t testing.TB, cfg region.Config) *region.Region {
	t.Helper()
	r, err := region.New(cfg)
	if err != nil {
		t.Fatalf("new region: %v", err)
	}
	// Registered before Start: a start that fails halfway leaves environments to stop.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownLimit)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("region shutdown: %v", err)
		}
	})
	limit := testdeadline.Within(t, StartLimit)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("start region (bound %s): %v", limit, err)
	}
	return r
}
