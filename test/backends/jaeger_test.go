package backends

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
)

// jaeger is a real Jaeger v2 with its in-memory store, on free loopback ports.
type jaeger struct {
	*child
	otlp  string // OTLP/gRPC host:port
	query string // http://host:port of the query service (/api/...)
}

func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	j := &jaeger{otlp: freeport.Addr(t), query: "http://" + freeport.Addr(t)}
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	writeFile(t, cfg, fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    # Jaeger traces its own queries by default and sends those spans to localhost:4317, where
    # nothing listens here; at SIGTERM it then retries the export for up to a minute.
    enable_tracing: false
    storage:
      traces: mem
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`, j.query[len("http://"):], freeport.Addr(t), j.otlp))
	j.child = startChild(t, "jaeger", jaegerPath, nil, "--config", cfg)
	j.waitHTTP(t, j.query+"/api/services")
	return j
}

// jaegerTrace is one trace as Jaeger's HTTP API (/api/traces) returns it.
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64       `json:"startTime"`
	Duration  int64       `json:"duration"`
	Tags      []jaegerTag `json:"tags"`
	ProcessID string      `json:"processID"`
}

type jaegerProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jaegerTag `json:"tags"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

func tag(tags []jaegerTag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// parent returns the span's CHILD_OF parent span id ("" for a root).
func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (j *jaeger) getTraces(path string) ([]jaegerTrace, error) {
	code, body := get(j.query + path)
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %.300s", path, code, body)
	}
	var r struct {
		Data   []jaegerTrace `json:"data"`
		Errors []any         `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("GET %s: errors %v", path, r.Errors)
	}
	return r.Data, nil
}

// search is GET /api/traces?service=…: every trace of service in [start, end].
func (j *jaeger) search(service string, start, end time.Time) ([]jaegerTrace, error) {
	q := url.Values{
		"service": {service},
		"start":   {strconv.FormatInt(start.UnixMicro(), 10)},
		"end":     {strconv.FormatInt(end.UnixMicro(), 10)},
		"limit":   {"100000"},
	}
	return j.getTraces("/api/traces?" + q.Encode())
}

// trace is GET /api/traces/{id}.
func (j *jaeger) trace(id string) (jaegerTrace, error) {
	ts, err := j.getTraces("/api/traces/" + id)
	if err != nil {
		return jaegerTrace{}, err
	}
	if len(ts) != 1 {
		return jaegerTrace{}, fmt.Errorf("GET /api/traces/%s: %d traces", id, len(ts))
	}
	return ts[0], nil
}

// traceV3SpanIDs is GET /api/v3/traces/{id} (OTLP JSON in a "result"): the span ids it holds, hex.
func (j *jaeger) traceV3SpanIDs(id string) (map[string]string, error) {
	code, body := get(j.query + "/api/v3/traces/" + id)
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v3/traces/%s: %d %.300s", id, code, body)
	}
	var r struct {
		Result struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID string `json:"traceId"`
						SpanID  string `json:"spanId"`
						Name    string `json:"name"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET /api/v3/traces/%s: %w", id, err)
	}
	out := map[string]string{}
	for _, rs := range r.Result.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out[s.SpanID] = s.Name
			}
		}
	}
	return out, nil
}
