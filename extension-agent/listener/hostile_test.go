package listener

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/hostiletest"
)

// TestHostileInput: the listener takes whatever reaches its port — Lambda, or anything else on the
// environment's loopback. Each hostile request gets its 4xx within hostiletest.Deadline (nothing of
// it reaches the sink), a header trickled byte by byte is cut at the 10 s header timeout, and
// Lambda's deliveries keep being accepted meanwhile.
func TestHostileInput(t *testing.T) {
	s := &sink{}
	srv, err := Listen("127.0.0.1", 0, NewHandler(s, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	json := map[string]string{"Content-Type": "application/json"}
	cases := []hostiletest.Case{
		{Name: "oversized body", Method: http.MethodPost, Path: "/telemetry", Header: json,
			Body: bytes.Repeat([]byte(" "), MaxBody+1), Status: http.StatusRequestEntityTooLarge, Message: "body too large"},
		{Name: "wrong method", Method: http.MethodPut, Path: "/telemetry", Header: json,
			Body: []byte("[]"), Status: http.StatusMethodNotAllowed, Message: "method not allowed"},
		{Name: "not json", Method: http.MethodPost, Path: "/telemetry", Header: map[string]string{"Content-Type": "text/plain"},
			Body: []byte("hello"), Status: http.StatusBadRequest, Message: "must be a JSON array of events"},
		// Lambda never compresses its POSTs: a compressed body is not JSON, whatever it inflates to.
		{Name: "gzip bomb", Method: http.MethodPost, Path: "/telemetry", Header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
			Body: hostiletest.GzipBomb(64 << 20), Status: http.StatusBadRequest, Message: "must be a JSON array of events"},
		{Name: "zstd bomb", Method: http.MethodPost, Path: "/telemetry", Header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "zstd"},
			Body: hostiletest.ZstdBomb(64 << 20), Status: http.StatusBadRequest, Message: "must be a JSON array of events"},
		{Name: "deep json", Method: http.MethodPost, Path: "/telemetry", Header: json,
			Body: hostiletest.DeepJSON(100_000), Status: http.StatusBadRequest, Message: "event 0: must be an object"},
	}
	event := func(i int) []byte {
		return []byte(fmt.Sprintf(`[{"time":"2026-03-01T10:00:00.000Z","type":"function","record":"line %d"}]`, i))
	}
	ok := hostiletest.Case{Method: http.MethodPost, Path: "/telemetry", Header: json, Body: event(0), Status: http.StatusOK}
	hostiletest.Run(t, "http://"+srv.Addr(), cases, ok)
	s.mu.Lock()
	n := len(s.events)
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("the sink holds %d events; want only the valid delivery's 1", n)
	}

	another := func() error {
		resp, err := http.Post("http://"+srv.Addr()+"/telemetry", "application/json", bytes.NewReader(event(1)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if !hostiletest.Slowloris(t, srv.Addr(), 50*time.Millisecond, 30*time.Second, another) {
		t.Fatal("a header trickled byte by byte held its connection past the listener's header timeout")
	}
}
