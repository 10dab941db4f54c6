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
// Handler serves ARC's zonal shift REST-JSON protocol, so the AWS CLI (`aws arc-zonal-shift …
// --endpoint-url`) and the AWS SDKs (arczonalshift with BaseEndpoint) drive it unchanged. The
// paths, methods, field names and status codes are those of the SDK's serializers:
//
//	POST   /zonalshifts                      StartZonalShift {resourceIdentifier, awayFrom, expiresIn, comment}
//	GET    /zonalshifts?status=&resourceIdentifier=&maxResults=&nextToken=   ListZonalShifts → {items, nextToken}
//	PATCH  /zonalshifts/{zonalShiftId}       UpdateZonalShift {expiresIn, comment}
//	DELETE /zonalshifts/{zonalShiftId}       CancelZonalShift
//	GET    /managedresources/{resource}      GetManagedResource
//	GET    /managedresources?maxResults=&nextToken=   ListManagedResources → {items, nextToken}
//	POST   /practiceruns                     StartPracticeRun {resourceIdentifier, awayFrom, comment}: a 30-minute practice shift
//	DELETE /practiceruns/{zonalShiftId}      CancelPracticeRun
//	GET    /autoshifts                       ListAutoshifts: always empty (the local region never autoshifts)
//	GET    /autoshift-observer-notification  always DISABLED
//
// Practice run configuration (/configuration), UpdateZonalAutoshiftConfiguration (PUT
// /managedresources/{resource}) and UpdateAutoshiftObserverNotificationStatus answer a
// ValidationException saying they are not supported: they configure AWS-initiated shifts, which
// the local region does not make.
//
// azlens's extensions are optional and ignored by ARC's clients: a failbackWeight (request body
// field, or the X-Azlens-Failback-Weight header the SDK can send), the type (manual, automatic,
// practice) behind ARC's shiftType, GET /zonalshifts/{id}, and availabilityZones and
// shiftedAwayFrom on GetManagedResource.
//
// Times (startTime, expiryTime) are epoch seconds, as in ARC's REST JSON. Errors are
// {"__type", "message", "reason"} with the type in X-Amzn-ErrorType too: ValidationException
// (400, the message names the field, reason as ARC's ValidationExceptionReason),
// ResourceNotFoundException (404), ConflictException (409, with zonalShiftId). Requests may be
// SigV4-signed with any key; a malformed Authorization header is a 403 AccessDeniedException.
package zonalshift
