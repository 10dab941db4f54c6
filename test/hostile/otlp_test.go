package hostile

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/azlens/azlens/extension-agent/otlpin"
	"github.com/azlens/azlens/internal/hostiletest"
)

// otlpSink counts what the endpoint accepted and rejected.
type otlpSink struct {
	mu       sync.Mutex
	accepted int
	rejected int
}

func (s *otlpSink) AddOTLP(string, string, []byte) { s.mu.Lock(); s.accepted++; s.mu.Unlock() }
func (s *otlpSink) RejectOTLP()                    { s.mu.Lock(); s.rejected++; s.mu.Unlock() }

// otlpLimit is the agent's default AZLENS_OTLP_MAX_BYTES.
const otlpLimit = 4 << 20

func otlpEndpoint(t *testing.T) (string, *otlpSink) {
	t.Helper()
	s := &otlpSink{}
	srv, err := otlpin.Listen("127.0.0.1:0", otlpin.NewHandler(s, s, otlpLimit, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv.Addr(), s
}

// TestAgentOTLPEndpoint: the agent's OTLP/HTTP endpoint answers as an OTLP server must (400, 413,
// 415 with a google.rpc.Status naming the problem), inflates gzip only up to its limit, and counts
// every refusal (otlp_rejected); nothing refused reaches the forwarder.
func TestAgentOTLPEndpoint(t *testing.T) {
	addr, sink := otlpEndpoint(t)
	proto := map[string]string{"Content-Type": "application/x-protobuf"}
	truncated := hostiletest.GzipBomb(1 << 10)
	truncated = truncated[:len(truncated)/2]
	cases := []hostiletest.Case{
		{Name: "oversized body", Method: http.MethodPost, Path: "/v1/traces", Header: proto,
			Body: bytes.Repeat([]byte{0}, otlpLimit+1), Status: http.StatusRequestEntityTooLarge, Message: "over the limit of 4194304 bytes (AZLENS_OTLP_MAX_BYTES)", MaxAlloc: smallAlloc},
		{Name: "wrong method", Method: http.MethodGet, Path: "/v1/traces",
			Status: http.StatusMethodNotAllowed, Message: "method GET not allowed: use POST", Want: map[string]string{"Allow": "POST"}},
		{Name: "wrong content type", Method: http.MethodPost, Path: "/v1/logs", Header: map[string]string{"Content-Type": "text/plain"},
			Body: []byte("hello"), Status: http.StatusUnsupportedMediaType, Message: `not supported: use application/x-protobuf or application/json`},
		{Name: "truncated protobuf", Method: http.MethodPost, Path: "/v1/traces", Header: proto,
			Body: []byte{0x0a, 0x05, 0x0a}, Status: http.StatusBadRequest, Message: "malformed protobuf traces request"},
		{Name: "truncated json", Method: http.MethodPost, Path: "/v1/metrics", Header: jsonCT,
			Body: []byte(`{"resourceMetrics":[{`), Status: http.StatusBadRequest, Message: "malformed json metrics request"},
		{Name: "truncated gzip", Method: http.MethodPost, Path: "/v1/traces", Header: with("Content-Encoding", "gzip"),
			Body: truncated, Status: http.StatusBadRequest, Message: "body:"},
		// Inflated up to the limit, no further: reading grows the buffer in append's steps, which
		// allocate about five times the limit in all (a 64 MiB inflation would allocate more).
		{Name: "gzip bomb", Method: http.MethodPost, Path: "/v1/logs", Header: with("Content-Encoding", "gzip"),
			Body: gzipBomb(), Status: http.StatusRequestEntityTooLarge, Message: "over the limit", MaxAlloc: 8 * otlpLimit},
		{Name: "zstd bomb", Method: http.MethodPost, Path: "/v1/logs", Header: with("Content-Encoding", "zstd"),
			Body: zstdBomb(), Status: http.StatusUnsupportedMediaType, Message: `not supported: use gzip or none`, MaxAlloc: smallAlloc},
		{Name: "deep json", Method: http.MethodPost, Path: "/v1/traces", Header: jsonCT,
			Body: []byte(`{"resourceSpans":` + string(hostiletest.DeepJSON(100_000)) + `}`), Status: http.StatusBadRequest, Message: "nested too deep", MaxAlloc: smallAlloc},
		{Name: "client dies mid-body", Method: http.MethodPost, Path: "/v1/traces", Header: proto, Body: []byte{0x0a, 0x02}, Abort: true},
	}
	// An empty ExportTraceServiceRequest: valid, nothing to forward.
	ok := hostiletest.Case{Method: http.MethodPost, Path: "/v1/traces", Header: proto, Body: []byte{}, Status: http.StatusOK}
	hostiletest.Run(t, "http://"+addr, cases, ok)
	valid := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x"}]}]}]}`)
	resp, err := http.Post("http://"+addr+"/v1/traces", "application/json", bytes.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if resp.StatusCode != http.StatusOK || sink.accepted != 1 {
		t.Fatalf("a valid export after the hostile ones: status %d, %d payloads forwarded (want 1: nothing refused is forwarded)", resp.StatusCode, sink.accepted)
	}
	// Every answered refusal is counted; the aborted request may or may not have been answered.
	if want := len(cases) - 1; sink.rejected != want && sink.rejected != want+1 {
		t.Fatalf("%d refusals counted in otlp_rejected, want %d", sink.rejected, want)
	}
}
