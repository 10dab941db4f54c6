// Package tools pins the versions of the build tools azlens runs with
// `go tool` (see the tool block in go.mod): the OpenTelemetry Collector
// Builder that generates cmd/azlens-collector. It is a module of its own so
// the builder's dependencies stay out of the main module.
package tools
