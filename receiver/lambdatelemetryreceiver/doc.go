// Package lambdatelemetryreceiver receives AWS Lambda Telemetry API events —
// batched by the azlens agent (POST /v1/agent/batch) or posted directly by
// Lambda (POST /v1/telemetry) — and maps them to OpenTelemetry traces, logs
// and cumulative metrics per execution environment, as docs/otel-mapping.md
// defines. See README.md for the wire format.
package lambdatelemetryreceiver // import "github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
