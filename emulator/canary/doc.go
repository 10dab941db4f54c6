// Package canary sends per-zone canaries: synthetic invocations pinned to each availability
// zone at a steady low rate, through the front door's Invoke API
// (POST {endpoint}/2015-03-31/functions/{name}/invocations, header X-Azlens-Zone: <zone>, body
// {"azlens_canary":true}). They give the health detector evidence where passive telemetry cannot:
// a crashed or unreachable zone sends no telemetry at all, and only the requester sees its
// failures (docs/az-health.md).
//
// Each canary's outcome is success (200), error (200 with X-Amz-Function-Error), timeout (no
// answer within Config.Timeout, or a function error of type Sandbox.Timeout/Sandbox.Timedout) or
// failure (another status, or a transport error); with Config.LatencyBound, a success answered
// later than the bound is slow, a failed canary, as a CloudWatch Synthetics run over its time
// limit fails. Each canary's latency also goes into a per-zone, per-outcome histogram,
// azlens.canary.duration (seconds, the bounds of faas.invoke_duration). Counts are
// cumulative per zone, and are exported every ExportInterval as OTLP/HTTP protobuf metrics
// (POST {otlp_endpoint}/v1/metrics): a monotonic cumulative Sum azlens.canary.invocations with an
// outcome attribute, one resource per zone (cloud.availability_zone, cloud.region, faas.name,
// azlens.canary="true", service.name="azlens-canary"). Because the counts are cumulative, an
// export that fails is simply superseded by the next one; failures are counted (Exports) and
// logged once per outage.
//
// Canaries keep their schedule when a zone is slow: each tick sends one, up to enough in flight
// to cover the latency bound (else the timeout); a tick that finds them all unanswered counts a
// failed canary (slow, or timeout without a bound) instead of leaving a gap. A slow zone's
// throughput collapse thus shows as failed canaries, never as fewer canaries, and one
// black-holed zone never slows the canaries of the others.
package canary
