package lambdatelemetryreceiver

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/hostiletest"
)

// TestHostileInput: every hostile request gets the documented 4xx naming its problem within
// hostiletest.Deadline, compression bombs are cut at max_request_body_size after decompression,
// a header trickled byte by byte is cut at read_header_timeout, and the receiver keeps serving
// agents all along.
func TestHostileInput(t *testing.T) {
	const limit = 1 << 20
	h := newHarness(t, func(c *Config) {
		c.MaxRequestBodySize = limit
		c.ReadHeaderTimeout = 500 * time.Millisecond
	})
	addr := h.r.listenAddr.String()
	jsonCT := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	truncated := hostiletest.GzipBomb(1 << 10)
	truncated = truncated[:len(truncated)/2]
	cases := []hostiletest.Case{
		{Name: "oversized body", Method: http.MethodPost, Path: AgentBatchPath, Header: jsonCT,
			Body: bytes.Repeat([]byte(" "), 2*limit), Status: http.StatusRequestEntityTooLarge, Message: "body larger than max_request_body_size"},
		{Name: "wrong method", Method: http.MethodPut, Path: AgentBatchPath, Header: jsonCT,
			Body: []byte("{}"), Status: http.StatusMethodNotAllowed, Message: "method PUT not allowed: use POST"},
		{Name: "wrong content type", Method: http.MethodPost, Path: TelemetryPath, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: []byte("a=b"), Status: http.StatusUnsupportedMediaType, Message: "not supported: use application/json"},
		{Name: "gzip bomb", Method: http.MethodPost, Path: AgentBatchPath, Header: with("Content-Encoding", "gzip"),
			Body: hostiletest.GzipBomb(64 << 20), Status: http.StatusRequestEntityTooLarge, Message: "body larger than max_request_body_size"},
		{Name: "zstd bomb", Method: http.MethodPost, Path: TelemetryPath, Header: with("Content-Encoding", "zstd"),
			Body: hostiletest.ZstdBomb(64 << 20), Status: http.StatusRequestEntityTooLarge, Message: "body larger than max_request_body_size"},
		{Name: "truncated gzip", Method: http.MethodPost, Path: AgentBatchPath, Header: with("Content-Encoding", "gzip"),
			Body: truncated, Status: http.StatusBadRequest, Message: "read body"},
		{Name: "deep json", Method: http.MethodPost, Path: TelemetryPath, Header: jsonCT,
			Body: hostiletest.DeepJSON(100_000), Status: http.StatusBadRequest, Message: "body is not json"},
		{Name: "deep record", Method: http.MethodPost, Path: TelemetryPath, Header: jsonCT,
			Body:   []byte(`[{"time":"2026-03-01T10:00:00.000Z","type":"function","record":` + string(hostiletest.DeepJSON(10_000)) + `}]`),
			Status: http.StatusBadRequest, Message: "body is not json"},
	}
	ok := hostiletest.Case{Method: http.MethodPost, Path: AgentBatchPath, Header: jsonCT,
		Body: agentBody(t, 1, rawEvents(t, oneInvocation)), Status: http.StatusOK}
	hostiletest.Run(t, "http://"+addr, cases, ok)

	seq := int64(100)
	another := func() error {
		seq++
		body := agentBody(t, seq, rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, fmt.Sprintf(`"s%d"`, seq))))
		resp, err := http.Post("http://"+addr+AgentBatchPath, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if !hostiletest.Slowloris(t, addr, 20*time.Millisecond, 15*time.Second, another) {
		t.Fatal("a header trickled byte by byte held its connection past read_header_timeout")
	}
}
