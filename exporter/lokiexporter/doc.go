// Package lokiexporter pushes OpenTelemetry logs to Grafana Loki's push API
// (POST /loki/api/v1/push, snappy-compressed protobuf logproto.PushRequest).
//
// Stream labels come from a small, configurable set of resource and log
// attributes plus the severity, so the number of Loki streams stays bounded;
// per-invocation and per-trace identifiers travel as structured metadata.
package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"
