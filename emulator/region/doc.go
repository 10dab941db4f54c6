// Package region is a local Lambda region built on the emulator's sandboxes: one function deployed
// across several availability zones, each with pre-provisioned execution environments
// (emulator.Sandbox), a router that spreads new invocations over the zones by weight (a zone
// shifted away gets none; its running invocations drain), and the front door that serves Lambda's
// Invoke API for regions, one per function, so the AWS CLI and SDKs work with only --endpoint-url
// changed. A region tells Config.Observe the Outcome of every invocation it is asked for: the
// ground truth emulator/groundtruth exports.
//
// It is a package of its own because it is a client of the sandbox, not part of it: it uses only
// the emulator's exported API (the configuration of api.go, and a Sandbox's create, start, invoke
// and shut down), and the sandbox knows nothing of zones, routing or the Invoke API. The import
// goes one way, region → emulator, so the sandbox side can be changed and tested without the
// region, and the region cannot reach into a sandbox's internals.
package region
