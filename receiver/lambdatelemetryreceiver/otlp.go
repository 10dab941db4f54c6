package lambdatelemetryreceiver

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/mapping"
)

// AgentBatchV2Path serves wire format v2: v1 plus "otlp", the function's own OTLP payloads as the
// agent's OTLP endpoint accepted them. A v1 body is a valid v2 body.
const AgentBatchV2Path = contract.AgentBatchV2Path

var otlpParsers fastjson.ParserPool

// otlpItemError is one undecodable element of "otlp": dropped and counted, never a reason to
// refuse the batch (the agent would drop the platform's events with it).
type otlpItemError struct {
	index int
	err   error
}

func (e otlpItemError) Error() string { return fmt.Sprintf("otlp[%d]: %v", e.index, e.err) }

// decodeOTLP decodes the "otlp" array of a v2 body with pdata. A missing or null "otlp" is no
// payload; one that is not an array is a malformed body (error). Undecodable elements are
// returned in bad.
func decodeOTLP(body []byte) (out mapping.OTLP, n int, bad []otlpItemError, err error) {
	p := otlpParsers.Get()
	defer otlpParsers.Put(p)
	root, err := p.ParseBytes(body)
	if err != nil {
		return out, 0, nil, nil // the event decoder has reported it already
	}
	v := root.Get("otlp")
	if v == nil || v.Type() == fastjson.TypeNull {
		return out, 0, nil, nil
	}
	items, err := v.Array()
	if err != nil {
		return out, 0, nil, errors.New("otlp: must be an array")
	}
	for i, it := range items {
		if err := decodeItem(it, &out); err != nil {
			bad = append(bad, otlpItemError{i, err})
		}
	}
	return out, len(items), bad, nil
}

func decodeItem(it *fastjson.Value, out *mapping.OTLP) error {
	signal := string(it.GetStringBytes("signal"))
	encoding := string(it.GetStringBytes("encoding"))
	bv := it.Get("body")
	if bv == nil {
		return errors.New("body: missing")
	}
	var raw []byte
	switch encoding {
	case "protobuf":
		s, err := bv.StringBytes()
		if err != nil {
			return errors.New("body: must be a base64 string for encoding protobuf")
		}
		if raw, err = base64.StdEncoding.AppendDecode(nil, s); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	case "json":
		if bv.Type() != fastjson.TypeObject {
			return errors.New("body: must be an object for encoding json")
		}
		raw = bv.MarshalTo(nil)
	default:
		return fmt.Errorf("encoding: %q is not protobuf or json", encoding)
	}
	proto := encoding == "protobuf"
	switch signal {
	case "traces":
		var td ptrace.Traces
		var err error
		if proto {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(raw)
		} else {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		}
		if err != nil {
			return fmt.Errorf("traces: %w", err)
		}
		out.Traces = append(out.Traces, td)
	case "metrics":
		var md pmetric.Metrics
		var err error
		if proto {
			md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(raw)
		} else {
			md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(raw)
		}
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		out.Metrics = append(out.Metrics, md)
	case "logs":
		var ld plog.Logs
		var err error
		if proto {
			ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
		} else {
			ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		}
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		out.Logs = append(out.Logs, ld)
	default:
		return fmt.Errorf("signal: %q is not traces, metrics or logs", signal)
	}
	return nil
}
