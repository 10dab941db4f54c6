package experiment

import (
	"context"
	"time"

	"github.com/azlens/azlens/emulator"
)

// HooksFor returns the fault hooks of execution environment index in zone. The region installs
// them once, when it creates the environment; they consult the experiments running at call time
// (an atomic read, no lock). Asking also makes the environment known, so that environment targets
// with COUNT or PERCENT can choose it in experiments started afterwards.
func (s *Service) HooksFor(zone string, index int) *emulator.Hooks {
	f := s.envFaults(zone, index)
	return &emulator.Hooks{
		BeforeInvoke: func(context.Context, *emulator.InvokeRequest) (time.Duration, error) {
			return f.beforeInvoke()
		},
		DropTelemetry:  func(string) bool { return f.dropTelemetry() },
		DelayTelemetry: f.delayTelemetry,
	}
}
