// Package zonalshift is the emulator's zonal shift service: Route 53 Application Recovery
// Controller (ARC) zonal shift semantics over an in-memory store, with an injected clock so tests
// and demos can run hours of lease time in microseconds.
//
// A zonal shift is a lease: it moves a resource's traffic away from one zone until its expiry,
// unless it is renewed (Update) or cancelled (Cancel) first. A resource has at most one applied
// shift at a time; when shifts of several types are active, the precedence is manual > automatic >
// practice, the others stay NOT_APPLIED, and the next one applies as soon as the higher one ends.
// At most one active shift of each type exists per resource (a second start is a conflict).
//
// The router calls
//
//	func (s *Service) Weights(resource string, zones []string) map[string]float64
//
// for the traffic weight of each zone now: 1 normally; for the zone the applied shift moves
// traffic away from, 0, or the shift's failbackWeight during a staged fail-back (0.1, 0.25, 0.5).
// The router divides new invocations in proportion to the weights. Expiry is evaluated on every
// call, so Weights is always current. To cache instead, listen on
//
//	func (s *Service) Subscribe() (changes <-chan struct{}, cancel func())
//
// which signals (coalesced, never blocking the service) after every start, update, cancel and
// lease expiry; an expiry is signalled by the service's own timer even when nobody calls it.
//
// Handler serves the same operations over HTTP with ARC's shapes (paths, field names, error
// types), so the exporter that drives it could drive real ARC later:
//
//	POST   /zonalshifts                      start   {resourceIdentifier, awayFrom, expiresIn, comment, type, failbackWeight}
//	GET    /zonalshifts?status=&resourceIdentifier=   list → {"items": [...]}
//	GET    /zonalshifts/{zonalShiftId}       get (not in ARC; handy for tools)
//	PATCH  /zonalshifts/{zonalShiftId}       renew   {expiresIn, comment, failbackWeight}
//	DELETE /zonalshifts/{zonalShiftId}       cancel
//	GET    /managedresources/{resource}      {name, availabilityZones, appliedWeights, zonalShifts, shiftedAwayFrom}
//
// Times (startTime, expiryTime) are epoch seconds, as in ARC's REST JSON. Errors are
// {"__type", "message", "reason"} with ARC's types: ValidationException (400, the message names
// the field), ResourceNotFoundException (404), ConflictException (409).
package zonalshift
