// Package azhealthprocessor implements the azhealth processor: it passes
// metrics through unchanged, compares each Availability Zone of each
// function with the others (docs/az-health.md), runs the alarm state
// machine and the guards before a zonal shift, and appends its verdicts as
// azlens.az.* metrics every tick, among them azlens.az.evacuate, which the
// zonalshift exporter enacts.
package azhealthprocessor // import "github.com/azlens/azlens/processor/azhealthprocessor"
