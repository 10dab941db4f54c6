// Package emulator is azlens's embedded Lambda execution runtime: sandboxes that run a real
// runtime and real extensions against the Runtime, Extensions, Telemetry and metadata APIs with
// Lambda's lifecycle (init, invoke, freeze, reset, shutdown), on one machine. Each environment can
// have network and mount namespaces of its own (netns_linux.go, isolation.go) and layers unpacked
// on /opt (layers.go). The contract is api.go; README.md says how to use it.
//
// The region built on these sandboxes — zones of pre-provisioned environments, the router and the
// Invoke API front door — is package emulator/region, which imports this one and never the other
// way round.
package emulator
