package otlpin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

type payload struct{ signal, encoding, body string }

type sink struct {
	mu       sync.Mutex
	got      []payload
	rejected int
}

func (s *sink) AddOTLP(signal, encoding string, body []byte) {
	s.mu.Lock()
	s.got = append(s.got, payload{signal, encoding, string(body)})
	s.mu.Unlock()
}

func (s *sink) RejectOTLP() {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
}

func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "fn")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("handler")
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{4, 5, 6})
	return td
}

// The encodings come from pdata, the collector's own OTLP implementation: what the SDK exporters
// send is the same wire format.
func encodings(t testing.TB) (proto, js []byte) {
	td := sampleTraces()
	proto, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	js, err = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return proto, js
}

func post(h http.Handler, path, ct, ce string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAcceptsEverySignalAndEncodingWithOTLPAnswers(t *testing.T) {
	proto, js := encodings(t)
	s := &sink{}
	h := NewHandler(s, s, 1<<20, nil)

	w := post(h, "/v1/traces", "application/x-protobuf", "", proto)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-protobuf" || w.Body.Len() != 0 {
		t.Fatalf("protobuf: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	// The empty body is a full-success ExportTraceServiceResponse for the SDK's own decoder.
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(w.Body.Bytes()); err != nil || resp.PartialSuccess().RejectedSpans() != 0 {
		t.Fatalf("answer is not an export response: %v", err)
	}
	w = post(h, "/v1/traces", "application/json; charset=utf-8", "gzip", gz(t, js))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != "{}" {
		t.Fatalf("json+gzip: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if err := resp.UnmarshalJSON(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}

	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("m")
	mb, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("line")
	lb, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if w := post(h, "/v1/metrics", "application/x-protobuf", "", mb); w.Code != 200 {
		t.Fatalf("metrics: %d", w.Code)
	}
	if w := post(h, "/v1/logs", "application/json", "", lb); w.Code != 200 {
		t.Fatalf("logs: %d", w.Code)
	}
	// An empty export is answered but not forwarded.
	if w := post(h, "/v1/logs", "application/x-protobuf", "", nil); w.Code != 200 {
		t.Fatalf("empty: %d", w.Code)
	}

	want := []payload{
		{Traces, Protobuf, string(proto)},
		{Traces, JSON, string(js)},
		{Metrics, Protobuf, string(mb)},
		{Logs, JSON, string(lb)},
	}
	if len(s.got) != len(want) {
		t.Fatalf("stored %d payloads, want %d", len(s.got), len(want))
	}
	for i := range want {
		if s.got[i] != want[i] {
			t.Errorf("payload %d = %s/%s %d bytes, want %s/%s %d bytes (byte for byte)", i,
				s.got[i].signal, s.got[i].encoding, len(s.got[i].body), want[i].signal, want[i].encoding, len(want[i].body))
		}
	}
	if s.rejected != 0 {
		t.Fatalf("%d rejections", s.rejected)
	}
}

func TestRejectsWithOTLPStatusNamingTheProblem(t *testing.T) {
	proto, js := encodings(t)
	big := bytes.Repeat([]byte{0}, 5000)
	cases := []struct {
		name, path, ct, ce string
		body               []byte
		status             int
		msg                string
	}{
		{"not protobuf", "/v1/traces", "application/x-protobuf", "", []byte{0x0a, 0x50, 1}, 400, "field 1: length 80 beyond the body"},
		{"wrong wire type", "/v1/traces", "application/x-protobuf", "", []byte{0x08, 0x01}, 400, "resource_spans: wire type 0"},
		{"bad json", "/v1/logs", "application/json", "", []byte(`{"resourceLogs":[`), 400, "malformed json logs"},
		{"json array", "/v1/logs", "application/json", "", []byte(`[]`), 400, "must be a JSON object"},
		{"bad gzip", "/v1/traces", "application/x-protobuf", "gzip", proto, 400, "gzip"},
		{"content type", "/v1/traces", "text/plain", "", proto, 415, "Content-Type"},
		{"no content type", "/v1/traces", "", "", proto, 415, "Content-Type"},
		{"encoding", "/v1/traces", "application/json", "br", js, 415, "Content-Encoding \"br\""},
		{"too large", "/v1/traces", "application/x-protobuf", "", big, 413, "limit"},
		{"too large once inflated", "/v1/traces", "application/x-protobuf", "gzip", gz(t, big), 413, "limit"},
		{"path", "/v1/profiles", "application/x-protobuf", "", proto, 404, "/v1/profiles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sink{}
			h := NewHandler(s, s, 4096, nil)
			w := post(h, c.path, c.ct, c.ce, c.body)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			var msg string
			if w.Header().Get("Content-Type") == "application/json" {
				var st struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
					t.Fatalf("json status: %v", err)
				}
				msg = st.Message
			} else {
				// google.rpc.Status: field 1 code (varint), field 2 message.
				err := walk(w.Body.Bytes(), func(num uint64, typ int, val []byte) error {
					if num == 2 {
						msg = string(val)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("protobuf status: %v", err)
				}
			}
			if !strings.Contains(msg, c.msg) {
				t.Fatalf("message %q does not name %q", msg, c.msg)
			}
			if len(s.got) != 0 || s.rejected != 1 {
				t.Fatalf("stored %d, rejected %d", len(s.got), s.rejected)
			}
		})
	}
	h := NewHandler(&sink{}, nil, 4096, nil)
	req := httptest.NewRequest(http.MethodGet, "/v1/traces", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d", w.Code)
	}
}
