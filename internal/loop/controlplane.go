package loop

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/groundtruth"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/zonalshift"
)

// ControlPlaneConfig describes the one function whose region a control plane drives.
type ControlPlaneConfig struct {
	// Function is the function's name; its ARN (FunctionARN) is the ARC resource.
	Function string
	// Zones are the region's zone IDs, in order.
	Zones []string
	// Alarms answers FIS stop conditions that name alarms. Nil means templates may not use them.
	Alarms experiment.AlarmSource
	// InvocationTimeout is the function's timeout, for faults that hold an invocation.
	InvocationTimeout time.Duration
	// Logger logs shifts and experiments. Nil means discard.
	Logger *slog.Logger
}

// ControlPlane is a local region's AWS-compatible control plane: ARC zonal shift, whose shifts of
// the function's ARN weight the region's router, and FIS, whose experiments inject faults through
// the environments' hooks. `azlens up` and `azlens emulate` both build one, so the two serve the
// same APIs wired the same way.
type ControlPlane struct {
	Shifts      *zonalshift.Service
	Experiments *experiment.Service
	function    string
	resource    string
	zones       []string
}

// FunctionARN is the ARN the local region gives a function (the emulator's default account), which
// is the resource identifier ARC clients start shifts on.
func FunctionARN(function string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", region.DefaultName, function)
}

// NewControlPlane starts both services; Close stops them.
func NewControlPlane(cfg ControlPlaneConfig) *ControlPlane {
	c := &ControlPlane{
		Shifts: zonalshift.New(zonalshift.Config{Logger: cfg.Logger}),
		Experiments: experiment.New(experiment.Config{Logger: cfg.Logger, Alarms: cfg.Alarms, Zones: cfg.Zones,
			InvocationTimeout: cfg.InvocationTimeout}),
		function: cfg.Function,
		resource: FunctionARN(cfg.Function),
		zones:    cfg.Zones,
	}
	c.Shifts.SetZones(c.resource, cfg.Zones)
	return c
}

// Resource is the ARC resource identifier: the function's ARN.
func (c *ControlPlane) Resource() string { return c.resource }

// Wire makes rc's router follow the zonal shifts of the function's ARN and its environments take
// the experiments' faults.
func (c *ControlPlane) Wire(rc *region.Config) {
	rc.Weights = func(zones []string) map[string]float64 { return c.Shifts.Weights(c.resource, zones) }
	rc.HooksFor = c.Experiments.HooksFor
}

// GroundTruth is the configuration of the region's ground truth metrics, with the router's
// weights, the applied shift and the injected faults read from the control plane.
func (c *ControlPlane) GroundTruth() groundtruth.Config {
	return groundtruth.Config{
		Function:      c.function,
		Zones:         c.zones,
		Weights:       func() map[string]float64 { return c.Shifts.Weights(c.resource, c.zones) },
		Shifts:        c.Shifts,
		ShiftResource: c.resource,
		Experiments:   c.Experiments,
	}
}

// Serve routes ARC's and FIS's paths on the front door's root, as the AWS CLI and SDKs call them
// with only the endpoint changed; the /zonalshift and /fis prefixes stay for clients configured
// with them.
func (c *ControlPlane) Serve(fd *region.FrontDoor) {
	fd.Route(c.Shifts.Handler(), zonalshift.Paths...)
	fd.Route(c.Experiments.Handler(), experiment.Paths...)
	fd.Mount("/zonalshift", c.Shifts.Handler())
	fd.Mount("/fis", c.Experiments.Handler())
}

// Close stops both services' timers and running experiments.
func (c *ControlPlane) Close() {
	c.Experiments.Close()
	c.Shifts.Close()
}
