// Package zonalshiftexporter enacts the azhealth processor's zone evacuation decisions as ARC zonal
// shifts — renewable leases — through the AWS SDK's arczonalshift client: against real ARC, or a
// local region that speaks its protocol (package emulator/zonalshift).
//
// It reads two gauges per function (resource attribute faas.name) and zone (data point attribute
// cloud.availability_zone): azlens.az.evacuate (1 = evacuate now) and azlens.az.traffic_weight
// (the fail-back stage, 0-1). While a zone is to be kept out — evacuate is 1, or its traffic
// weight is below 1 during a staged fail-back — the exporter holds a zonal shift away
// from it, started with expiresIn = lease and renewed while the decision holds, so that a dead
// collector lets the shift lapse on its own. On recovery it cancels the shift (or lets it lapse).
// It recognises its own shift by its comment, so a restart adopts it instead of starting a second
// one, and it never touches a resource with another active zonal shift: people win.
package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"
